//! The machine and software a run measured, written once per run as
//! `environment.json`: without it a figure cannot be compared with another
//! run's (CPU model, cores, kernel, toolchain versions, git commit,
//! pinning, quick or full).

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use herd_launch::Paths;

use crate::builds::Programs;

fn first_line(program: &str, args: &[&str], cwd: &Path) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
}

fn cpuinfo() -> (Option<String>, usize) {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = text
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned());
    let count = text.lines().filter(|l| l.starts_with("processor")).count();
    (model, count)
}

fn mem_total_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Everything about the machine and the software under test.
pub fn capture(paths: &Paths, quick: bool, pinning: &Value, nofile: Option<u64>) -> Value {
    let root = &paths.root;
    let (model, cores) = cpuinfo();
    let python = root.join("compare/asyncio/.venv/bin/python");
    let python_version = if python.exists() {
        first_line(&python.display().to_string(), &["--version"], root)
    } else {
        first_line("python3", &["--version"], root)
    };
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .ok()
        .map(|o| !o.stdout.is_empty());
    json!({
        "mode": if quick { "quick" } else { "full" },
        "cpu_model": model,
        "cores": cores,
        "available_parallelism": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "mem_total_kb": mem_total_kb(),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned()),
        "rustc": first_line("rustc", &["--version"], root),
        "python": python_version,
        "node": first_line("node", &["--version"], root),
        "git_commit": first_line("git", &["rev-parse", "HEAD"], root),
        "git_dirty": dirty,
        "pinning": pinning,
        "nofile_limit": nofile,
        "loadgen": first_line(&paths.loadgen(), &["--version"], root),
        "captured_at": crate::rows::now_utc(),
    })
}
