//! `herd-lab soak`: one build at a time, the five-server herd runs for a
//! bounded time under steady load, churn, idle hoarders and slowloris
//! tricklers at once, while its servers' RSS, fds and threads are sampled;
//! they must stay flat, every load must be answered, and every server must
//! still answer at the end.
//!
//! - `run`: the subcommand end to end (arguments, each build in turn,
//!   soak.jsonl, the report, the exit status);
//! - `config`: what a soak does to each build;
//! - `build`: one build's soak (start, load, watch, probe, verdicts);
//! - `check`: the verdicts as pure functions of the figures;
//! - `report`: soak.jsonl's lines, and soak.md and the charts made from it.

mod build;
mod check;
mod config;
mod report;
mod run;

pub use report::write as write_report;
pub use run::soak;
