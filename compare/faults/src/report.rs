//! Results: one row per fault, appended to `results.jsonl` as soon as it is
//! known (an interrupted run keeps what it measured), a table on stdout, and
//! `summary.md` with every row and the convergence times per build and
//! scenario.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::checker::SyncMode;
use crate::scenarios::{STORES, WARM_UP};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    pub build: String,
    pub scenario: String,
    pub fault: String,
    /// IAMATs sent and acked (AT answer received) while the fault was on.
    pub sent: u64,
    pub acked: u64,
    /// Ids not settled within the bound (0 when nothing was lost).
    pub lost: usize,
    /// Ids whose newest ack came from a server within `ledger::AT_KILL` of
    /// its kill (not required to survive; README "What it does not promise").
    #[serde(default)]
    pub at_kill: usize,
    /// Of those, how many the herd did not keep (the kill took them).
    #[serde(default)]
    pub lost_at_kill: usize,
    /// Ids on which the servers still up differed right after the writers
    /// stopped (before the heal): nonzero shows the fault really split them.
    pub diverged: usize,
    /// Seconds from the fault to its heal.
    pub fault_on_s: f64,
    /// Writers stopped -> the surviving components agree.
    pub survivors_converge_s: Option<f64>,
    /// Heal -> the whole herd agrees (first all-good poll round's end).
    pub converge_s: Option<f64>,
    /// Longest poll round: the resolution of the times.
    pub resolution_s: f64,
    pub pass: bool,
    /// Not-good ids when something failed, or an error.
    pub note: String,
    /// The store scenario: the servers' `--store-sync` mode.
    #[serde(default)]
    pub sync: Option<String>,
    /// The store scenario: kill -> every server answering again.
    #[serde(default)]
    pub recovery_s: Option<f64>,
    /// The store scenario: acked updates the herd did not keep (its agreed
    /// line is older), in all ...
    #[serde(default)]
    pub updates_lost: Option<usize>,
    /// ... and of those, the ones the sync mode promised to keep.
    #[serde(default)]
    pub updates_lost_promised: Option<usize>,
}

pub fn append(path: &Path, row: &Row) -> Result<()> {
    let mut f = File::options().create(true).append(true).open(path)?;
    writeln!(f, "{}", serde_json::to_string(row)?)?;
    Ok(())
}

/// `taken/open` for the acks at a kill, `-` when there were none.
pub fn at_kill(r: &Row) -> String {
    if r.at_kill == 0 {
        "-".into()
    } else {
        format!("{}/{}", r.lost_at_kill, r.at_kill)
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.2}"))
}

/// The measured columns both tables show, in this order.
const MEASURES: [&str; 9] = [
    "sent", "acked", "lost", "at kill", "split", "surv s", "conv s", "res s", "pass",
];

/// Widths of [`MEASURES`] in the text table (right-aligned).
const MEASURE_WIDTHS: [usize; 9] = [6, 6, 4, 7, 5, 7, 7, 6, 0];

/// One row's [`MEASURES`].
fn measures(r: &Row) -> [String; 9] {
    [
        r.sent.to_string(),
        r.acked.to_string(),
        r.lost.to_string(),
        at_kill(r),
        r.diverged.to_string(),
        secs(r.survivors_converge_s),
        secs(r.converge_s),
        format!("{:.2}", r.resolution_s),
        if r.pass { "ok" } else { "FAIL" }.into(),
    ]
}

/// One line of the text table.
fn text_line(build: &str, scenario: &str, fault: &str, cells: &[impl AsRef<str>]) -> String {
    let mut line = format!("{build:<9} {scenario:<10} {fault:<34}");
    for (cell, width) in cells.iter().zip(MEASURE_WIDTHS) {
        let _ = write!(line, " {:>width$}", cell.as_ref());
    }
    line.push('\n');
    line
}

pub fn table(rows: &[Row]) -> String {
    let mut s = text_line("build", "scenario", "fault", &MEASURES);
    for r in rows {
        s += &text_line(&r.build, &r.scenario, &r.fault, &measures(r));
    }
    s
}

/// summary.md: the verdict, convergence per build and scenario, every row.
/// `errors`: scenarios that could not run at all (each fails the run).
pub fn summary(rows: &[Row], header: &str, errors: usize) -> String {
    let failed = rows.iter().filter(|r| !r.pass).count();
    let mut s = format!("# Fault harness run\n\n{header}\n\n");
    let _ = writeln!(
        s,
        "**{}**: {} faults, {} failed, {} ids lost in all{}.\n",
        if failed == 0 && errors == 0 {
            "PASS"
        } else {
            "FAIL"
        },
        rows.len(),
        failed,
        rows.iter().map(|r| r.lost).sum::<usize>(),
        if errors > 0 {
            format!("; {errors} scenario runs could not run (ERROR above)")
        } else {
            String::new()
        }
    );
    // The store scenario's window is its sync mode's promise (its own table).
    let flood = || rows.iter().filter(|r| r.scenario != STORES);
    let _ = writeln!(
        s,
        "Acked within {} ms of their server's kill (not required to survive): {}, of which the kill took {}.\n",
        crate::ledger::AT_KILL.as_millis(),
        flood().map(|r| r.at_kill).sum::<usize>(),
        flood().map(|r| r.lost_at_kill).sum::<usize>()
    );
    s += "## Convergence time per build and scenario (seconds, heal -> all servers agree)\n\n";
    s += "Over the faults (not the warm-up). Resolution: the longest poll round.\n\n";
    s += "| build | scenario | faults | failed | median | max | resolution |\n|---|---|---|---|---|---|---|\n";
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        let k = (r.build.clone(), r.scenario.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (b, sc) in &keys {
        let group: Vec<&Row> = rows
            .iter()
            .filter(|r| &r.build == b && &r.scenario == sc && r.fault != WARM_UP)
            .collect();
        let failed = group.iter().filter(|r| !r.pass).count();
        let mut times: Vec<f64> = group.iter().filter_map(|r| r.converge_s).collect();
        times.sort_by(f64::total_cmp);
        // The lower median: with two faults, the faster one, not the max.
        let median = times.get(times.len().saturating_sub(1) / 2).copied();
        let max = times.last().copied();
        let res = group.iter().map(|r| r.resolution_s).fold(0.0, f64::max);
        let _ = writeln!(
            s,
            "| {b} | {sc} | {} | {failed} | {} | {} | {res:.2} |",
            group.len(),
            secs(median),
            secs(max)
        );
    }
    stores_section(&mut s, rows);
    s += "\n## Every fault\n\n";
    s += "`split`: ids on which the servers still up differed when the writers stopped (the fault was real). ";
    s += "`survivors s`: writers stopped -> each connected group of servers still up agrees. ";
    s += "`converge s`: heal -> the whole herd agrees.\n\n";
    s += "`on s`: the fault's length, from applied to healed. ";
    s += "`at kill`: ids whose newest ack came from a server within the kill window of its kill, as taken/all ";
    s += "(a server answers before its flood leaves, so a kill may take such an update; it is not counted as lost); ";
    s += "for `stores`, ids whose newest ack its sync mode does not promise.\n\n";
    s += "| build | scenario | fault | on s | sent | acked | lost | at kill | split | survivors s | converge s | res s | pass | note |\n";
    s += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {} | {} |",
            r.build,
            r.scenario,
            r.fault.replace('|', "/"),
            r.fault_on_s,
            measures(r).join(" | "),
            r.note.replace('|', "/")
        );
    }
    s
}

fn count(v: Option<usize>) -> String {
    v.map_or("-".into(), |n| n.to_string())
}

/// The store scenario's table: per build and sync mode, what was acked,
/// what was lost (beyond the promise, in all), recovery and convergence.
fn stores_section(s: &mut String, rows: &[Row]) {
    let crashes: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario == STORES && r.fault != WARM_UP)
        .collect();
    if crashes.is_empty() {
        return;
    }
    *s += "\n## Stores: every server killed at once (`stores`)\n\n";
    *s += "Every server keeps a store (PROTOCOL §8) in a fresh directory; writers write, every server gets \
           SIGKILL at once, all are started again on their stores. `lost, promised`: acked updates the \
           herd did not keep although the sync mode promises them (fails the row); `lost, all`: every \
           acked update it did not keep (one superseded by a newer kept update is not lost). \
           `recovery s`: kill -> every server answering again (the five restart one after another); \
           `converge s`: restart -> every server holds the same line, at least the newest promised ack, \
           for every id. `unpromised ids`: ids whose newest ack the mode does not promise, as lost/all.\n\n";
    *s += "| build | sync | promise | acked | lost, promised | lost, all | unpromised ids | recovery s | converge s | res s | pass |\n";
    *s += "|---|---|---|---|---|---|---|---|---|---|---|\n";
    for r in crashes {
        let sync = r.sync.as_deref().unwrap_or("-");
        let promise = SyncMode::parse(sync).map_or("-", SyncMode::promise);
        let _ = writeln!(
            s,
            "| {} | {sync} | {promise} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            r.build,
            r.acked,
            count(r.updates_lost_promised),
            count(r.updates_lost),
            at_kill(r),
            secs(r.recovery_s),
            secs(r.converge_s),
            r.resolution_s,
            if r.pass { "ok" } else { "FAIL" }
        );
    }
}

/// Reads the rows of `results.jsonl`.
pub fn read(path: &Path) -> Result<Vec<Row>> {
    fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}

/// The header paragraph of an existing summary.md (the run's settings).
pub fn header_of(summary_md: &str) -> Option<String> {
    let body = summary_md.split_once("\n\n")?.1;
    Some(body.split("\n\n**").next()?.trim().to_string())
}

pub fn write_summary(dir: &Path, rows: &[Row], header: &str, errors: usize) -> Result<()> {
    fs::write(dir.join("summary.md"), summary(rows, header, errors))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(build: &str, conv: Option<f64>, pass: bool) -> Row {
        Row {
            build: build.into(),
            scenario: "kill".into(),
            fault: "kill -9 Clark".into(),
            sent: 10,
            acked: 9,
            lost: usize::from(!pass),
            at_kill: 0,
            lost_at_kill: 0,
            diverged: 3,
            fault_on_s: 5.0,
            survivors_converge_s: None,
            converge_s: conv,
            resolution_s: 0.05,
            pass,
            note: String::new(),
            sync: None,
            recovery_s: None,
            updates_lost: None,
            updates_lost_promised: None,
        }
    }

    #[test]
    fn summary_says_fail_when_a_row_failed() {
        let mut warm = row("tokio", Some(9.0), true);
        warm.fault = WARM_UP.into();
        let rows = [
            warm,
            row("tokio", Some(0.5), true),
            row("tokio", None, false),
        ];
        let s = summary(&rows, "h", 0);
        assert!(s.contains("**FAIL**: 3 faults, 1 failed, 1 ids lost"));
        // The warm-up's 9 s is not a fault's convergence time.
        assert!(
            s.contains("| tokio | kill | 2 | 1 | 0.50 | 0.50 | 0.05 |"),
            "{s}"
        );
        assert!(summary(&rows[..1], "h", 0).contains("**PASS**"));
        assert!(summary(&rows[..1], "h", 1).contains("**FAIL**"));
        assert!(s.contains("kill (not required to survive): 0, of which the kill took 0."));
        assert_eq!(header_of(&s).as_deref(), Some("h"));
    }

    #[test]
    fn rows_round_trip_as_json() {
        let r = row("node", Some(1.25), true);
        let back: Row = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.converge_s, Some(1.25));
        assert!(table(&[r]).contains(" ok"));
    }

    #[test]
    fn acks_at_a_kill_show_as_taken_over_all_and_old_rows_still_read() {
        let mut r = row("asyncio", Some(0.1), true);
        r.at_kill = 3;
        r.lost_at_kill = 1;
        assert!(
            table(&[r.clone()]).contains(" 1/3 "),
            "{}",
            table(&[r.clone()])
        );
        let s = summary(&[r.clone()], "h", 0);
        assert!(s.contains("| 0 | 1/3 |"), "{s}");
        assert!(s.contains(": 3, of which the kill took 1."), "{s}");
        // Rows written before these fields existed read as none at a kill.
        let mut v = serde_json::to_value(&r).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("at_kill");
        o.remove("lost_at_kill");
        let old: Row = serde_json::from_value(v).unwrap();
        assert_eq!((old.at_kill, old.lost_at_kill), (0, 0));
        assert!(table(&[old]).contains("    - "));
    }

    #[test]
    fn store_rows_get_their_own_table() {
        let plain = summary(&[row("tokio", Some(0.5), true)], "h", 0);
        assert!(!plain.contains("## Stores"), "{plain}");
        let mut warm = row("blocking", Some(0.1), true);
        warm.scenario = STORES.into();
        warm.fault = WARM_UP.into();
        warm.sync = Some("always".into());
        let mut crash = row("blocking", Some(0.31), true);
        crash.scenario = STORES.into();
        crash.fault = "kill -9 all five, restart (sync everysec)".into();
        crash.acked = 598;
        crash.sync = Some("everysec".into());
        crash.recovery_s = Some(0.42);
        crash.updates_lost = Some(0);
        crash.updates_lost_promised = Some(0);
        crash.at_kill = 7;
        let s = summary(&[warm, crash.clone()], "h", 0);
        assert!(s.contains("## Stores: every server killed at once"), "{s}");
        assert!(
            s.contains(
                "| blocking | everysec | acked > 1 s before the kill kept | 598 | 0 | 0 | 0/7 | 0.42 | 0.31 | 0.05 | ok |"
            ),
            "{s}"
        );
        assert_eq!(
            s.matches("| blocking | everysec |").count(),
            1,
            "no warm-up row"
        );
        // Older rows, without the store fields, still read.
        let mut v = serde_json::to_value(&crash).unwrap();
        let o = v.as_object_mut().unwrap();
        for k in [
            "sync",
            "recovery_s",
            "updates_lost",
            "updates_lost_promised",
        ] {
            o.remove(k);
        }
        let old: Row = serde_json::from_value(v).unwrap();
        assert_eq!(
            (old.sync, old.recovery_s, old.updates_lost),
            (None, None, None)
        );
    }
}
