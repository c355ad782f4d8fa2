//! The report's "Environment" table: the machine and software a run
//! measured (from environment.json) and how often each point was
//! measured, so a figure is read against where it was taken; then what
//! each build ran with (`settings.rs`).

use std::fmt::Write as _;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::report::settings;
use crate::rows::Row;

fn pinning(env: &Value) -> String {
    env.get("pinning").map_or("–".into(), |p| {
        let sc = p.get("server_cpus").and_then(Value::as_str);
        let lc = p.get("loadgen_cpus").and_then(Value::as_str);
        if sc.is_none() && lc.is_none() {
            "none (servers and load generator share every core)".into()
        } else {
            let herd = match sc {
                Some(list) if crate::builds::cpu_count(list) >= crate::point::HERD_PIN_MIN => "too",
                _ => "any",
            };
            format!(
                "servers: {} (the herd scenarios' five servers: {herd}), load generator: {}",
                sc.unwrap_or("any"),
                lc.unwrap_or("any")
            )
        }
    })
}

pub fn section(md: &mut String, env: &Value, all: &[Row]) {
    let _ = writeln!(md, "## Environment\n\n| | |\n|---|---|");
    let s = |k: &str| match env.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "–".into(),
        Some(v) => v.to_string(),
    };
    let mem = env
        .get("mem_total_kb")
        .and_then(Value::as_f64)
        .map_or("–".into(), |k| format!("{:.1} GiB", k / 1024.0 / 1024.0));
    let commit = format!(
        "{}{}",
        s("git_commit"),
        if env.get("git_dirty").and_then(Value::as_bool) == Some(true) {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    let failed = all.iter().filter(|r| !r.ok()).count();
    let distinct: BTreeSet<(&str, &str, &str)> = all
        .iter()
        .map(|r| (r.scenario.as_str(), r.build.as_str(), r.point.as_str()))
        .collect();
    let repeats = all.iter().map(|r| r.repeat).max().unwrap_or(1);
    let repeats_text = if repeats > 1 {
        format!(
            "{repeats}, interleaved (each round runs every build of a point once); figures are \
             medians with their min–max range"
        )
    } else {
        "1 (each point measured once: figures are single measurements, their spread unknown)"
            .to_owned()
    };
    for (k, v) in [
        ("mode", s("mode")),
        ("CPU", s("cpu_model")),
        ("cores", s("cores")),
        ("memory", mem),
        ("kernel", s("kernel")),
        ("rustc", s("rustc")),
        ("Python", s("python")),
        ("Node.js", s("node")),
        ("herd-loadgen", s("loadgen")),
        ("git commit", commit),
        ("pinning (taskset)", pinning(env)),
        ("open-files limit", s("nofile_limit")),
        ("points", distinct.len().to_string()),
        ("repeats of each point", repeats_text),
        ("measurements", format!("{} ({} failed)", all.len(), failed)),
        ("measuring took", format!("{} s", s("measure_seconds"))),
        ("started", s("captured_at")),
    ] {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    md.push('\n');
    settings::section(md, all);
}
