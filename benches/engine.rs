//! The benchmark workloads (see `workloads/mod.rs`), each run by the engine beside a
//! hand-written flat tape and, for the MLP step, a hand-derived forward/backward.
//!
//! Run with `cargo bench --bench engine`; `cargo run --release --example bench` runs
//! the same workloads and prints them as one table with ratios to the tape.

mod workloads;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use workloads::*;

/// Not a benchmark: checks, before anything is timed, that every contender computes
/// what the engine computes (see `check_baselines`), so that a broken baseline is
/// never raced.
fn contenders_agree(_: &mut Criterion) {
    if let Err(e) = check_baselines() {
        panic!("the contenders disagree, so their times would mean nothing: {e}");
    }
}

/// W1: one training step of micrograd's moons demo. Each contender trains on from step
/// to step, starting again from the initial parameters every `DEMO_STEPS` steps, so
/// that the steps timed are those of a run as long as the demo's (see `DemoRun`).
fn moons_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("W1 moons-step");
    for (name, mut run) in [
        ("engine, scalar graph", DemoRun::engine()),
        ("nn (Mlp, fused nodes)", DemoRun::nn()),
        ("tape", DemoRun::tape()),
        ("analytic", DemoRun::analytic()),
    ] {
        group.bench_function(name, |b| b.iter(|| black_box(run.step())));
    }
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

criterion_group!(benches, contenders_agree, moons_step, deep_chain, wide_sum);
criterion_main!(benches);
