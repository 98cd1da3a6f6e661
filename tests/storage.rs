//! Node storage under random use: values created, combined, cloned and dropped in any
//! order, with large temporary graphs filling and freeing blocks of storage in between,
//! never lose or mix up a live node's data, operands or gradient.
//!
//! Every live node holds a gradient of its own (see [`Live::grad`]), so a node that
//! lost its storage, or shared it with another, shows up as a wrong gradient as well
//! as wrong data.

use std::collections::BTreeSet;

use proptest::prelude::*;
use scalargrad::Value;

/// One step of a random program.
#[derive(Clone, Debug)]
enum Action {
    /// A new leaf.
    Leaf(f64),
    /// `a + b` or `a · b` of two live values (indices taken modulo the live count).
    Combine { a: usize, b: usize, multiply: bool },
    /// Another handle to a live value.
    Clone(usize),
    /// Drops a live value's handle.
    Drop(usize),
    /// Builds, differentiates and drops a temporary chain of `5 · len` nodes on a live
    /// value (each step `relu(x · 1 + 1)` makes two constants and three results),
    /// which fills and frees whole blocks of storage. Each step's derivative is 1 or 0,
    /// so the chain's derivative stays 1 or 0 at any length, where a chain of `tanh`
    /// steps underflowed to 0 within a few hundred steps and left nothing to compare.
    Temporary { on: usize, len: usize },
    /// Labels a live value.
    Label(usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (-4.0..4.0f64).prop_map(Action::Leaf),
        4 => (any::<usize>(), any::<usize>(), any::<bool>())
            .prop_map(|(a, b, multiply)| Action::Combine { a, b, multiply }),
        1 => any::<usize>().prop_map(Action::Clone),
        3 => any::<usize>().prop_map(Action::Drop),
        1 => (any::<usize>(), 1..3_000usize).prop_map(|(on, len)| Action::Temporary { on, len }),
        1 => any::<usize>().prop_map(Action::Label),
    ]
}

/// A live value and what it must hold.
struct Live {
    value: Value,
    /// A number that names the node (not the handle): clones share it.
    id: usize,
    /// The ids of the nodes the value was computed from, its own included: what
    /// `zero_grad` on it reaches among the values the test made.
    reaches: BTreeSet<usize>,
    data: f64,
    /// The gradient the node must hold: a number of its own, set when it is made, or
    /// 0 once a `zero_grad` has reached it.
    grad: f64,
    /// `(a, b, multiply)` for a combined value: the data its operands must hold.
    operands: Option<(f64, f64, bool)>,
    label: Option<String>,
}

/// A gradient no other node made by the test holds: the node's id plus one.
fn own_gradient(id: usize) -> f64 {
    (id + 1) as f64
}

/// Gives a node just made the gradient [`own_gradient`], after checking that it starts
/// at 0 (memory that held a freed node must not pass its gradient on).
fn mark_new(value: &Value, id: usize) -> Result<f64, TestCaseError> {
    prop_assert_eq!(
        value.grad().to_bits(),
        0.0f64.to_bits(),
        "a new node's gradient"
    );
    let grad = own_gradient(id);
    value.set_grad(grad);
    Ok(grad)
}

/// `∂x/∂base` for the chain `x = relu(base · 1 + 1)` repeated `len` times, by the
/// chain rule on plain numbers (relu'(0) = 0, as the engine has it).
fn chain_derivative(base: f64, len: usize) -> f64 {
    let (mut x, mut d) = (base, 1.0);
    for _ in 0..len {
        let z = x * 1.0 + 1.0;
        x = z.max(0.0);
        d *= if z > 0.0 { 1.0 } else { 0.0 };
    }
    d
}

fn check(live: &[Live]) -> Result<(), TestCaseError> {
    for (i, l) in live.iter().enumerate() {
        prop_assert_eq!(l.value.data().to_bits(), l.data.to_bits(), "value {}", i);
        prop_assert_eq!(l.value.label(), l.label.clone(), "label of value {}", i);
        prop_assert_eq!(
            l.value.grad().to_bits(),
            l.grad.to_bits(),
            "gradient of value {}",
            i
        );
        let operands = l.value.operands();
        match l.operands {
            None => prop_assert!(operands.is_empty(), "value {} is a leaf", i),
            Some((a, b, multiply)) => {
                prop_assert_eq!(operands.len(), 2);
                prop_assert_eq!(operands[0].data().to_bits(), a.to_bits());
                prop_assert_eq!(operands[1].data().to_bits(), b.to_bits());
                prop_assert_eq!(l.value.op_name(), if multiply { "*" } else { "+" });
            }
        }
    }
    Ok(())
}

proptest! {
    /// After every step of a random program, each live value still has its data, its
    /// operands' data, its op, its label and its gradient; a temporary chain's
    /// gradient reaches its base, and `zero_grad` clears exactly the base's graph.
    #[test]
    fn live_nodes_survive_any_order_of_creating_and_freeing(
        actions in prop::collection::vec(action(), 1..150)
    ) {
        let mut live: Vec<Live> = Vec::new();
        let mut made = 0;
        for action in actions {
            match action {
                Action::Leaf(x) => {
                    let (value, id) = (Value::new(x), made);
                    made += 1;
                    let grad = mark_new(&value, id)?;
                    live.push(Live {
                        value,
                        id,
                        reaches: BTreeSet::from([id]),
                        data: x,
                        grad,
                        operands: None,
                        label: None,
                    });
                }
                Action::Combine { a, b, multiply } if !live.is_empty() => {
                    let (a, b) = (&live[a % live.len()], &live[b % live.len()]);
                    let (value, data) = if multiply {
                        (&a.value * &b.value, a.data * b.data)
                    } else {
                        (&a.value + &b.value, a.data + b.data)
                    };
                    let operands = Some((a.data, b.data, multiply));
                    let id = made;
                    made += 1;
                    let reaches = a.reaches.union(&b.reaches).copied().chain([id]).collect();
                    let grad = mark_new(&value, id)?;
                    live.push(Live { value, id, reaches, data, grad, operands, label: None });
                }
                Action::Clone(i) if !live.is_empty() => {
                    let l = &live[i % live.len()];
                    let copy = Live {
                        value: l.value.clone(),
                        id: l.id,
                        reaches: l.reaches.clone(),
                        data: l.data,
                        grad: l.grad,
                        operands: l.operands,
                        label: l.label.clone(),
                    };
                    live.push(copy);
                }
                Action::Drop(i) if !live.is_empty() => {
                    let i = i % live.len();
                    live.swap_remove(i);
                }
                Action::Temporary { on, len } if !live.is_empty() => {
                    let on = &live[on % live.len()];
                    let (base, reaches) = (on.value.clone(), on.reaches.clone());
                    let expected = chain_derivative(on.data, len);
                    base.zero_grad();
                    let mut x = base.clone();
                    for _ in 0..len {
                        x = (&x * 1.0 + 1.0).relu();
                    }
                    prop_assert_eq!(x.nodes().len(), 5 * len + base.nodes().len());
                    x.backward();
                    drop(x);
                    // A NaN or an infinity fails the comparison too.
                    let grad = base.grad();
                    prop_assert!(
                        (grad - expected).abs() <= 1e-12 * expected.abs() + f64::MIN_POSITIVE,
                        "∂x/∂base = {}, expected {}", grad, expected
                    );
                    base.zero_grad();
                    for l in live.iter_mut().filter(|l| reaches.contains(&l.id)) {
                        l.grad = 0.0;
                    }
                }
                Action::Label(i) if !live.is_empty() => {
                    let i = i % live.len();
                    let name = format!("v{i}");
                    let node = live[i].value.clone().with_label(name.clone());
                    // Every handle to the node sees the label.
                    for l in live.iter_mut().filter(|l| l.value.ptr_eq(&node)) {
                        l.label = Some(name.clone());
                    }
                }
                _ => {}
            }
            check(&live)?;
        }
    }
}
