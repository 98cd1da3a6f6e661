//! Newton's method with the exact Hessian, beside gradient descent, on the Rosenbrock
//! function f(x, y) = (1 − x)² + 100(y − x²)².
//!
//! The minimum (1, 1) lies at the end of a long, curved, narrow valley: across it the
//! curvature is ~1000, along it ~0.4. Gradient descent must take steps small enough for
//! the steep direction (a learning rate below 2/1000), so it crawls along the valley for
//! thousands of steps. Newton's method divides the gradient by the curvature in every
//! direction at once, x ← x − H⁻¹∇f, and with the exact Hessian from
//! `scalargrad::hessian` it arrives in a handful of steps.
//!
//! The example tunes gradient descent's learning rate on a grid, prints the steps each
//! method needs, checks its claims (both converge to (1, 1), Newton in fewer steps, the
//! Hessian at the minimum is the one derived by hand), and draws both paths over a
//! contour plot as SVG.
//!
//! Run: `cargo run --release --example newton [-- --out DIR]`

#[path = "common/mod.rs"]
mod common;

use std::error::Error;
use std::path::Path;
use std::process::ExitCode;

use plotters::prelude::*;
use scalargrad::{grad, hessian, Value};

const USAGE: &str = "\
Minimise the Rosenbrock function with Newton's method (exact Hessian from
scalargrad::hessian) and with gradient descent (tuned learning rate); print the steps
each needs and draw both paths over a contour plot as SVG.

Usage: cargo run --release --example newton [-- OPTIONS]

Options:
  --out DIR   folder for newton.svg [default: target/scalargrad-examples/newton]
  -h, --help  print this help";

/// The classic starting point.
const START: [f64; 2] = [-1.2, 1.0];
/// Converged when the gradient's norm is at most this.
const TOLERANCE: f64 = 1e-6;
/// Gradient descent gives up after this many steps.
const MAX_STEPS: usize = 100_000;
/// The learning rates tried for gradient descent. Near the minimum the largest
/// curvature is ~1001.6, so rates from 2/1001.6 ≈ 2.0e-3 up no longer settle; the best
/// rate is just below that.
const LEARNING_RATES: [f64; 8] = [1e-4, 3e-4, 1e-3, 1.5e-3, 1.8e-3, 1.9e-3, 2e-3, 2.5e-3];

/// f(x, y) = (1 − x)² + 100(y − x²)².
fn rosenbrock(v: &[Value]) -> Value {
    (1.0 - &v[0]).powi(2) + 100.0 * (&v[1] - v[0].powi(2)).powi(2)
}

fn rosenbrock_f64(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

/// f and ∇f at `p`, from `grad`.
fn value_and_gradient(p: [f64; 2]) -> (f64, [f64; 2]) {
    let v = [Value::new(p[0]), Value::new(p[1])];
    let y = rosenbrock(&v);
    let g = grad(&y, &v);
    (y.data(), [g[0].data(), g[1].data()])
}

fn norm(v: [f64; 2]) -> f64 {
    v[0].hypot(v[1])
}

/// One minimisation: every point visited, and whether it met the tolerance.
struct Run {
    path: Vec<[f64; 2]>,
    converged: bool,
}

impl Run {
    fn steps(&self) -> usize {
        self.path.len() - 1
    }

    fn last(&self) -> [f64; 2] {
        self.path[self.path.len() - 1]
    }
}

/// Gradient descent with a fixed learning rate, until the tolerance or `MAX_STEPS`.
fn gradient_descent(lr: f64) -> Run {
    let mut p = START;
    let mut path = vec![p];
    loop {
        let (_, g) = value_and_gradient(p);
        if norm(g) <= TOLERANCE {
            return Run {
                path,
                converged: true,
            };
        }
        // The rates too large to settle oscillate until here (none of `LEARNING_RATES`
        // blows up; a NaN gradient would also run out the steps).
        if path.len() > MAX_STEPS {
            return Run {
                path,
                converged: false,
            };
        }
        p = [p[0] - lr * g[0], p[1] - lr * g[1]];
        path.push(p);
    }
}

/// Newton's method: solve H·d = ∇f for the step d (a 2×2 system) and move to x − d.
fn newton() -> Result<Run, Box<dyn Error>> {
    let mut p = START;
    let mut path = vec![p];
    for _ in 0..50 {
        let (_, g) = value_and_gradient(p);
        if norm(g) <= TOLERANCE {
            return Ok(Run {
                path,
                converged: true,
            });
        }
        let h = hessian(rosenbrock, &p);
        let det = h[0][0] * h[1][1] - h[0][1] * h[1][0];
        if det == 0.0 || !det.is_finite() {
            return Err(format!("singular Hessian {h:?} at {p:?}").into());
        }
        let d = [
            (h[1][1] * g[0] - h[0][1] * g[1]) / det,
            (h[0][0] * g[1] - h[1][0] * g[0]) / det,
        ];
        p = [p[0] - d[0], p[1] - d[1]];
        path.push(p);
    }
    Ok(Run {
        path,
        converged: false,
    })
}

fn main() -> ExitCode {
    common::main(USAGE, newton_example)
}

fn newton_example() -> Result<(), Box<dyn Error>> {
    let out_dir = common::out_only(USAGE)?;

    // --- 1. The exact Hessian, against the one derived by hand. --------------------------
    // ∂²f/∂x² = 1200x² − 400y + 2, ∂²f/∂x∂y = −400x, ∂²f/∂y² = 200.
    let by_hand = |x: f64, y: f64| {
        [
            [1200.0 * x * x - 400.0 * y + 2.0, -400.0 * x],
            [-400.0 * x, 200.0],
        ]
    };
    println!("1. The Hessian from scalargrad::hessian, against the one derived by hand:");
    for p in [START, [1.0, 1.0]] {
        let h = hessian(rosenbrock, &p);
        let expected = by_hand(p[0], p[1]);
        for i in 0..2 {
            for j in 0..2 {
                if (h[i][j] - expected[i][j]).abs() > 1e-9 * expected[i][j].abs().max(1.0) {
                    return Err(
                        format!("H{i}{j} at {p:?} is {}, not {}", h[i][j], expected[i][j]).into(),
                    );
                }
            }
        }
        println!(
            "   at ({:>4}, {:>3}): [[{:>7.1}, {:>6.1}], [{:>6.1}, {:>5.1}]]",
            p[0], p[1], h[0][0], h[0][1], h[1][0], h[1][1]
        );
    }

    // --- 2. Tune gradient descent's learning rate. --------------------------------------
    println!("\n2. Gradient descent from {START:?}, until |∇f| ≤ {TOLERANCE:e}:");
    println!("   {:>13}  {:>10}", "learning rate", "steps");
    let mut best: Option<(f64, Run)> = None;
    for lr in LEARNING_RATES {
        let run = gradient_descent(lr);
        let outcome = if run.converged {
            run.steps().to_string()
        } else {
            format!("> {MAX_STEPS}")
        };
        println!("   {lr:>13.1e}  {outcome:>10}");
        if run.converged && best.as_ref().is_none_or(|(_, b)| run.steps() < b.steps()) {
            best = Some((lr, run));
        }
    }
    let (lr, descent) = best.ok_or("gradient descent converged at no learning rate tried")?;

    // --- 3. Newton's method beside the best gradient descent, and the claims checked. --
    let newton = newton()?;
    if !newton.converged {
        return Err(format!(
            "Newton's method did not converge in {} steps",
            newton.steps()
        )
        .into());
    }
    println!("\n3. Steps to |∇f| ≤ {TOLERANCE:e} from {START:?}:");
    println!(
        "   {:<30} {:>7} {:>12} {:>12} {:>14}",
        "method", "steps", "f", "|∇f|", "distance to min"
    );
    for (name, run) in [
        (format!("gradient descent, lr {lr:.1e}"), &descent),
        ("Newton, exact Hessian".to_owned(), &newton),
    ] {
        let end = run.last();
        let (f, g) = value_and_gradient(end);
        let distance = (end[0] - 1.0).hypot(end[1] - 1.0);
        if distance > 1e-4 {
            return Err(format!("{name} stopped at {end:?}, not at the minimum (1, 1)").into());
        }
        println!(
            "   {name:<30} {:>7} {f:>12.3e} {:>12.3e} {distance:>14.3e}",
            run.steps(),
            norm(g)
        );
    }
    if newton.steps() >= descent.steps() {
        return Err("Newton's method was expected to need fewer steps".into());
    }
    println!(
        "\n   Newton's path: {}",
        newton
            .path
            .iter()
            .map(|p| format!("({:.4}, {:.4})", p[0], p[1]))
            .collect::<Vec<_>>()
            .join(" → ")
    );

    // --- 4. Both paths over the contours. -----------------------------------------------
    let dir = common::output_dir("newton", out_dir)?;
    let svg = dir.join("newton.svg");
    draw(&svg, &descent, lr, &newton)?;
    println!(
        "\n4. Paths drawn over the contour plot in {}",
        svg.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The picture.
// ---------------------------------------------------------------------------------------

/// `(x, y, f(x, y))` at the corners of `cells` × `cells` cells covering the box, by
/// column: `grid[i][j]` is the i-th x and the j-th y.
fn sample_grid(
    f: impl Fn(f64, f64) -> f64,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    cells: usize,
) -> Vec<Vec<(f64, f64, f64)>> {
    let at = |i: usize, j: usize| {
        let x = x0 + (x1 - x0) * i as f64 / cells as f64;
        let y = y0 + (y1 - y0) * j as f64 / cells as f64;
        (x, y, f(x, y))
    };
    (0..=cells)
        .map(|i| (0..=cells).map(|j| at(i, j)).collect())
        .collect()
}

/// Line segments of the level set `f = level` over a [`sample_grid`], by marching
/// squares: in each cell, the points where an edge crosses the level (by linear
/// interpolation) are joined in pairs.
fn contour(grid: &[Vec<(f64, f64, f64)>], level: f64) -> Vec<[(f64, f64); 2]> {
    let cells = grid.len() - 1;
    let mut segments = Vec::new();
    for i in 0..cells {
        for j in 0..cells {
            // The cell's corners, in order around it, and the crossings on its edges.
            let corners = [
                grid[i][j],
                grid[i + 1][j],
                grid[i + 1][j + 1],
                grid[i][j + 1],
            ];
            let crossings: Vec<(f64, f64)> = (0..4)
                .filter_map(|k| {
                    let (a, b) = (corners[k], corners[(k + 1) % 4]);
                    if (a.2 - level) * (b.2 - level) >= 0.0 {
                        return None;
                    }
                    let t = (level - a.2) / (b.2 - a.2);
                    Some((a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1)))
                })
                .collect();
            segments.extend(crossings.chunks_exact(2).map(|c| [c[0], c[1]]));
        }
    }
    segments
}

fn draw(path: &Path, descent: &Run, lr: f64, newton: &Run) -> Result<(), Box<dyn Error>> {
    // A box around the valley and every point Newton's method visits.
    let (mut x_range, mut y_range) = ((-2.0f64, 2.0f64), (-1.0f64, 3.0f64));
    for p in &newton.path {
        x_range = (x_range.0.min(p[0] - 0.25), x_range.1.max(p[0] + 0.25));
        y_range = (y_range.0.min(p[1] - 0.25), y_range.1.max(p[1] + 0.25));
    }

    let root = SVGBackend::new(path, (900, 800)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Rosenbrock: Newton's method vs gradient descent",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("y")
        .light_line_style(WHITE)
        .draw()?;

    // Level sets at f = 0.5·4ᵏ: evenly spaced in log f, which is how the valley reads.
    let levels: Vec<f64> = (0..9).map(|k| 0.5 * 4f64.powi(k)).collect();
    let grid = sample_grid(rosenbrock_f64, x_range, y_range, 200);
    for (k, &level) in levels.iter().enumerate() {
        let shade = (60 + 20 * k).min(230) as u8;
        let color = RGBColor(shade, shade, 255);
        let segments = contour(&grid, level);
        chart.draw_series(
            segments
                .iter()
                .map(|s| PathElement::new(vec![s[0], s[1]], color.stroke_width(1))),
        )?;
    }

    // Gradient descent visits tens of thousands of points; every k-th draws the same line.
    let every = (descent.path.len() / 2000).max(1);
    let descent_points: Vec<(f64, f64)> = descent
        .path
        .iter()
        .step_by(every)
        .chain(std::iter::once(&descent.last()))
        .map(|p| (p[0], p[1]))
        .collect();
    let orange = RGBColor(230, 120, 0);
    chart
        .draw_series(LineSeries::new(descent_points, orange.stroke_width(2)))?
        .label(format!(
            "gradient descent, lr {lr:.1e}: {} steps",
            descent.steps()
        ))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(2)));

    let newton_points: Vec<(f64, f64)> = newton.path.iter().map(|p| (p[0], p[1])).collect();
    chart
        .draw_series(LineSeries::new(newton_points.clone(), RED.stroke_width(2)))?
        .label(format!("Newton, exact Hessian: {} steps", newton.steps()))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
    chart.draw_series(
        newton_points
            .iter()
            .map(|&p| Circle::new(p, 4, RED.filled())),
    )?;
    chart.draw_series(std::iter::once(Cross::new(
        (1.0, 1.0),
        7,
        BLACK.stroke_width(2),
    )))?;

    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
