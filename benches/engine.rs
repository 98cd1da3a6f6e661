//! The benchmark workloads (see `workloads/mod.rs`), each run by the engine beside a
//! hand-written flat tape and, for the MLP step, a hand-derived forward/backward.
//!
//! Run with `cargo bench --bench engine`; `cargo run --release --example bench` runs
//! the same workloads and prints them as one table with ratios to the tape.

mod workloads;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use scalargrad::nn::Module;
use workloads::*;

/// W1: one training step of micrograd's moons demo. The step updates the parameters,
/// so each iteration gets fresh ones from the untimed setup.
fn moons_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("W1 moons-step");
    let data = w1_data();
    let init = init_params(PARAM_SEED);
    group.bench_function("engine, scalar graph", |b| {
        b.iter_batched(
            || engine_params(&init),
            |params| black_box(engine_step(&params, &data, LEARNING_RATE)),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("nn (Mlp, fused nodes)", |b| {
        b.iter_batched(
            || {
                let model = nn_model(&init);
                let params = model.parameters();
                (model, params)
            },
            |(model, params)| black_box(nn_step(&model, &params, &data, LEARNING_RATE)),
            BatchSize::SmallInput,
        );
    });
    let mut tape = Tape::new();
    group.bench_function("tape", |b| {
        b.iter_batched(
            || init.clone(),
            |mut params| black_box(tape_step(&mut tape, &mut params, &data, LEARNING_RATE)),
            BatchSize::SmallInput,
        );
    });
    let mut scratch = Analytic::default();
    group.bench_function("analytic", |b| {
        b.iter_batched(
            || init.clone(),
            |mut params| {
                black_box(analytic_step(
                    &mut scratch,
                    &mut params,
                    &data,
                    LEARNING_RATE,
                ))
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// W2: build a 10⁶-step chain, backward, drop; with relu and with tanh.
fn deep_chain(c: &mut Criterion) {
    for (name, tanh) in [("relu", false), ("tanh", true)] {
        let mut group = c.benchmark_group(format!("W2 {name} chain 1e6"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(CHAIN_STEPS as u64));
        group.bench_function("engine", |b| {
            b.iter(|| black_box(engine_chain(CHAIN_STEPS, tanh)));
        });
        group.bench_function("tape", |b| {
            b.iter(|| black_box(tape_chain(CHAIN_STEPS, tanh)));
        });
        group.finish();
    }
}

/// W3: Σ aᵢ·bᵢ over 200,000 fresh leaf pairs, built, differentiated and dropped; by
/// repeated `+` (engine and tape) and as one `Value::dot` node.
fn wide_sum(c: &mut Criterion) {
    let mut group = c.benchmark_group("W3 sum 200k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SUM_TERMS as u64));
    group.bench_function("engine, repeated +", |b| {
        b.iter(|| black_box(engine_sum(SUM_TERMS)));
    });
    group.bench_function("tape, repeated +", |b| {
        b.iter(|| black_box(tape_sum(SUM_TERMS)));
    });
    group.bench_function("engine, Value::dot", |b| {
        b.iter(|| black_box(engine_dot(SUM_TERMS)));
    });
    group.finish();
}

criterion_group!(benches, moons_step, deep_chain, wide_sum);
criterion_main!(benches);
