//! SVG charts for the examples, drawn with plotters' pure-Rust SVG backend.

use std::error::Error;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

/// Distinct colours for series and classes (the first six are the classes' colours).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One named line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart of several series; `log_y` puts the y axis on a log scale (points with
/// y ≤ 0 or non-finite y are left out there).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<(), Box<dyn Error>> {
    LineChart {
        log_y,
        ..LineChart::new(title, x_label, y_label)
    }
    .draw(path, series)
}

/// A line chart with every option: log scales on either axis and labelled horizontal
/// reference lines.
pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// A log scale on x (points with x ≤ 0 are left out).
    pub log_x: bool,
    /// A log scale on y (points with y ≤ 0 are left out).
    pub log_y: bool,
    /// Horizontal dashed lines, each with its legend entry.
    pub guides: Vec<(String, f64)>,
    /// The legend in a column right of the chart instead of over it (for charts whose
    /// lines fill every corner).
    pub legend_right: bool,
}

impl<'a> LineChart<'a> {
    /// Linear axes, no guides.
    pub fn new(title: &'a str, x_label: &'a str, y_label: &'a str) -> LineChart<'a> {
        LineChart {
            title,
            x_label,
            y_label,
            log_x: false,
            log_y: false,
            guides: Vec::new(),
            legend_right: false,
        }
    }

    /// Draws `series` (non-finite points, and points a log axis cannot show, are left
    /// out) as an 800×500 SVG.
    pub fn draw(&self, path: &Path, series: &[Series]) -> Result<(), Box<dyn Error>> {
        let (log_x, log_y) = (self.log_x, self.log_y);
        let keep = move |&(x, y): &(f64, f64)| {
            x.is_finite() && y.is_finite() && (!log_x || x > 0.0) && (!log_y || y > 0.0)
        };
        let all: Vec<(f64, f64)> = series
            .iter()
            .flat_map(|s| s.points.iter().copied().filter(keep))
            .collect();
        if all.is_empty() {
            return Err("nothing to plot: every point is non-finite".into());
        }
        let (x_min, x_max) = bounds(all.iter().map(|p| p.0));
        let guide_ys = self
            .guides
            .iter()
            .map(|g| g.1)
            .filter(|&y| !log_y || y > 0.0);
        let (y_min, y_max) = bounds(all.iter().map(|p| p.1).chain(guide_ys));
        let legend_width = if self.legend_right { 220 } else { 0 };
        let root = SVGBackend::new(path, (800 + legend_width, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot_area, legend_area) = root.split_horizontally(800);
        let mut builder = ChartBuilder::on(&plot_area);
        builder
            .caption(self.title, ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70);
        let pad = 0.05 * (y_max - y_min);
        macro_rules! draw {
            ($x:expr, $y:expr) => {{
                let mut chart = builder.build_cartesian_2d($x, $y)?;
                let mut mesh = chart.configure_mesh();
                mesh.x_desc(self.x_label).y_desc(self.y_label);
                let x_tick = |v: &f64| tick_label(*v, log_x, x_max - x_min);
                let y_tick = |v: &f64| tick_label(*v, log_y, y_max - y_min);
                mesh.x_label_formatter(&x_tick).y_label_formatter(&y_tick);
                mesh.draw()?;
                for (i, s) in series.iter().enumerate() {
                    let color = PALETTE[i % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(
                            s.points.iter().copied().filter(keep),
                            color.stroke_width(2),
                        ))?
                        .label(s.name.clone())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                }
                for (name, y) in &self.guides {
                    let style = BLACK.stroke_width(1);
                    chart
                        .draw_series(DashedLineSeries::new(
                            [(x_min, *y), (x_max, *y)],
                            6,
                            4,
                            style,
                        ))?
                        .label(name.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
                if !self.legend_right {
                    chart
                        .configure_series_labels()
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()?;
                }
            }};
        }
        match (log_x, log_y) {
            (false, false) => draw!(x_min..x_max, (y_min - pad)..(y_max + pad)),
            (false, true) => draw!(x_min..x_max, (y_min..y_max).log_scale()),
            (true, false) => draw!((x_min..x_max).log_scale(), (y_min - pad)..(y_max + pad)),
            (true, true) => draw!((x_min..x_max).log_scale(), (y_min..y_max).log_scale()),
        }
        if self.legend_right {
            let entries = series
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.as_str(), PALETTE[i % PALETTE.len()].stroke_width(2)))
                .chain(
                    self.guides
                        .iter()
                        .map(|(name, _)| (name.as_str(), BLACK.stroke_width(1))),
                );
            for (i, (name, style)) in entries.enumerate() {
                let y = 70 + 24 * i as i32;
                legend_area.draw(&PathElement::new(vec![(5, y), (35, y)], style))?;
                legend_area.draw(&Text::new(name, (42, y - 7), ("sans-serif", 14)))?;
            }
        }
        root.present()?;
        Ok(())
    }
}

/// A decision-region picture: the plane coloured by the class `classify` gives each
/// cell, with the data points drawn over it in their true class's colour.
pub fn decision_regions(
    path: &Path,
    title: &str,
    inputs: &[Vec<f64>],
    classes: &[usize],
    classify: impl Fn(f64, f64) -> usize,
) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (700, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    draw_regions(&root, title, 22, inputs, classes, &classify)?;
    root.present()?;
    Ok(())
}

/// One panel of [`decision_panels`]: a title, the points and their classes, and the
/// classifier that colours the plane.
pub struct Panel<'a> {
    pub title: String,
    pub inputs: &'a [Vec<f64>],
    pub classes: &'a [usize],
    pub classify: Box<dyn Fn(f64, f64) -> usize + 'a>,
}

/// Several decision-region pictures side by side in one SVG, `columns` to a row, under
/// one overall title.
pub fn decision_panels(
    path: &Path,
    title: &str,
    panels: &[Panel<'_>],
    columns: usize,
) -> Result<(), Box<dyn Error>> {
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (360 * columns as u32, 340 * rows as u32 + 40);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 24))?;
    for (area, panel) in root.split_evenly((rows, columns)).iter().zip(panels) {
        draw_regions(
            area,
            &panel.title,
            17,
            panel.inputs,
            panel.classes,
            &panel.classify,
        )?;
    }
    root.present()?;
    Ok(())
}

/// Draws one decision-region chart into `area`.
fn draw_regions(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    title_size: u32,
    inputs: &[Vec<f64>],
    classes: &[usize],
    classify: &dyn Fn(f64, f64) -> usize,
) -> Result<(), Box<dyn Error>> {
    let (x_min, x_max) = bounds(inputs.iter().map(|p| p[0]));
    let (y_min, y_max) = bounds(inputs.iter().map(|p| p[1]));
    let (x_min, x_max, y_min, y_max) = (x_min - 0.5, x_max + 0.5, y_min - 0.5, y_max + 0.5);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", title_size))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(x_min..x_max, y_min..y_max)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    // Cells of one row with the same class are merged into one rectangle, which keeps
    // the SVG small at a fine resolution.
    let cells = 160;
    let (dx, dy) = (
        (x_max - x_min) / cells as f64,
        (y_max - y_min) / cells as f64,
    );
    let mut runs = Vec::new();
    for j in 0..cells {
        let y = y_min + j as f64 * dy;
        let mut start = 0;
        let mut class = classify(x_min + dx / 2.0, y + dy / 2.0);
        for i in 1..=cells {
            let next = (i < cells).then(|| classify(x_min + (i as f64 + 0.5) * dx, y + dy / 2.0));
            if next != Some(class) {
                runs.push((x_min + start as f64 * dx, x_min + i as f64 * dx, y, class));
                if let Some(c) = next {
                    (start, class) = (i, c);
                }
            }
        }
    }
    chart.draw_series(runs.into_iter().map(|(x0, x1, y, class)| {
        let color = PALETTE[class % PALETTE.len()].mix(0.25);
        Rectangle::new([(x0, y), (x1, y + dy)], color.filled())
    }))?;
    chart.draw_series(inputs.iter().zip(classes).map(|(p, &c)| {
        Circle::new(
            (p[0], p[1]),
            4,
            PALETTE[c % PALETTE.len()].filled().stroke_width(1),
        )
    }))?;
    Ok(())
}

/// A tick label: on a log axis as [`log_tick`]; on a linear axis spanning `span`, with
/// enough decimals for its steps (trailing zeros dropped) and without a "-0".
fn tick_label(v: f64, log: bool, span: f64) -> String {
    if log {
        return log_tick(v);
    }
    let decimals = (1.0 - (span / 10.0).log10()).ceil().clamp(0.0, 8.0) as usize;
    let text = trim_zeros(format!("{v:.decimals$}"));
    if text == "-0" {
        "0".to_owned()
    } else {
        text
    }
}

/// "0.500" → "0.5", "2.000" → "2"; a number without a decimal point is left alone.
fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A tick label for a log axis: plain from 0.001 to 9999, else like `1e-7`.
fn log_tick(v: f64) -> String {
    let magnitude = v.abs().log10().floor();
    if v == 0.0 || !(-3.0..4.0).contains(&magnitude) {
        return format!("{v:.0e}");
    }
    let decimals = (2.0 - magnitude).max(0.0) as usize;
    trim_zeros(format!("{v:.decimals$}"))
}

/// A tick label with one decimal, without the "-0.0" that rounding leaves near zero.
fn tick(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    format!("{:.1}", if rounded == 0.0 { 0.0 } else { rounded })
}

/// The smallest and largest finite value, widened if they coincide.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo < hi {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    }
}

/// A regression picture: data as dots and one or more curves as lines.
pub fn fit_chart(
    path: &Path,
    title: &str,
    data: &[(f64, f64)],
    curves: &[Series],
) -> Result<(), Box<dyn Error>> {
    let all = data
        .iter()
        .chain(curves.iter().flat_map(|s| s.points.iter()))
        .copied();
    let (x_min, x_max) = bounds(all.clone().map(|p| p.0));
    let (y_min, y_max) = bounds(all.map(|p| p.1));
    let pad = 0.05 * (y_max - y_min);
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x_min..x_max, (y_min - pad)..(y_max + pad))?;
    chart.configure_mesh().x_desc("x").y_desc("y").draw()?;
    chart
        .draw_series(
            data.iter()
                .map(|&p| Circle::new(p, 3, RGBColor(120, 120, 120).filled())),
        )?
        .label("data")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, RGBColor(120, 120, 120).filled()));
    for (i, s) in curves.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
