//! SVG charts for the examples, drawn with plotters' pure-Rust SVG backend.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

/// Distinct colours for series and classes.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
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
    let keep = |&(_, y): &(f64, f64)| y.is_finite() && (!log_y || y > 0.0);
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().copied().filter(keep))
        .collect();
    if all.is_empty() {
        return Err("nothing to plot: every point is non-finite".into());
    }
    let (x_min, x_max) = bounds(all.iter().map(|p| p.0));
    let (y_min, y_max) = bounds(all.iter().map(|p| p.1));
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .draw()?;
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
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }};
    }
    if log_y {
        draw!(builder.build_cartesian_2d(x_min..x_max, (y_min..y_max).log_scale())?);
    } else {
        let pad = 0.05 * (y_max - y_min);
        draw!(builder.build_cartesian_2d(x_min..x_max, (y_min - pad)..(y_max + pad))?);
    }
    root.present()?;
    Ok(())
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
    let (x_min, x_max) = bounds(inputs.iter().map(|p| p[0]));
    let (y_min, y_max) = bounds(inputs.iter().map(|p| p[1]));
    let (x_min, x_max, y_min, y_max) = (x_min - 0.5, x_max + 0.5, y_min - 0.5, y_max + 0.5);
    let root = SVGBackend::new(path, (700, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(x_min..x_max, y_min..y_max)?;
    chart.configure_mesh().disable_mesh().draw()?;
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
    root.present()?;
    Ok(())
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
