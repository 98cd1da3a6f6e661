//! Gradient checking: `backward()` against central finite differences.
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

use crate::value::Value;

/// Step and tolerances for [`gradcheck`]. The defaults are PyTorch's `gradcheck`
/// defaults for `f64`.
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

/// How one input's gradient compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputCheck {
    /// The gradient from `backward()`.
    pub analytic: f64,
    /// The central finite difference `(f(x+eps) − f(x−eps)) / 2eps`.
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
    let xs: Vec<Value> = inputs.iter().map(|&x| Value::new(x)).collect();
    f(&xs).data()
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
    if !(opts.eps > 0.0 && opts.eps.is_finite()) {
        return Err(GradcheckError::InvalidOptions(format!(
            "eps must be positive and finite, got {}",
            opts.eps
        )));
    }
    if !(opts.atol >= 0.0 && opts.rtol >= 0.0) {
        return Err(GradcheckError::InvalidOptions(format!(
            "atol and rtol must be non-negative, got {} and {}",
            opts.atol, opts.rtol
        )));
    }
    let xs: Vec<Value> = inputs.iter().map(|&x| Value::new(x)).collect();
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
        let abs_error = (analytic - num).abs();
        checks.push(InputCheck {
            analytic,
            numeric: num,
            abs_error,
            rel_error: if abs_error == 0.0 {
                0.0
            } else {
                abs_error / num.abs()
            },
        });
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
        .map(|(i, c)| (i, c.abs_error / (opts.atol + opts.rtol * c.numeric.abs())))
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
                tolerance: opts.atol + opts.rtol * c.numeric.abs(),
                report,
            })
        }
    }
}
