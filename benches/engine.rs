//! Engine benchmarks: graph build + backward + drop on a deep chain and a wide sum.
//!
//! Run with `cargo bench --bench engine`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scalargrad::Value;

const CHAIN: usize = 1_000_000;
const TERMS: usize = 200_000;

/// x = relu(x·0.999999 + 1e-6), a million times: three nodes per step.
fn deep_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain");
    group.sample_size(10);
    group.throughput(Throughput::Elements(CHAIN as u64));
    group.bench_function("relu 1e6: build + backward + drop", |b| {
        b.iter(|| {
            let x0 = Value::new(0.5);
            let mut x = x0.clone();
            for _ in 0..CHAIN {
                x = (&x * 0.999_999 + 1e-6).relu();
            }
            x.backward();
            black_box(x0.grad())
        });
    });
    group.finish();
}

/// Σ aᵢ·bᵢ over 200,000 terms: by repeated `+`, with `Value::sum`, and with
/// `Value::dot` (one node).
fn wide_sum(c: &mut Criterion) {
    let mut group = c.benchmark_group("sum");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TERMS as u64));
    let a: Vec<Value> = (0..TERMS).map(|i| Value::new(i as f64 * 1e-3)).collect();
    let b: Vec<Value> = (0..TERMS)
        .map(|i| Value::new(1.0 - i as f64 * 1e-6))
        .collect();
    group.bench_function("200k: repeated +", |bench| {
        bench.iter(|| {
            let mut s = &a[0] * &b[0];
            for (x, y) in a.iter().zip(&b).skip(1) {
                s += x * y;
            }
            s.backward();
            black_box(s.data())
        });
    });
    group.bench_function("200k: Value::sum of products", |bench| {
        bench.iter(|| {
            let products: Vec<Value> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
            let s = Value::sum(&products);
            s.backward();
            black_box(s.data())
        });
    });
    group.bench_function("200k: Value::dot", |bench| {
        bench.iter(|| {
            let s = Value::dot(&a, &b);
            s.backward();
            black_box(s.data())
        });
    });
    group.finish();
}

criterion_group!(benches, deep_chain, wide_sum);
criterion_main!(benches);
