//! Node storage under random use: values created, combined, cloned and dropped in any
//! order, with large temporary graphs filling and freeing blocks of storage in between,
//! never lose or mix up a live node's data, operands or gradient.

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
    /// Builds, differentiates and drops a temporary chain of `3 · len` nodes on a live
    /// value, which fills and frees whole blocks of storage.
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
    data: f64,
    /// `(a, b, multiply)` for a combined value: the data its operands must hold.
    operands: Option<(f64, f64, bool)>,
    label: Option<String>,
}

fn check(live: &[Live]) -> Result<(), TestCaseError> {
    for (i, l) in live.iter().enumerate() {
        prop_assert_eq!(l.value.data().to_bits(), l.data.to_bits(), "value {}", i);
        prop_assert_eq!(l.value.label(), l.label.clone(), "label of value {}", i);
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
    #[test]
    fn live_nodes_survive_any_order_of_creating_and_freeing(
        actions in prop::collection::vec(action(), 1..150)
    ) {
        let mut live: Vec<Live> = Vec::new();
        for action in actions {
            match action {
                Action::Leaf(x) => live.push(Live {
                    value: Value::new(x),
                    data: x,
                    operands: None,
                    label: None,
                }),
                Action::Combine { a, b, multiply } if !live.is_empty() => {
                    let (a, b) = (&live[a % live.len()], &live[b % live.len()]);
                    let (value, data) = if multiply {
                        (&a.value * &b.value, a.data * b.data)
                    } else {
                        (&a.value + &b.value, a.data + b.data)
                    };
                    let operands = Some((a.data, b.data, multiply));
                    live.push(Live { value, data, operands, label: None });
                }
                Action::Clone(i) if !live.is_empty() => {
                    let l = &live[i % live.len()];
                    let copy = Live {
                        value: l.value.clone(),
                        data: l.data,
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
                    let base = &live[on % live.len()].value;
                    let grad_before = base.grad();
                    let mut x = base.clone();
                    for _ in 0..len {
                        x = (&x * 0.5 + 1.0).tanh();
                    }
                    x.backward();
                    prop_assert!(base.grad().is_finite());
                    base.set_grad(grad_before);
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
