//! Seeded toy data sets for training tiny networks: two moons, circles, XOR, spirals
//! and a noisy sine, plus mini-batch sampling and CSV loading.
//!
//! Every generator takes an `&mut impl Rng`, so the same seed gives the same data:
//!
//! ```
//! use rand::{rngs::StdRng, SeedableRng};
//! use scalargrad::data;
//!
//! let a = data::moons(100, 0.1, &mut StdRng::seed_from_u64(1));
//! let b = data::moons(100, 0.1, &mut StdRng::seed_from_u64(1));
//! assert_eq!(a, b);
//! assert_eq!((a.len(), a.inputs[0].len()), (100, 2));
//! ```

use std::error::Error;
use std::f64::consts::PI;
use std::fmt;
use std::path::Path;

use rand::{Rng, RngExt};

/// Inputs and targets, one row per example.
///
/// For classification sets the target is the class index (`0.0`, `1.0`, …, exact in
/// `f64`); for regression it is the value to predict.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// One input vector per example.
    pub inputs: Vec<Vec<f64>>,
    /// One target per example.
    pub targets: Vec<f64>,
}

impl Dataset {
    /// The number of examples.
    #[must_use]
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no examples.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Binary class targets mapped to −1 (class 0) and +1 (class 1), the labels a
    /// max-margin (hinge) loss expects.
    ///
    /// ```
    /// use scalargrad::data::Dataset;
    /// let d = Dataset { inputs: vec![vec![0.0]; 2], targets: vec![0.0, 1.0] };
    /// assert_eq!(d.signed_targets(), vec![-1.0, 1.0]);
    /// ```
    #[must_use]
    pub fn signed_targets(&self) -> Vec<f64> {
        self.targets.iter().map(|&t| 2.0 * t - 1.0).collect()
    }

    /// The examples at `indices`, as a new data set (for a mini-batch or a split).
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    #[must_use]
    pub fn select(&self, indices: &[usize]) -> Dataset {
        Dataset {
            inputs: indices.iter().map(|&i| self.inputs[i].clone()).collect(),
            targets: indices.iter().map(|&i| self.targets[i]).collect(),
        }
    }

    /// `batch_size` distinct example indices drawn at random (all of them, shuffled, if
    /// the set is smaller): one stochastic mini-batch.
    ///
    /// ```
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let d = scalargrad::data::xor(40, 0.1, &mut StdRng::seed_from_u64(0));
    /// let batch = d.sample_batch(8, &mut StdRng::seed_from_u64(1));
    /// assert_eq!(batch.len(), 8);
    /// ```
    #[must_use]
    pub fn sample_batch(&self, batch_size: usize, rng: &mut impl Rng) -> Vec<usize> {
        let mut indices: Vec<usize> = (0..self.len()).collect();
        let k = batch_size.min(indices.len());
        // A partial Fisher–Yates shuffle: the first k slots end up a uniform sample.
        for i in 0..k {
            let j = rng.random_range(i..indices.len());
            indices.swap(i, j);
        }
        indices.truncate(k);
        indices
    }

    /// Reads a CSV file of numeric rows, the last column being the target and the
    /// others the inputs (for instance `x0,x1,y`). Blank lines are skipped, and so is
    /// the first other line if it does not parse as numbers (a header).
    ///
    /// # Errors
    ///
    /// [`DataError::Io`] if the file cannot be read; [`DataError::Parse`] with the line
    /// number for a field that is not a number, a row of the wrong width, or a file
    /// with no rows.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Dataset, DataError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Dataset::parse_csv(&text).map_err(|e| match e {
            DataError::Parse { line, message, .. } => DataError::Parse {
                path: path.display().to_string(),
                line,
                message,
            },
            other => other,
        })
    }

    /// Parses CSV text as [`Dataset::read_csv`] does.
    ///
    /// # Errors
    ///
    /// [`DataError::Parse`] as for [`Dataset::read_csv`] (its `path` is empty).
    ///
    /// ```
    /// let d = scalargrad::data::Dataset::parse_csv("x0,x1,y\n0.5,1.0,1\n-0.5,0.2,0\n")?;
    /// assert_eq!(d.inputs, vec![vec![0.5, 1.0], vec![-0.5, 0.2]]);
    /// assert_eq!(d.targets, vec![1.0, 0.0]);
    /// # Ok::<(), scalargrad::data::DataError>(())
    /// ```
    pub fn parse_csv(text: &str) -> Result<Dataset, DataError> {
        let parse_error = |line: usize, message: String| DataError::Parse {
            path: String::new(),
            line,
            message,
        };
        let mut data = Dataset {
            inputs: Vec::new(),
            targets: Vec::new(),
        };
        let mut width = None;
        let mut first = true;
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() {
                continue;
            }
            let may_be_header = std::mem::replace(&mut first, false);
            let fields: Result<Vec<f64>, _> =
                line.split(',').map(|f| f.trim().parse::<f64>()).collect();
            let row = match fields {
                Ok(row) => row,
                Err(_) if may_be_header => continue,
                Err(e) => return Err(parse_error(number, format!("{e} in '{line}'"))),
            };
            if row.len() < 2 {
                return Err(parse_error(
                    number,
                    format!(
                        "expected at least one input and a target, got {} field(s)",
                        row.len()
                    ),
                ));
            }
            if *width.get_or_insert(row.len()) != row.len() {
                return Err(parse_error(
                    number,
                    format!(
                        "expected {} fields like the rows before, got {}",
                        width.unwrap_or(0),
                        row.len()
                    ),
                ));
            }
            if let Some(bad) = row.iter().find(|x| !x.is_finite()) {
                return Err(parse_error(number, format!("non-finite value {bad}")));
            }
            let (target, inputs) = row.split_last().expect("row has at least two fields");
            data.inputs.push(inputs.to_vec());
            data.targets.push(*target);
        }
        if data.is_empty() {
            return Err(parse_error(0, "no data rows".into()));
        }
        Ok(data)
    }
}

/// Why a data file could not be loaded.
#[derive(Debug)]
pub enum DataError {
    /// The file could not be read.
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file's content is not a table of numbers.
    Parse {
        /// The file (empty when parsing text directly).
        path: String,
        /// The 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, source } => write!(f, "cannot read data file {path}: {source}"),
            DataError::Parse {
                path,
                line,
                message,
            } => write!(
                f,
                "bad data in {}{}: {message}; expected rows of numbers like x0,x1,y",
                if path.is_empty() { "CSV text" } else { path },
                if *line > 0 {
                    format!(" line {line}")
                } else {
                    String::new()
                }
            ),
        }
    }
}

impl Error for DataError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            DataError::Parse { .. } => None,
        }
    }
}

/// A standard normal sample by the Box–Muller transform.
pub(crate) fn standard_normal(rng: &mut impl Rng) -> f64 {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
}

/// Shuffles the rows of a data set in place (Fisher–Yates).
fn shuffle(data: &mut Dataset, rng: &mut impl Rng) {
    for i in (1..data.len()).rev() {
        let j = rng.random_range(0..=i);
        data.inputs.swap(i, j);
        data.targets.swap(i, j);
    }
}

/// Adds Gaussian noise of standard deviation `noise` to every input coordinate.
fn jitter(points: &mut [Vec<f64>], noise: f64, rng: &mut impl Rng) {
    for p in points.iter_mut().flatten() {
        *p += noise * standard_normal(rng);
    }
}

/// Two interleaving half circles (the classic "moons"), `n` points in all, class 0 on
/// the upper moon and class 1 on the lower, with Gaussian noise of standard deviation
/// `noise` and rows shuffled. The same construction as scikit-learn's `make_moons`.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// let d = scalargrad::data::moons(100, 0.1, &mut StdRng::seed_from_u64(7));
/// assert_eq!(d.targets.iter().filter(|&&t| t == 1.0).count(), 50);
/// ```
pub fn moons(n: usize, noise: f64, rng: &mut impl Rng) -> Dataset {
    let n_upper = n / 2;
    let n_lower = n - n_upper;
    let angle = |i: usize, count: usize| {
        if count > 1 {
            PI * i as f64 / (count - 1) as f64
        } else {
            0.0
        }
    };
    let mut inputs = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n_upper {
        let t = angle(i, n_upper);
        inputs.push(vec![t.cos(), t.sin()]);
        targets.push(0.0);
    }
    for i in 0..n_lower {
        let t = angle(i, n_lower);
        inputs.push(vec![1.0 - t.cos(), 0.5 - t.sin()]);
        targets.push(1.0);
    }
    jitter(&mut inputs, noise, rng);
    let mut data = Dataset { inputs, targets };
    shuffle(&mut data, rng);
    data
}

/// Two concentric circles, `n` points in all: class 0 on the outer circle (radius 1),
/// class 1 on the inner one (radius `factor`), with Gaussian noise, rows shuffled.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// let d = scalargrad::data::circles(50, 0.0, 0.5, &mut StdRng::seed_from_u64(0));
/// let r = |p: &Vec<f64>| (p[0] * p[0] + p[1] * p[1]).sqrt();
/// assert!(d.inputs.iter().zip(&d.targets).all(|(p, &t)| (r(p) - if t == 0.0 { 1.0 } else { 0.5 }).abs() < 1e-12));
/// ```
pub fn circles(n: usize, noise: f64, factor: f64, rng: &mut impl Rng) -> Dataset {
    let n_outer = n / 2;
    let n_inner = n - n_outer;
    let mut inputs = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    for (count, radius, class) in [(n_outer, 1.0, 0.0), (n_inner, factor, 1.0)] {
        for i in 0..count {
            let t = 2.0 * PI * i as f64 / count as f64;
            inputs.push(vec![radius * t.cos(), radius * t.sin()]);
            targets.push(class);
        }
    }
    jitter(&mut inputs, noise, rng);
    let mut data = Dataset { inputs, targets };
    shuffle(&mut data, rng);
    data
}

/// The XOR problem: `n` points around the four corners (±1, ±1) with Gaussian noise;
/// class 1 where the corner's coordinates differ in sign, class 0 where they agree.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// let d = scalargrad::data::xor(4, 0.0, &mut StdRng::seed_from_u64(0));
/// for (p, t) in d.inputs.iter().zip(&d.targets) {
///     assert_eq!(*t, if p[0] * p[1] < 0.0 { 1.0 } else { 0.0 });
/// }
/// ```
pub fn xor(n: usize, noise: f64, rng: &mut impl Rng) -> Dataset {
    let corners = [
        (-1.0, -1.0, 0.0),
        (-1.0, 1.0, 1.0),
        (1.0, -1.0, 1.0),
        (1.0, 1.0, 0.0),
    ];
    let mut inputs = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y, class) = corners[i % 4];
        inputs.push(vec![x, y]);
        targets.push(class);
    }
    jitter(&mut inputs, noise, rng);
    let mut data = Dataset { inputs, targets };
    shuffle(&mut data, rng);
    data
}

/// `classes` interleaved spiral arms of `n_per_class` points each, in the unit disc,
/// with angular noise of standard deviation `noise` (radians, scaled as in the classic
/// CS231n construction); targets are the arm index.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// let d = scalargrad::data::spirals(30, 3, 0.2, &mut StdRng::seed_from_u64(0));
/// assert_eq!(d.len(), 90);
/// assert!(d.targets.iter().all(|&t| t == 0.0 || t == 1.0 || t == 2.0));
/// ```
pub fn spirals(n_per_class: usize, classes: usize, noise: f64, rng: &mut impl Rng) -> Dataset {
    let mut inputs = Vec::with_capacity(n_per_class * classes);
    let mut targets = Vec::with_capacity(n_per_class * classes);
    for class in 0..classes {
        for i in 0..n_per_class {
            let r = i as f64 / (n_per_class.max(2) - 1) as f64;
            let t = 4.0 * (class as f64 + r) + noise * standard_normal(rng);
            inputs.push(vec![r * t.sin(), r * t.cos()]);
            targets.push(class as f64);
        }
    }
    let mut data = Dataset { inputs, targets };
    shuffle(&mut data, rng);
    data
}

/// Regression data: `n` inputs x drawn uniformly from [−π, π] with targets
/// `sin(x)` plus Gaussian noise of standard deviation `noise`.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// let d = scalargrad::data::sine(20, 0.0, &mut StdRng::seed_from_u64(0));
/// assert!(d.inputs.iter().zip(&d.targets).all(|(x, &y)| y == x[0].sin()));
/// ```
pub fn sine(n: usize, noise: f64, rng: &mut impl Rng) -> Dataset {
    let mut inputs = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    for _ in 0..n {
        let x = rng.random_range(-PI..PI);
        inputs.push(vec![x]);
        targets.push(x.sin() + noise * standard_normal(rng));
    }
    Dataset { inputs, targets }
}
