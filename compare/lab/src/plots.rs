//! SVG line charts for the report (plotters, SVG backend only): one chart
//! type, x/y linear or logarithmic, solid or dashed series with a legend,
//! and horizontal reference lines (echo ceilings, threads/latency bounds).

use std::path::Path;

use anyhow::{Result, bail};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    /// Index into [`COLORS`] (the same build keeps its colour everywhere).
    pub color: usize,
}

/// A horizontal reference line.
#[derive(Debug, Clone)]
pub struct HLine {
    pub name: String,
    pub y: f64,
    pub color: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
    pub hlines: Vec<HLine>,
    /// Names of the x positions 0, 1, 2, ... (a categorical axis: only
    /// those positions are labelled); empty: numbers.
    pub x_names: Vec<String>,
}

pub const COLORS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),   // blocking: red
    RGBColor(31, 119, 180),  // tokio: blue
    RGBColor(44, 160, 44),   // asyncio: green
    RGBColor(148, 103, 189), // node: purple
    RGBColor(90, 90, 90),    // echo_threads: grey
    RGBColor(23, 190, 207),  // echo_tokio: cyan
    RGBColor(255, 127, 14),  // orange
    RGBColor(140, 86, 75),   // brown
];

/// The colour index of a build or echo server.
pub fn color_of(build: &str) -> usize {
    match build {
        "blocking" => 0,
        "tokio" => 1,
        "asyncio" => 2,
        "node" => 3,
        "echo_threads" => 4,
        "echo_tokio" => 5,
        _ => 6,
    }
}

fn range(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let v: Vec<f64> = values
        .filter(|x| x.is_finite() && (!log || *x > 0.0))
        .collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    Some(if log {
        // Whole decades, so the axis always has labelled ticks.
        let a = 10f64.powf(lo.log10().floor());
        let mut b = 10f64.powf(hi.log10().ceil());
        if b <= a {
            b = a * 10.0;
        }
        (a, b)
    } else {
        let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.05).max(1e-9);
        (
            (lo - pad)
                .min(0.0)
                .max(if lo >= 0.0 { 0.0 } else { lo - pad }),
            hi + pad,
        )
    })
}

/// An axis label: no needless decimals, thousands as "k".
fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        format!("{}k", trim(v / 1000.0))
    } else {
        trim(v)
    }
}

/// The name of x position `v` on a categorical axis ("" between names).
fn category(names: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    names.get(i as usize).cloned().unwrap_or_default()
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Writes `chart` to `path` as SVG.
pub fn line_chart(path: &Path, chart: &Chart) -> Result<()> {
    let xs = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(chart.hlines.iter().map(|h| h.y));
    let (Some((x0, x1)), Some((y0, y1))) = (range(xs, chart.log_x), range(ys, chart.log_y)) else {
        bail!("chart {:?} has no data", chart.title);
    };
    // A categorical axis: every named position, with room at both ends.
    let (x0, x1) = if chart.x_names.is_empty() {
        (x0, x1)
    } else {
        (-0.4, chart.x_names.len() as f64 - 0.6)
    };
    let root = SVGBackend::new(path, (820, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    match (chart.log_x, chart.log_y) {
        (false, false) => draw(&root, chart, x0..x1, y0..y1)?,
        (true, false) => draw(&root, chart, (x0..x1).log_scale(), y0..y1)?,
        (false, true) => draw(&root, chart, x0..x1, (y0..y1).log_scale())?,
        (true, true) => draw(&root, chart, (x0..x1).log_scale(), (y0..y1).log_scale())?,
    }
    root.present()?;
    Ok(())
}

fn draw<X, Y>(root: &DrawingArea<SVGBackend<'_>, Shift>, chart: &Chart, x: X, y: Y) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    let x_tick = |v: &f64| {
        if chart.x_names.is_empty() {
            tick(*v)
        } else {
            category(&chart.x_names, *v)
        }
    };
    let mut mesh = ctx.configure_mesh();
    mesh.x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .light_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&x_tick)
        .y_label_formatter(&|v: &f64| tick(*v));
    if !chart.x_names.is_empty() {
        // One label per whole position (the range starts at 0).
        mesh.x_labels(chart.x_names.len());
    }
    mesh.draw()?;
    let (xa, xb) = {
        let r = ctx.x_range();
        (r.start, r.end)
    };
    for s in &chart.series {
        let color = COLORS[s.color % COLORS.len()];
        let style = color.stroke_width(2);
        let mut pts = s.points.clone();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if s.dashed {
            ctx.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        } else {
            ctx.draw_series(LineSeries::new(pts.clone(), style))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        ctx.draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    for h in &chart.hlines {
        let color = COLORS[h.color % COLORS.len()];
        ctx.draw_series(DashedLineSeries::new(
            vec![(xa, h.y), (xb, h.y)],
            3,
            4,
            color.stroke_width(1),
        ))?
        .label(h.name.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1)));
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_written_in_every_scale() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (i, (lx, ly)) in [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .enumerate()
        {
            let path = dir.path().join(format!("c{i}.svg"));
            let chart = Chart {
                title: "t".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                log_x: lx,
                log_y: ly,
                series: vec![Series {
                    name: "blocking".into(),
                    points: vec![(1.0, 10.0), (64.0, 1000.0)],
                    dashed: i % 2 == 0,
                    color: 0,
                }],
                hlines: vec![HLine {
                    name: "bound".into(),
                    y: 500.0,
                    color: 4,
                }],
                x_names: Vec::new(),
            };
            line_chart(&path, &chart).expect("chart");
            let svg = std::fs::read_to_string(&path).expect("svg");
            assert!(svg.starts_with("<svg") && svg.contains("blocking"));
        }
        let empty = Chart::default();
        assert!(line_chart(&dir.path().join("e.svg"), &empty).is_err());
    }

    #[test]
    fn a_categorical_axis_names_its_positions() {
        let names: Vec<String> = ["none", "never", "always"].map(String::from).to_vec();
        assert_eq!(category(&names, 0.0), "none");
        assert_eq!(category(&names, 2.0), "always");
        assert_eq!(category(&names, 0.5), "");
        assert_eq!(category(&names, 3.0), "");
        assert_eq!(category(&names, -1.0), "");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cat.svg");
        let chart = Chart {
            title: "t".into(),
            x_label: "store".into(),
            y_label: "requests/s".into(),
            series: vec![Series {
                name: "tokio".into(),
                points: vec![(0.0, 900.0), (1.0, 800.0), (2.0, 100.0)],
                dashed: false,
                color: 1,
            }],
            x_names: names,
            ..Chart::default()
        };
        line_chart(&path, &chart).expect("chart");
        let svg = std::fs::read_to_string(&path).expect("svg");
        for name in ["none", "never", "always"] {
            assert!(
                svg.contains(&format!("\n{name}\n")),
                "{name} not on the axis"
            );
        }
    }
}
