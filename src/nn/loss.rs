//! Loss functions (each the mean over a batch) and an accuracy helper.
//!
//! Every loss panics with a clear message when predictions and targets differ in
//! length or the batch is empty: both are mistakes in the calling code, not in data.

use crate::reduce::log_softmax;
use crate::value::Value;

#[track_caller]
fn check_batch(predictions: usize, targets: usize) {
    assert!(predictions > 0, "a loss needs at least one prediction");
    assert_eq!(
        predictions, targets,
        "{predictions} predictions but {targets} targets"
    );
}

/// Mean squared error: `mean((pᵢ − tᵢ)²)`.
///
/// # Panics
///
/// If the slices differ in length or are empty.
///
/// ```
/// use scalargrad::{nn::loss::mse, Value};
/// let p = [Value::new(1.0), Value::new(3.0)];
/// let l = mse(&p, &[0.0, 1.0]);
/// l.backward();
/// assert_eq!(l.data(), 2.5); // (1 + 4) / 2
/// assert_eq!(p[1].grad(), 2.0); // 2·(3 − 1) / 2
/// ```
#[must_use]
pub fn mse(predictions: &[Value], targets: &[f64]) -> Value {
    check_batch(predictions.len(), targets.len());
    let errors: Vec<Value> = predictions
        .iter()
        .zip(targets)
        .map(|(p, &t)| p - t)
        .collect();
    Value::dot(&errors, &errors) / predictions.len() as f64
}

/// Binary cross-entropy on logits, `mean(softplus(zᵢ) − tᵢ·zᵢ)` with targets in [0, 1]:
/// the same as `−t·ln σ(z) − (1 − t)·ln(1 − σ(z))`, but finite for any logit.
///
/// # Panics
///
/// If the slices differ in length or are empty.
///
/// ```
/// use scalargrad::{nn::loss::binary_cross_entropy_with_logits as bce, Value};
/// let z = [Value::new(0.0)];
/// let l = bce(&z, &[1.0]);
/// l.backward();
/// assert!((l.data() - 2f64.ln()).abs() < 1e-15);
/// assert_eq!(z[0].grad(), -0.5); // σ(0) − 1
/// assert!(bce(&[Value::new(-1000.0)], &[1.0]).data().is_finite());
/// ```
#[must_use]
pub fn binary_cross_entropy_with_logits(logits: &[Value], targets: &[f64]) -> Value {
    check_batch(logits.len(), targets.len());
    let terms: Vec<Value> = logits
        .iter()
        .zip(targets)
        .map(|(z, &t)| z.softplus() - z * t)
        .collect();
    Value::sum(&terms) / logits.len() as f64
}

/// Cross-entropy of one example's class `target` under the softmax of `logits`:
/// `−log_softmax(z)[target]`, computed stably.
///
/// # Panics
///
/// If `target` is not a valid class index.
///
/// ```
/// use scalargrad::{nn::loss::softmax_cross_entropy, Value};
/// let z = [Value::new(0.0), Value::new(0.0)];
/// let l = softmax_cross_entropy(&z, 1);
/// l.backward();
/// assert!((l.data() - 2f64.ln()).abs() < 1e-15);
/// assert_eq!((z[0].grad(), z[1].grad()), (0.5, -0.5)); // softmax − one-hot
/// ```
#[must_use]
pub fn softmax_cross_entropy(logits: &[Value], target: usize) -> Value {
    assert!(
        target < logits.len(),
        "class {target} is out of range for {} logits",
        logits.len()
    );
    -&log_softmax(logits)[target]
}

/// micrograd's max-margin ("SVM") loss for labels ±1: `mean(relu(1 − yᵢ·sᵢ))`.
///
/// # Panics
///
/// If the slices differ in length or are empty.
///
/// ```
/// use scalargrad::{nn::loss::hinge, Value};
/// let s = [Value::new(2.0), Value::new(0.5)];
/// assert_eq!(hinge(&s, &[1.0, 1.0]).data(), 0.25); // (0 + 0.5) / 2
/// ```
#[must_use]
pub fn hinge(scores: &[Value], labels: &[f64]) -> Value {
    check_batch(scores.len(), labels.len());
    let margins: Vec<Value> = scores
        .iter()
        .zip(labels)
        .map(|(s, &y)| (1.0 - s * y).relu())
        .collect();
    Value::sum(&margins) / scores.len() as f64
}

/// An L2 penalty `alpha·Σ pᵢ²`, as one fused node.
///
/// ```
/// use scalargrad::{nn::loss::l2, Value};
/// let p = [Value::new(1.0), Value::new(-2.0)];
/// let r = l2(&p, 1e-4);
/// r.backward();
/// assert!((r.data() - 5e-4).abs() < 1e-18);
/// assert_eq!(p[1].grad(), -4e-4); // 2·alpha·p
/// ```
#[must_use]
pub fn l2(params: &[Value], alpha: f64) -> Value {
    Value::dot(params, params) * alpha
}

/// The fraction of `scores` whose sign matches `labels` (±1, or any sign convention:
/// a score counts as positive when `> 0`), as micrograd reports it. A NaN score is
/// never right (as in [`class_accuracy`]): a diverged model scores 0.
///
/// # Panics
///
/// If the slices differ in length or are empty.
///
/// ```
/// use scalargrad::nn::loss::accuracy;
/// assert_eq!(accuracy(&[0.3, -2.0, 1.0, -0.1], &[1.0, -1.0, -1.0, -1.0]), 0.75);
/// ```
#[must_use]
pub fn accuracy(scores: &[f64], labels: &[f64]) -> f64 {
    check_batch(scores.len(), labels.len());
    let correct = scores
        .iter()
        .zip(labels)
        .filter(|(&s, &y)| !s.is_nan() && (s > 0.0) == (y > 0.0))
        .count();
    correct as f64 / scores.len() as f64
}

/// The fraction of examples whose largest output is at the target class.
///
/// # Panics
///
/// If the slices differ in length or are empty.
///
/// ```
/// use scalargrad::nn::loss::class_accuracy;
/// let outputs = vec![vec![0.1, 0.9], vec![2.0, -1.0]];
/// assert_eq!(class_accuracy(&outputs, &[1, 1]), 0.5);
/// ```
#[must_use]
pub fn class_accuracy(outputs: &[Vec<f64>], classes: &[usize]) -> f64 {
    check_batch(outputs.len(), classes.len());
    let correct = outputs
        .iter()
        .zip(classes)
        .filter(|(out, &class)| argmax(out) == Some(class))
        .count();
    correct as f64 / outputs.len() as f64
}

/// The index of the largest entry (the first on a tie; `None` if empty or NaN wins).
#[must_use]
pub fn argmax(xs: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &x) in xs.iter().enumerate() {
        if x.is_nan() {
            return None;
        }
        if best.is_none_or(|b| x > xs[b]) {
            best = Some(i);
        }
    }
    best
}
