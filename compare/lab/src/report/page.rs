//! The pieces every section of report.md is written with: a heading that
//! says "_Not run._" when a scenario has no rows, markdown tables, a line
//! per build in a chart (its medians over repeats, with min–max error
//! bars), and a chart written as SVG (or a note saying why there is none).

use std::fmt::Write as _;
use std::path::Path;

use crate::plots::{self, Chart, Series, style_of};
use crate::report::query::Rows;
use crate::report::query::Spread;
use crate::rows::Row;

/// Writes `heading`; when `ran` is false adds "_Not run._" and returns
/// false (the section ends there).
pub fn section(md: &mut String, heading: &str, ran: bool) -> bool {
    let _ = writeln!(md, "{heading}\n");
    if !ran {
        let _ = writeln!(md, "_Not run._\n");
    }
    ran
}

/// A paragraph: the text, then a blank line.
pub fn para(md: &mut String, text: &str) {
    let _ = writeln!(md, "{text}\n");
}

/// A table's header row and its separator.
pub fn head(md: &mut String, columns: &[&str]) {
    let _ = writeln!(
        md,
        "| {} |\n|{}",
        columns.join(" | "),
        "---|".repeat(columns.len())
    );
}

/// One table row.
pub fn row(md: &mut String, cells: &[String]) {
    let _ = writeln!(md, "| {} |", cells.join(" | "));
}

/// The line of `name` (a build or echo server, in its colour and with
/// its marker).
pub fn series(name: &str, points: Vec<(f64, f64)>, dashed: bool) -> Series {
    let (color, marker) = style_of(name);
    Series {
        name: name.to_owned(),
        points,
        dashed,
        color,
        marker,
        ranges: Vec::new(),
    }
}

/// The line of `name` through points measured over repeats: each point at
/// its median, with an error bar from min to max where there was more than
/// one repeat.
pub fn spread_series(name: &str, points: &[(f64, Spread)], dashed: bool) -> Series {
    let mut s = series(
        name,
        points.iter().map(|(x, y)| (*x, y.median)).collect(),
        dashed,
    );
    s.ranges = points
        .iter()
        .filter(|(_, y)| y.n > 1)
        .map(|(x, y)| (*x, y.min, y.max))
        .collect();
    s
}

/// A solid line per build of `scenario`: for each value of `param` in
/// `xs`, the repeats of the point with that value (and the `fixed`
/// parameters), each drawn at `point(row)`; the line goes through the
/// median y of the repeats, with their range as an error bar.
pub fn lines_by_build(
    rows: &Rows<'_>,
    scenario: &str,
    (param, xs): (&str, &[f64]),
    fixed: &[(&str, f64)],
    point: impl Fn(&Row) -> Option<(f64, f64)>,
) -> Vec<Series> {
    builds_of(rows, scenario)
        .into_iter()
        .map(|b| {
            let points: Vec<(f64, Spread)> = xs
                .iter()
                .filter_map(|x| {
                    let mut want = vec![(param, *x)];
                    want.extend_from_slice(fixed);
                    let at: Vec<(f64, f64)> = rows
                        .repeats(b, scenario, &want)
                        .into_iter()
                        .filter_map(&point)
                        .collect();
                    let x = at.first()?.0;
                    Some((x, Spread::of(at.iter().map(|p| p.1))?))
                })
                .collect();
            spread_series(b, &points, false)
        })
        .collect()
}

/// The builds (then echo servers) with rows in `scenario`, in report
/// order, `blocking-tpc` included.
pub fn builds_of(rows: &Rows<'_>, scenario: &str) -> Vec<&'static str> {
    let list = rows.of(scenario);
    crate::report::figures::report_builds()
        .into_iter()
        .chain(crate::builds::ECHOES)
        .filter(|b| list.iter().any(|r| r.build == *b))
        .collect()
}

/// Writes a chart, or says in the report why there is none; true when
/// the chart was written.
pub fn plot(dir: &Path, md: &mut String, file: &str, chart: &Chart) -> bool {
    let nonempty = chart.series.iter().any(|s| !s.points.is_empty());
    if !nonempty {
        let _ = writeln!(md, "_No data for this plot in this run._\n");
        return false;
    }
    match plots::line_chart(&dir.join(file), chart) {
        Ok(()) => {
            let _ = writeln!(md, "![{}]({file})\n", chart.title);
            true
        }
        Err(e) => {
            let _ = writeln!(md, "_Plot {file} failed: {e:#}._\n");
            false
        }
    }
}

/// "a, b, c", or "–" when there is nothing.
pub fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "–".into()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_sections_are_markdown() {
        let mut md = String::new();
        head(&mut md, &["build", "req/s"]);
        row(&mut md, &["blocking".into(), "1,000".into()]);
        assert_eq!(md, "| build | req/s |\n|---|---|\n| blocking | 1,000 |\n");
        let mut md = String::new();
        assert!(!section(&mut md, "## X", false));
        assert_eq!(md, "## X\n\n_Not run._\n\n");
        assert_eq!(list_or_dash(&[]), "–");
    }
}
