//! `report.md`, `report.html` and their SVG plots, computed from a run
//! directory's rows.jsonl and environment.json only. The page is a
//! handout: first a summary that answers "when does blocking win, when
//! does async win, and why" with five figures, then a glossary, the
//! claims re-judged, and then the detail: the environment, each
//! scenario's own section (plot, table, sentences whose figures come from
//! the rows; see `scenario/`), the blocking node's targets (met or not
//! met), and the failed points.

mod claims;
mod compare;
mod environment;
pub mod figures;
mod glossary;
mod html;
pub mod page;
pub mod query;
mod settings;
mod summary;
mod targets;
pub mod units;

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::rows::{self, Row};
use crate::scenario;
use query::{Rows, errors_of};

/// Writes DIR/report.md, DIR/*.svg and DIR/report.html (a soak's
/// directory, with soak.jsonl and no rows.jsonl: its soak.md and charts).
pub fn write(dir: &Path) -> Result<()> {
    if dir.join("soak.jsonl").exists() && !dir.join("rows.jsonl").exists() {
        return crate::soak::write_report(dir);
    }
    let rows = rows::read(&dir.join("rows.jsonl"))?;
    let env: Value = match std::fs::read_to_string(dir.join("environment.json")) {
        Ok(text) => serde_json::from_str(&text).context("environment.json is not JSON")?,
        Err(_) => Value::Null,
    };
    let md = render(dir, &rows, &env);
    let path = dir.join("report.md");
    std::fs::write(&path, &md).with_context(|| format!("cannot write {}", path.display()))?;
    html::write(dir, &md)
}

/// The whole page (plots are written into `dir` on the way).
pub fn render(dir: &Path, all: &[Row], env: &Value) -> String {
    let rows = Rows { all };
    let mut md = String::new();
    let mode = env.get("mode").and_then(Value::as_str).unwrap_or("unknown");
    let _ = writeln!(md, "# herd benchmark lab: {mode} run\n");
    page::para(
        &mut md,
        "Every figure on this page comes from `rows.jsonl` in this directory (one row per \
         measured point, with the exact commands); `herd-lab report DIR` rewrites this page, \
         `report.html` beside it (one file, plots included) and the plots from it. Latencies \
         are herd-loadgen's, of good answers only (a wrong answer is an error). The summary \
         comes first, then a glossary, the claims re-judged, and the detail of every scenario.",
    );
    summary::section(dir, &mut md, &rows, env);
    glossary::section(&mut md);
    claims::section(&mut md, &rows, env);
    let _ = writeln!(md, "## Detail\n");
    page::para(
        &mut md,
        "Read every figure against the **echo limit**: herd-loadgen's own echo servers \
         (`echo_threads`: a thread per connection; `echo_tokio`: a tokio task per connection), \
         which answer an IAMAT with an AT line and do nothing else, measured with the same load \
         on the same machine.",
    );
    environment::section(&mut md, env, all);
    if mode == "quick" {
        page::para(
            &mut md,
            "_A quick run: few points, 1.5 s each, on a machine whose two cores the servers, \
             the load generator and anything else running share. Repeated quick runs here have \
             differed by up to 2x on single points; quote figures from a full run._",
        );
    }
    for sc in scenario::ALL {
        sc.report(dir, &mut md, &rows);
    }
    targets::section(&mut md, &rows);
    failures(&mut md, all);
    md
}

fn failures(md: &mut String, all: &[Row]) {
    let failed: Vec<&Row> = all.iter().filter(|r| !r.ok()).collect();
    let with_errors: Vec<&Row> = all
        .iter()
        .filter(|r| r.ok() && errors_of(r) > 0.0)
        .collect();
    if failed.is_empty() && with_errors.is_empty() {
        let _ = writeln!(
            md,
            "## Failures\n\nNone: every point ran, and herd-loadgen counted no error.\n"
        );
        return;
    }
    let _ = writeln!(md, "## Failures\n");
    for r in failed {
        let first = r
            .error
            .as_deref()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("");
        let _ = writeln!(
            md,
            "- {} {} {}: failed: `{first}`",
            r.scenario, r.build, r.point
        );
    }
    for r in with_errors {
        let _ = writeln!(
            md,
            "- {} {} {}: {} errors {}",
            r.scenario,
            r.build,
            r.point,
            errors_of(r),
            r.loadgen
                .get("errors")
                .map_or(String::new(), Value::to_string)
        );
    }
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixture")
    }

    #[test]
    fn the_report_of_a_fixture_run_has_every_section_and_its_plots() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["rows.jsonl", "environment.json"] {
            std::fs::copy(fixture().join(f), dir.path().join(f)).expect("copy fixture");
        }
        write(dir.path()).expect("report");
        let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
        for heading in [
            "# herd benchmark lab",
            "## Summary: when does blocking win",
            "## Glossary",
            "## The claims, re-judged",
            "## Detail",
            "## Environment",
            "## 1. IAMAT throughput",
            "### The whole herd",
            "## 2. WHATSAT",
            "## 3. Idle hoarders",
            "## 4. Memory",
            "## 5. CPU per 1,000 requests",
            "## 6. Blocking pool size",
            "## 7. Flood propagation",
            "## 8. What a durable store costs",
            "## Targets",
        ] {
            assert!(md.contains(heading), "report lacks {heading:?}");
        }
        for svg in [
            "iamat_throughput.svg",
            "iamat_p99.svg",
            "whatsat_50ms.svg",
            "hoarders.svg",
            "memory.svg",
            "threads_sweep.svg",
            "store_cost.svg",
        ] {
            assert!(
                md.contains(&format!("]({svg})")),
                "report does not show {svg}"
            );
            let text = std::fs::read_to_string(dir.path().join(svg)).expect(svg);
            assert!(text.starts_with("<svg"), "{svg} is not SVG");
        }
        // Sentences carry measured figures.
        assert!(md.contains("At 64 connections: blocking"), "{md}");
        assert!(md.contains("of the thread echo"));
        assert!(md.contains("| tokio | always |"), "{md}");
        assert!(md.contains("without a store; `always`"), "{md}");
        assert!(md.contains("**met**") || md.contains("**not met**"));
        assert!(!md.contains("NaN"));
    }

    #[test]
    fn report_html_carries_every_plot_inline_and_points_nowhere_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        for f in ["rows.jsonl", "environment.json"] {
            std::fs::copy(fixture().join(f), dir.path().join(f)).expect("copy fixture");
        }
        write(dir.path()).expect("report");
        let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
        let html = std::fs::read_to_string(dir.path().join("report.html")).expect("report.html");
        let pictures = md.lines().filter(|l| l.starts_with("![")).count();
        assert!(pictures >= 8, "{pictures} pictures");
        assert_eq!(html.matches("<svg class=\"plot\"").count(), pictures);
        assert!(
            !html.contains("](") && !html.contains(".svg"),
            "a picture left as a link"
        );
        for external in [
            "src=", "href=", "<link", "url(", "@import", "http:", "https:",
        ] {
            assert!(
                !html.contains(external),
                "report.html contains {external:?}"
            );
        }
        assert!(html.contains("<h2 id=\"glossary\">Glossary</h2>"));
        assert!(html.contains("<table>") && !html.contains("NaN"));
    }

    #[test]
    fn a_run_with_no_rows_says_so_in_every_section() {
        let dir = tempfile::tempdir().expect("tempdir");
        let md = render(dir.path(), &[], &Value::Null);
        assert_eq!(md.matches("_Not run._").count(), 10, "{md}");
        assert!(md.contains("_No row with requests in this run._"), "{md}");
        assert!(md.contains("None: every point ran"), "{md}");
    }
}
