//! Gradient checking: `backward()` against central finite differences
//! ([`gradcheck`]), and second derivatives from [`crate::grad`] against central
//! differences of first derivatives ([`gradgradcheck`]).
//!
//! Public so that users can check their own functions and custom ops the same way the
//! crate's property tests check every built-in op.
//!
//! ```
//! use scalargrad::check::{gradcheck, Options};
//! use scalargrad::Value;
//!
//! // f(x, y) = x·sin(y) + y²
//! let f = |v: &[Value]| &v[0] * v[1].sin() + v[1].powi(2);
//! let report = gradcheck(f, &[1.5, -0.7], &Options::default())?;
//! assert!(report.max_abs_error() < 1e-8);
//! # Ok::<(), scalargrad::check::GradcheckError>(())
//! ```

use std::error::Error;
use std::fmt;

use crate::higher::{hessian_of, leaves, GradError};
use crate::value::Value;

/// Step and tolerances for [`gradcheck`] and [`gradgradcheck`]. The defaults are
/// PyTorch's `gradcheck` defaults for `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options {
    /// Finite-difference step: each input is moved by ±`eps`. Default `1e-6`.
    pub eps: f64,
    /// Absolute tolerance. Default `1e-5`.
    pub atol: f64,
    /// Relative tolerance, applied to the finite difference. Default `1e-3`.
    pub rtol: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// How one derivative compared: one input's gradient in [`gradcheck`], one second
/// derivative in [`gradgradcheck`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputCheck {
    /// The derivative from `backward()` (gradcheck) or [`crate::grad`] (gradgradcheck).
    pub analytic: f64,
    /// The central finite difference: `(f(x+eps) − f(x−eps)) / 2eps` (gradcheck), or
    /// the same difference of a first derivative (gradgradcheck).
    pub numeric: f64,
    /// `|analytic − numeric|`.
    pub abs_error: f64,
    /// `|analytic − numeric| / |numeric|` (infinite when `numeric` is 0 and the
    /// analytic gradient is not).
    pub rel_error: f64,
}

/// The outcome of a passing [`gradcheck`]: the function's value and one
/// [`InputCheck`] per input.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// `f(inputs)`.
    pub output: f64,
    /// One entry per input, in order.
    pub inputs: Vec<InputCheck>,
}

impl Report {
    /// The largest absolute error over all inputs (0 with no inputs).
    #[must_use]
    pub fn max_abs_error(&self) -> f64 {
        self.inputs.iter().map(|c| c.abs_error).fold(0.0, f64::max)
    }

    /// The largest relative error over all inputs (0 with no inputs).
    #[must_use]
    pub fn max_rel_error(&self) -> f64 {
        self.inputs.iter().map(|c| c.rel_error).fold(0.0, f64::max)
    }
}

/// Why [`gradcheck`] failed.
#[derive(Clone, Debug, PartialEq)]
pub enum GradcheckError {
    /// The analytic gradient of input `input` differs from the finite difference by
    /// more than `atol + rtol·|numeric|`. When several inputs fail, this names the one
    /// furthest outside its tolerance.
    Mismatch {
        /// Index of the input.
        input: usize,
        /// The gradient from `backward()`.
        analytic: f64,
        /// The central finite difference.
        numeric: f64,
        /// The tolerance it had to meet.
        tolerance: f64,
        /// Every input's comparison, for a closer look.
        report: Report,
    },
    /// The function or a gradient is NaN or infinite at (or within `eps` of) the
    /// point, so there is nothing meaningful to compare.
    NonFinite {
        /// The input whose gradient or perturbed value was not finite, or `None` when
        /// the output itself is not finite.
        input: Option<usize>,
        /// What was not finite.
        what: String,
    },
    /// An option is out of range (`eps` must be positive and finite, tolerances
    /// non-negative).
    InvalidOptions(String),
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradcheckError::Mismatch {
                input,
                analytic,
                numeric,
                tolerance,
                ..
            } => write!(
                f,
                "gradient mismatch for input {input}: backward gives {analytic:e}, finite \
                 differences give {numeric:e} (difference {:e}, tolerance {tolerance:e}); \
                 check the derivative of the op that uses this input",
                (analytic - numeric).abs()
            ),
            GradcheckError::NonFinite {
                input: Some(i),
                what,
            } => write!(
                f,
                "non-finite {what} for input {i}: move the point away from the edge of \
                 the function's domain"
            ),
            GradcheckError::NonFinite { input: None, what } => write!(
                f,
                "non-finite {what}: choose a point inside the function's domain"
            ),
            GradcheckError::InvalidOptions(why) => write!(f, "invalid gradcheck options: {why}"),
        }
    }
}

impl Error for GradcheckError {}

/// Evaluates `f` at `inputs` without keeping the graph.
fn eval<F: Fn(&[Value]) -> Value>(f: &F, inputs: &[f64]) -> f64 {
    f(&leaves(inputs)).data()
}

/// The central finite-difference gradient of `f` at `inputs`:
/// `(f(x + eps·eᵢ) − f(x − eps·eᵢ)) / 2eps` for each input i.
///
/// ```
/// use scalargrad::check::numerical_gradient;
/// let g = numerical_gradient(|v| &v[0] * &v[0], &[3.0], 1e-6);
/// assert!((g[0] - 6.0).abs() < 1e-6);
/// ```
#[must_use]
pub fn numerical_gradient<F: Fn(&[Value]) -> Value>(f: F, inputs: &[f64], eps: f64) -> Vec<f64> {
    let mut x = inputs.to_vec();
    (0..inputs.len())
        .map(|i| {
            x[i] = inputs[i] + eps;
            let plus = eval(&f, &x);
            x[i] = inputs[i] - eps;
            let minus = eval(&f, &x);
            x[i] = inputs[i];
            (plus - minus) / (2.0 * eps)
        })
        .collect()
}

/// Checks the gradients `backward()` computes for `f` at `inputs` against central
/// finite differences, input by input, as PyTorch's `gradcheck` does: each must satisfy
/// `|analytic − numeric| ≤ atol + rtol·|numeric|`.
///
/// `f` is called once to build the graph and twice per input for the differences, so
/// it must be a pure function of its inputs.
///
/// # Errors
///
/// [`GradcheckError::Mismatch`] naming the worst input and both numbers;
/// [`GradcheckError::NonFinite`] if the output, a gradient or a perturbed output is
/// not finite; [`GradcheckError::InvalidOptions`] for a bad step or tolerance.
///
/// ```
/// use scalargrad::check::{gradcheck, GradcheckError, Options};
/// use scalargrad::Value;
///
/// // A custom op with a deliberately wrong derivative is caught:
/// let wrong = |v: &[Value]| v[0].custom("square", |x| x * x, |x| x);
/// let err = gradcheck(wrong, &[3.0], &Options::default()).unwrap_err();
/// assert!(matches!(err, GradcheckError::Mismatch { input: 0, .. }));
/// ```
pub fn gradcheck<F: Fn(&[Value]) -> Value>(
    f: F,
    inputs: &[f64],
    opts: &Options,
) -> Result<Report, GradcheckError> {
    validate(opts).map_err(GradcheckError::InvalidOptions)?;
    let xs = leaves(inputs);
    let y = f(&xs);
    if !y.data().is_finite() {
        return Err(GradcheckError::NonFinite {
            input: None,
            what: format!("output {}", y.data()),
        });
    }
    y.backward();
    let numeric = numerical_gradient(&f, inputs, opts.eps);

    let mut checks = Vec::with_capacity(inputs.len());
    for (i, (x, &num)) in xs.iter().zip(&numeric).enumerate() {
        let analytic = x.grad();
        if !analytic.is_finite() || !num.is_finite() {
            return Err(GradcheckError::NonFinite {
                input: Some(i),
                what: format!("gradient (backward {analytic}, finite difference {num})"),
            });
        }
        checks.push(compare(analytic, num));
    }
    let report = Report {
        output: y.data(),
        inputs: checks,
    };
    // The worst input is the one furthest outside its tolerance, as a ratio.
    let worst = report
        .inputs
        .iter()
        .enumerate()
        .map(|(i, c)| (i, excess(c, opts)))
        .filter(|&(_, ratio)| ratio > 1.0)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match worst {
        None => Ok(report),
        Some((input, _)) => {
            let c = report.inputs[input];
            Err(GradcheckError::Mismatch {
                input,
                analytic: c.analytic,
                numeric: c.numeric,
                tolerance: tolerance(c.numeric, opts),
                report,
            })
        }
    }
}

/// Why `opts` cannot be used, if it cannot.
fn validate(opts: &Options) -> Result<(), String> {
    if !(opts.eps > 0.0 && opts.eps.is_finite()) {
        return Err(format!("eps must be positive and finite, got {}", opts.eps));
    }
    if !(opts.atol >= 0.0 && opts.rtol >= 0.0) {
        return Err(format!(
            "atol and rtol must be non-negative, got {} and {}",
            opts.atol, opts.rtol
        ));
    }
    Ok(())
}

fn compare(analytic: f64, numeric: f64) -> InputCheck {
    let abs_error = (analytic - numeric).abs();
    InputCheck {
        analytic,
        numeric,
        abs_error,
        rel_error: if abs_error == 0.0 {
            0.0
        } else {
            abs_error / numeric.abs()
        },
    }
}

/// The tolerance a derivative must meet against the finite difference `numeric`.
fn tolerance(numeric: f64, opts: &Options) -> f64 {
    opts.atol + opts.rtol * numeric.abs()
}

/// How far outside its tolerance a comparison is, as a ratio (above 1 fails).
fn excess(c: &InputCheck, opts: &Options) -> f64 {
    c.abs_error / tolerance(c.numeric, opts)
}

// ---------------------------------------------------------------------------------------
// Second derivatives.
// ---------------------------------------------------------------------------------------

/// The outcome of a passing [`gradgradcheck`]: the function's value and gradient, and one
/// [`InputCheck`] per second derivative.
#[derive(Clone, Debug, PartialEq)]
pub struct SecondOrderReport {
    /// `f(inputs)`.
    pub output: f64,
    /// `∇f(inputs)`, from `backward()`.
    pub gradient: Vec<f64>,
    /// `entries[i][j]` compares `∂²f/∂xⱼ∂xᵢ` from [`crate::grad`] applied twice with the
    /// central difference of `∂f/∂xᵢ` (from `backward()`) along input j.
    pub entries: Vec<Vec<InputCheck>>,
}

impl SecondOrderReport {
    /// The largest absolute error over all entries (0 with no inputs).
    #[must_use]
    pub fn max_abs_error(&self) -> f64 {
        self.entries
            .iter()
            .flatten()
            .map(|c| c.abs_error)
            .fold(0.0, f64::max)
    }

    /// The largest relative error over all entries (0 with no inputs).
    #[must_use]
    pub fn max_rel_error(&self) -> f64 {
        self.entries
            .iter()
            .flatten()
            .map(|c| c.rel_error)
            .fold(0.0, f64::max)
    }
}

/// Why [`gradgradcheck`] failed.
#[derive(Clone, Debug, PartialEq)]
pub enum GradgradcheckError {
    /// The second derivative `∂²f/∂xⱼ∂xᵢ` (the derivative of gradient entry `row` along
    /// input `col`) differs from the finite difference by more than
    /// `atol + rtol·|numeric|`. When several entries fail, this names the one furthest
    /// outside its tolerance.
    Mismatch {
        /// Which entry of the gradient was differentiated (i).
        row: usize,
        /// Which input it was differentiated along (j).
        col: usize,
        /// The second derivative from [`crate::grad`].
        analytic: f64,
        /// The central finite difference of the first derivative.
        numeric: f64,
        /// The tolerance it had to meet.
        tolerance: f64,
        /// Every entry's comparison, for a closer look.
        report: SecondOrderReport,
    },
    /// The function, a first or a second derivative is NaN or infinite at (or within
    /// `eps` of) the point, so there is nothing meaningful to compare.
    NonFinite {
        /// The entry `(row, col)` concerned, or `None` for the output or the gradient.
        entry: Option<(usize, usize)>,
        /// What was not finite.
        what: String,
    },
    /// A custom op in the function has no second derivative.
    Grad(GradError),
    /// An option is out of range (`eps` must be positive and finite, tolerances
    /// non-negative).
    InvalidOptions(String),
}

impl fmt::Display for GradgradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradgradcheckError::Mismatch {
                row,
                col,
                analytic,
                numeric,
                tolerance,
                ..
            } => write!(
                f,
                "second-derivative mismatch for ∂²f/∂x{col}∂x{row}: grad gives {analytic:e}, \
                 finite differences of the first derivative give {numeric:e} (difference \
                 {:e}, tolerance {tolerance:e}); check the second derivative of the ops \
                 that use these inputs",
                (analytic - numeric).abs()
            ),
            GradgradcheckError::NonFinite {
                entry: Some((row, col)),
                what,
            } => write!(
                f,
                "non-finite {what} for ∂²f/∂x{col}∂x{row}: move the point away from the edge \
                 of the function's domain"
            ),
            GradgradcheckError::NonFinite { entry: None, what } => write!(
                f,
                "non-finite {what}: choose a point inside the function's domain"
            ),
            GradgradcheckError::Grad(e) => write!(f, "{e}"),
            GradgradcheckError::InvalidOptions(why) => {
                write!(f, "invalid gradgradcheck options: {why}")
            }
        }
    }
}

impl Error for GradgradcheckError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            GradgradcheckError::Grad(e) => Some(e),
            _ => None,
        }
    }
}

impl From<GradError> for GradgradcheckError {
    fn from(e: GradError) -> GradgradcheckError {
        GradgradcheckError::Grad(e)
    }
}

/// The gradient of `y` with respect to `xs` from `backward()`.
fn gradient(y: &Value, xs: &[Value]) -> Vec<f64> {
    y.backward();
    xs.iter().map(Value::grad).collect()
}

/// The gradient of `f` at `inputs` from `backward()`, on fresh leaves.
fn gradient_at<F: Fn(&[Value]) -> Value>(f: &F, inputs: &[f64]) -> Vec<f64> {
    let xs = leaves(inputs);
    gradient(&f(&xs), &xs)
}

/// Checks the second derivatives that [`crate::grad`] builds for `f` at `inputs` against
/// central finite differences of the first derivatives from `backward()`, entry by
/// entry, with the same step and tolerances as [`gradcheck`]: each `∂²f/∂xⱼ∂xᵢ` must
/// satisfy `|analytic − numeric| ≤ atol + rtol·|numeric|`, where numeric is
/// `(∂f/∂xᵢ(x + eps·eⱼ) − ∂f/∂xᵢ(x − eps·eⱼ)) / 2eps`.
///
/// `f` is called once to build the graph and twice per input for the differences, so
/// it must be a pure function of its inputs.
///
/// # Errors
///
/// [`GradgradcheckError::Mismatch`] naming the worst entry and both numbers;
/// [`GradgradcheckError::NonFinite`] if the output, a first or second derivative or a
/// perturbed first derivative is not finite; [`GradgradcheckError::Grad`] if a custom op
/// lacks its second derivative; [`GradgradcheckError::InvalidOptions`] for a bad step or
/// tolerance.
///
/// ```
/// use scalargrad::check::{gradcheck, gradgradcheck, GradgradcheckError, Options};
/// use scalargrad::Value;
///
/// let f = |v: &[Value]| &v[0] * v[1].sin() + v[1].powi(3);
/// let report = gradgradcheck(f, &[1.5, -0.7], &Options::default())?;
/// assert!(report.max_abs_error() < 1e-6);
///
/// // x³ with a right first derivative and a wrong second one (3x instead of 6x):
/// // gradcheck cannot tell, gradgradcheck can.
/// let wrong = |v: &[Value]| {
///     v[0].custom_with_derivatives("cube", |x| x.powi(3), &[|x| 3.0 * x * x, |x| 3.0 * x])
/// };
/// assert!(gradcheck(wrong, &[2.0], &Options::default()).is_ok());
/// let err = gradgradcheck(wrong, &[2.0], &Options::default()).unwrap_err();
/// assert!(matches!(err, GradgradcheckError::Mismatch { row: 0, col: 0, .. }));
/// # Ok::<(), GradgradcheckError>(())
/// ```
pub fn gradgradcheck<F: Fn(&[Value]) -> Value>(
    f: F,
    inputs: &[f64],
    opts: &Options,
) -> Result<SecondOrderReport, GradgradcheckError> {
    validate(opts).map_err(GradgradcheckError::InvalidOptions)?;
    let xs = leaves(inputs);
    let y = f(&xs);
    if !y.data().is_finite() {
        return Err(GradgradcheckError::NonFinite {
            entry: None,
            what: format!("output {}", y.data()),
        });
    }
    let first = gradient(&y, &xs);
    if let Some(g) = first.iter().find(|g| !g.is_finite()) {
        return Err(GradgradcheckError::NonFinite {
            entry: None,
            what: format!("gradient entry {g}"),
        });
    }
    let analytic = hessian_of(&y, &xs)?;

    // numeric[j][i]: the central difference of ∂f/∂xᵢ along input j.
    let mut x = inputs.to_vec();
    let mut numeric = Vec::with_capacity(inputs.len());
    for j in 0..inputs.len() {
        x[j] = inputs[j] + opts.eps;
        let plus = gradient_at(&f, &x);
        x[j] = inputs[j] - opts.eps;
        let minus = gradient_at(&f, &x);
        x[j] = inputs[j];
        let column: Vec<f64> = plus
            .iter()
            .zip(&minus)
            .map(|(p, m)| (p - m) / (2.0 * opts.eps))
            .collect();
        numeric.push(column);
    }

    let mut entries = Vec::with_capacity(inputs.len());
    for (i, row) in analytic.iter().enumerate() {
        let mut checks = Vec::with_capacity(inputs.len());
        for (j, &a) in row.iter().enumerate() {
            let num = numeric[j][i];
            if !a.is_finite() || !num.is_finite() {
                return Err(GradgradcheckError::NonFinite {
                    entry: Some((i, j)),
                    what: format!("second derivative (grad {a}, finite difference {num})"),
                });
            }
            checks.push(compare(a, num));
        }
        entries.push(checks);
    }
    let report = SecondOrderReport {
        output: y.data(),
        gradient: first,
        entries,
    };
    let worst = report
        .entries
        .iter()
        .enumerate()
        .flat_map(|(i, row)| row.iter().enumerate().map(move |(j, c)| ((i, j), c)))
        .map(|(at, c)| (at, excess(c, opts)))
        .filter(|&(_, ratio)| ratio > 1.0)
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match worst {
        None => Ok(report),
        Some(((row, col), _)) => {
            let c = report.entries[row][col];
            Err(GradgradcheckError::Mismatch {
                row,
                col,
                analytic: c.analytic,
                numeric: c.numeric,
                tolerance: tolerance(c.numeric, opts),
                report,
            })
        }
    }
}
