//! Operator overloading: `+ - * /` and unary `-` for every mix of `Value`, `&Value`
//! and `f64`, the `op=` forms, and `Sum`/`Product` over iterators.
//!
//! One macro writes every form of each operator on top of `Value::combine`, which
//! takes its operands by value: an owned operand (a temporary) moves into the new node,
//! a borrowed one is cloned. An `f64` operand becomes a constant leaf node, as in
//! micrograd, so it shows up in the graph and in DOT output.

use std::iter::{Product, Sum};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::op::Binary;
use crate::value::Value;

/// Implements one binary operator for every combination of `Value`, `&Value` and
/// `f64`. Owned operands move into the new node; borrowed ones are cloned (a count
/// raised, nothing copied).
///
/// Every method is `#[inline]`, as are `Value::new`, the accessors and the common
/// activations: without it, code in another crate (every user's, and the benches')
/// calls each operator out of line, spilling and reloading its registers around every
/// node. W1's scalar step went from about 457 to 405 µs when they became inlinable.
macro_rules! binary_operator {
    ($trait:ident, $method:ident, $assign_trait:ident, $assign_method:ident, $op:expr) => {
        impl $trait<&Value> for &Value {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: &Value) -> Value {
                Value::combine($op, self.clone(), rhs.clone())
            }
        }
        impl $trait<Value> for Value {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: Value) -> Value {
                Value::combine($op, self, rhs)
            }
        }
        impl $trait<&Value> for Value {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: &Value) -> Value {
                Value::combine($op, self, rhs.clone())
            }
        }
        impl $trait<Value> for &Value {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: Value) -> Value {
                Value::combine($op, self.clone(), rhs)
            }
        }
        impl $trait<f64> for &Value {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: f64) -> Value {
                Value::combine($op, self.clone(), Value::new(rhs))
            }
        }
        impl $trait<f64> for Value {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: f64) -> Value {
                Value::combine($op, self, Value::new(rhs))
            }
        }
        impl $trait<&Value> for f64 {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: &Value) -> Value {
                Value::combine($op, Value::new(self), rhs.clone())
            }
        }
        impl $trait<Value> for f64 {
            type Output = Value;
            #[inline]
            fn $method(self, rhs: Value) -> Value {
                Value::combine($op, Value::new(self), rhs)
            }
        }
        impl $assign_trait<&Value> for Value {
            #[inline]
            fn $assign_method(&mut self, rhs: &Value) {
                *self = Value::combine($op, self.clone(), rhs.clone());
            }
        }
        impl $assign_trait<Value> for Value {
            #[inline]
            fn $assign_method(&mut self, rhs: Value) {
                *self = Value::combine($op, self.clone(), rhs);
            }
        }
        impl $assign_trait<f64> for Value {
            #[inline]
            fn $assign_method(&mut self, rhs: f64) {
                *self = Value::combine($op, self.clone(), Value::new(rhs));
            }
        }
    };
}

binary_operator!(Add, add, AddAssign, add_assign, Binary::Add);
binary_operator!(Sub, sub, SubAssign, sub_assign, Binary::Sub);
binary_operator!(Mul, mul, MulAssign, mul_assign, Binary::Mul);
binary_operator!(Div, div, DivAssign, div_assign, Binary::Div);

impl Neg for &Value {
    type Output = Value;
    fn neg(self) -> Value {
        self.neg_node()
    }
}

impl Neg for Value {
    type Output = Value;
    fn neg(self) -> Value {
        self.neg_node()
    }
}

/// Sums into one fused node (see [`Value::sum`]); the empty sum is −0.0.
impl Sum for Value {
    fn sum<I: Iterator<Item = Value>>(iter: I) -> Value {
        let terms: Vec<Value> = iter.collect();
        Value::sum(&terms)
    }
}

/// Sums into one fused node (see [`Value::sum`]); the empty sum is −0.0.
impl<'a> Sum<&'a Value> for Value {
    fn sum<I: Iterator<Item = &'a Value>>(iter: I) -> Value {
        let terms: Vec<Value> = iter.cloned().collect();
        Value::sum(&terms)
    }
}

/// Multiplies left to right, one node per factor; the empty product is 1.
impl Product for Value {
    fn product<I: Iterator<Item = Value>>(iter: I) -> Value {
        iter.reduce(|acc, x| acc * x)
            .unwrap_or_else(|| Value::new(1.0))
    }
}

/// Multiplies left to right, one node per factor; the empty product is 1.
impl<'a> Product<&'a Value> for Value {
    fn product<I: Iterator<Item = &'a Value>>(iter: I) -> Value {
        iter.cloned().product()
    }
}
