//! SVG charts for the report (plotters, SVG backend only): one chart type,
//! x/y linear or logarithmic, lines or points alone, solid or dashed
//! series, min–max error bars over repeats, horizontal and vertical
//! reference lines, and a legend beside the plot (never over the data).
//! Every build keeps one colour of the Okabe-Ito palette (safe for the
//! common colour-vision deficiencies) and one marker shape, so a build
//! reads the same in every plot, in colour or printed in grey.

use std::path::Path;

use anyhow::{Result, bail};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::element::ComposedElement;
use plotters::prelude::*;

/// One line (or set of points) of a chart.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub name: String,
    /// The points drawn (for repeats: the medians).
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
    /// Index into [`PALETTE`] (the same build keeps its colour everywhere).
    pub color: usize,
    /// The shape drawn at each point.
    pub marker: Marker,
    /// Error bars: (x, min, max) over the repeats of a point.
    pub ranges: Vec<(f64, f64, f64)>,
}

/// A horizontal reference line.
#[derive(Debug, Clone)]
pub struct HLine {
    pub name: String,
    pub y: f64,
    pub color: usize,
}

/// A vertical reference line, labelled on the plot (a pool size, say).
#[derive(Debug, Clone)]
pub struct VLine {
    pub name: String,
    pub x: f64,
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
    pub vlines: Vec<VLine>,
    /// Names of the x positions 0, 1, 2, ... (a categorical axis: only
    /// those positions are labelled); empty: numbers.
    pub x_names: Vec<String>,
    /// Markers only, no line between them: for a step (a cliff) that a
    /// line would draw as a slope.
    pub points_only: bool,
}

/// The Okabe-Ito palette (Okabe and Ito, "Color Universal Design", 2002),
/// then a neutral grey for reference lines.
pub const PALETTE: [RGBColor; 9] = [
    RGBColor(0, 0, 0),       // 0 black
    RGBColor(230, 159, 0),   // 1 orange
    RGBColor(86, 180, 233),  // 2 sky blue
    RGBColor(0, 158, 115),   // 3 bluish green
    RGBColor(240, 228, 66),  // 4 yellow
    RGBColor(0, 114, 178),   // 5 blue
    RGBColor(213, 94, 0),    // 6 vermillion
    RGBColor(204, 121, 167), // 7 reddish purple
    RGBColor(140, 140, 140), // 8 grey
];

/// The palette index of reference lines (bounds, timeouts).
pub const GREY: usize = 8;
/// A second reference colour, for a line beside a grey one.
pub const BLACK: usize = 0;

/// The shape drawn at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Marker {
    #[default]
    Circle,
    Square,
    Diamond,
    TriangleUp,
    TriangleDown,
    Cross,
    Plus,
    HollowCircle,
    HollowSquare,
    /// No marker (reference curves).
    None,
}

/// Every build and echo server of the lab with its colour and marker.
const STYLES: [(&str, usize, Marker); 8] = [
    ("blocking", 6, Marker::Circle),
    ("blocking-parked", 1, Marker::Square),
    ("blocking-tpc", 7, Marker::Diamond),
    ("tokio", 5, Marker::TriangleUp),
    ("asyncio", 3, Marker::TriangleDown),
    ("node", 2, Marker::Cross),
    ("echo_threads", 0, Marker::HollowCircle),
    ("echo_tokio", GREY, Marker::HollowSquare),
];

/// The colour index and marker of a build or echo server (others: yellow
/// plus signs).
pub fn style_of(build: &str) -> (usize, Marker) {
    STYLES
        .iter()
        .find(|(b, _, _)| *b == build)
        .map_or((4, Marker::Plus), |(_, c, m)| (*c, *m))
}

/// The colour index of a build or echo server.
pub fn color_of(build: &str) -> usize {
    style_of(build).0
}

/// A marker's outline, in pixels around the point.
fn outline(m: Marker) -> Vec<(i32, i32)> {
    let ring = |r: f64| -> Vec<(i32, i32)> {
        (0..12)
            .map(|i| {
                let a = f64::from(i) * std::f64::consts::PI / 6.0;
                ((r * a.cos()).round() as i32, (r * a.sin()).round() as i32)
            })
            .collect()
    };
    match m {
        Marker::Circle | Marker::HollowCircle => ring(4.5),
        Marker::Square | Marker::HollowSquare => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        Marker::Diamond => vec![(0, -6), (5, 0), (0, 6), (-5, 0)],
        Marker::TriangleUp => vec![(0, -6), (5, 4), (-5, 4)],
        Marker::TriangleDown => vec![(0, 6), (5, -4), (-5, -4)],
        Marker::Cross => vec![
            (-5, -3),
            (-3, -5),
            (0, -2),
            (3, -5),
            (5, -3),
            (2, 0),
            (5, 3),
            (3, 5),
            (0, 2),
            (-3, 5),
            (-5, 3),
            (-2, 0),
        ],
        Marker::Plus => vec![
            (-1, -5),
            (1, -5),
            (1, -1),
            (5, -1),
            (5, 1),
            (1, 1),
            (1, 5),
            (-1, 5),
            (-1, 1),
            (-5, 1),
            (-5, -1),
            (-1, -1),
        ],
        Marker::None => Vec::new(),
    }
}

fn hollow(m: Marker) -> bool {
    matches!(m, Marker::HollowCircle | Marker::HollowSquare)
}

/// A marker drawn at a point: its filled shape, then its outline (pixels).
type MarkerElement<C, DB> = ComposedElement<C, DB, Polygon<(i32, i32)>, PathElement<(i32, i32)>>;

/// A marker at `at` (data coordinates): its filled shape and outline.
fn marker<C, DB: DrawingBackend>(at: C, m: Marker, color: RGBColor) -> MarkerElement<C, DB> {
    let shape = outline(m);
    let mut ring = shape.clone();
    if let Some(first) = shape.first() {
        ring.push(*first);
    }
    let fill = if hollow(m) {
        WHITE.filled()
    } else {
        color.filled()
    };
    EmptyElement::at(at)
        + Polygon::new(shape, fill)
        + PathElement::new(ring, color.stroke_width(if hollow(m) { 2 } else { 1 }))
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

/// Canvas size, and the width of the legend panel on its right.
const WIDTH: u32 = 960;
const HEIGHT: u32 = 500;
const LEGEND_W: u32 = 220;

/// Writes `chart` to `path` as SVG.
pub fn line_chart(path: &Path, chart: &Chart) -> Result<()> {
    let xs = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(chart.vlines.iter().map(|v| v.x));
    let ys = chart
        .series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.ranges.iter().flat_map(|r| [r.1, r.2]))
        })
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
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_W);
    match (chart.log_x, chart.log_y) {
        (false, false) => draw(&plot_area, chart, x0..x1, y0..y1)?,
        (true, false) => draw(&plot_area, chart, (x0..x1).log_scale(), y0..y1)?,
        (false, true) => draw(&plot_area, chart, x0..x1, (y0..y1).log_scale())?,
        (true, true) => draw(
            &plot_area,
            chart,
            (x0..x1).log_scale(),
            (y0..y1).log_scale(),
        )?,
    }
    legend(&legend_area, chart)?;
    root.present()?;
    Ok(())
}

/// The legend panel: a sample of each series (line and marker) and each
/// horizontal reference line, with its name.
fn legend(area: &DrawingArea<SVGBackend<'_>, Shift>, chart: &Chart) -> Result<()> {
    let font = ("sans-serif", 14).into_font();
    let mut y = 60;
    for s in &chart.series {
        let color = PALETTE[s.color % PALETTE.len()];
        let line = vec![(6, y), (40, y)];
        if s.dashed {
            dashes(area, y, 6, color.stroke_width(2))?;
        } else if !chart.points_only {
            area.draw(&PathElement::new(line, color.stroke_width(2)))?;
        }
        if s.marker != Marker::None {
            area.draw(&marker((23, y), s.marker, color))?;
        }
        area.draw(&Text::new(s.name.clone(), (48, y - 8), font.clone()))?;
        y += 22;
    }
    for h in &chart.hlines {
        let color = PALETTE[h.color % PALETTE.len()];
        dashes(area, y, 3, color.stroke_width(1))?;
        area.draw(&Text::new(h.name.clone(), (48, y - 8), font.clone()))?;
        y += 22;
    }
    Ok(())
}

/// A dashed legend sample from x = 6 to 40 at height `y`.
fn dashes(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    y: i32,
    dash: i32,
    style: ShapeStyle,
) -> Result<()> {
    let mut x = 6;
    while x < 40 {
        area.draw(&PathElement::new(
            vec![(x, y), ((x + dash).min(40), y)],
            style,
        ))?;
        x += dash + 4;
    }
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
        .caption(&chart.title, ("sans-serif", 19))
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
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 13))
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
    let (ya, yb) = {
        let r = ctx.y_range();
        (r.start, r.end)
    };
    for h in &chart.hlines {
        let color = PALETTE[h.color % PALETTE.len()];
        ctx.draw_series(DashedLineSeries::new(
            vec![(xa, h.y), (xb, h.y)],
            3,
            4,
            color.stroke_width(1),
        ))?;
    }
    for v in &chart.vlines {
        let color = PALETTE[v.color % PALETTE.len()];
        ctx.draw_series(DashedLineSeries::new(
            vec![(v.x, ya), (v.x, yb)],
            6,
            3,
            color.stroke_width(2),
        ))?;
        ctx.draw_series(std::iter::once(
            EmptyElement::at((v.x, yb))
                + Text::new(v.name.clone(), (6, 6), ("sans-serif", 14).into_font()),
        ))?;
    }
    for s in &chart.series {
        let color = PALETTE[s.color % PALETTE.len()];
        let style = color.stroke_width(2);
        let mut pts = s.points.clone();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Error bars first, so the markers sit on top of them.
        for &(x, lo, hi) in &s.ranges {
            let (lo, hi) = (lo.max(ya), hi.min(yb));
            if hi <= lo {
                continue;
            }
            ctx.draw_series(std::iter::once(PathElement::new(
                vec![(x, lo), (x, hi)],
                color.stroke_width(1),
            )))?;
            for end in [lo, hi] {
                ctx.draw_series(std::iter::once(
                    EmptyElement::at((x, end))
                        + PathElement::new(vec![(-4, 0), (4, 0)], color.stroke_width(1)),
                ))?;
            }
        }
        if s.dashed {
            ctx.draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))?;
        } else if !chart.points_only {
            ctx.draw_series(LineSeries::new(pts.clone(), style))?;
        }
        if s.marker != Marker::None {
            ctx.draw_series(pts.iter().map(|p| marker(*p, s.marker, color)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builds::{BUILDS, ECHOES};

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
                    marker: Marker::Circle,
                    ranges: vec![(64.0, 800.0, 1200.0)],
                }],
                hlines: vec![HLine {
                    name: "bound".into(),
                    y: 500.0,
                    color: GREY,
                }],
                vlines: vec![VLine {
                    name: "pool 16".into(),
                    x: 16.0,
                    color: BLACK,
                }],
                points_only: i == 3,
                ..Chart::default()
            };
            line_chart(&path, &chart).expect("chart");
            let svg = std::fs::read_to_string(&path).expect("svg");
            assert!(svg.starts_with("<svg") && svg.contains("blocking"));
            assert!(svg.contains("pool 16"), "the vertical line is labelled");
        }
        let empty = Chart::default();
        assert!(line_chart(&dir.path().join("e.svg"), &empty).is_err());
    }

    #[test]
    fn every_build_has_its_own_colour_and_its_own_marker() {
        let all: Vec<&str> = BUILDS.iter().chain(ECHOES.iter()).copied().collect();
        assert!(all.contains(&"blocking-tpc"), "{all:?}");
        let mut colours = Vec::new();
        let mut markers = Vec::new();
        for b in &all {
            assert!(
                STYLES.iter().any(|(s, _, _)| s == b),
                "{b} has no style of its own"
            );
            let (c, m) = style_of(b);
            assert_ne!(m, Marker::None, "{b} has no marker");
            assert_ne!(c, 4, "{b} is drawn in yellow, hard to see on white");
            colours.push(c);
            markers.push(m);
        }
        colours.sort_unstable();
        colours.dedup();
        assert_eq!(colours.len(), all.len(), "two builds share a colour");
        for (i, m) in markers.iter().enumerate() {
            assert!(
                !markers[i + 1..].contains(m),
                "two builds share the marker {m:?}"
            );
        }
        // Distinct shapes, not just distinct names.
        let shapes: Vec<Vec<(i32, i32)>> = markers
            .iter()
            .filter(|m| !hollow(**m))
            .map(|m| outline(*m))
            .collect();
        for (i, s) in shapes.iter().enumerate() {
            assert!(!s.is_empty());
            assert!(
                !shapes[i + 1..].contains(s),
                "two filled markers look alike"
            );
        }
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
                color: 1,
                ..Series::default()
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
