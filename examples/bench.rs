//! The engine beside a hand-written tape and a hand-derived MLP, in one table.
//!
//! Runs every workload of `benches/workloads/mod.rs` (W1 moons-step, W2 deep chain,
//! W3 wide sum) for each contender, in rounds (each round runs every contender once,
//! so that a noisy neighbour slows all of them alike), and prints the median time, the
//! ratio to the tape measured in the same run, the peak heap memory of making the
//! contender's state and running it once, and that peak per node. Before timing, it
//! checks that the baselines compute the same losses and gradients as the engine. It
//! then rewrites the table in `BENCHMARKS.md`.
//!
//! Run: `cargo run --release --example bench` (`-- --help` for options).

#[path = "common/mod.rs"]
mod common;
#[path = "../benches/workloads/mod.rs"]
mod workloads;

use std::alloc::{GlobalAlloc, Layout, System};
use std::error::Error;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use workloads::*;

const USAGE: &str = "\
Time the engine beside a hand-written tape and a hand-derived MLP step on the
benchmark workloads, print one table, and rewrite it in BENCHMARKS.md.

Usage: cargo run --release --example bench [-- OPTIONS]

Options:
  --quick        5 rounds instead of 15 (same workloads, noisier medians)
  --deep         also run W2 with 10^7 steps, twice per contender (needs ~5 GB of memory)
  --sizes        also run W3's repeated + at five sizes from 20k to 400k terms, to show
                 how the ratio moves as the graphs outgrow the caches
  --parts        also time W3's repeated + in parts, at the same five sizes: the engine's
                 build, backward() and drop, and the tape's recording and backward pass
  --out FILE     where to write the table [default: BENCHMARKS.md in the crate root]
  --no-write     print the table only
  -h, --help     print this help";

// ---------------------------------------------------------------------------------------
// A counting allocator, switched on only while memory is being measured.
// ---------------------------------------------------------------------------------------

/// The system allocator, counting live and peak bytes while `COUNTING` is set (so
/// that timed runs pay nothing for the counting).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(bytes: usize) {
    if COUNTING.load(Relaxed) {
        let bytes = bytes as isize;
        let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
        PEAK.fetch_max(live, Relaxed);
    }
}

fn shrank(bytes: usize) {
    if COUNTING.load(Relaxed) {
        LIVE.fetch_sub(bytes as isize, Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged;
// the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded unchanged (the caller upholds `alloc`'s contract).
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the new block appearing before the old one goes, as a copy does.
        grew(new_size);
        shrank(layout.size());
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak heap growth while a contender's state is made and run once, in bytes. This
/// happens on a fresh thread, so that nothing a previous run kept in a thread-local
/// cache is mistaken for free memory.
fn peak_bytes(make: impl FnOnce() -> Run + Send) -> usize {
    std::thread::scope(|s| {
        s.spawn(|| {
            LIVE.store(0, Relaxed);
            PEAK.store(0, Relaxed);
            COUNTING.store(true, Relaxed);
            make()();
            COUNTING.store(false, Relaxed);
            PEAK.load(Relaxed).max(0) as usize
        })
        .join()
        .expect("the workload runs")
    })
}

// ---------------------------------------------------------------------------------------
// Contenders.
// ---------------------------------------------------------------------------------------

/// One run of a workload by a contender, its state made beforehand.
type Run = Box<dyn FnMut()>;

/// One row of the table: a workload run by one contender.
struct Row {
    workload: &'static str,
    contender: &'static str,
    /// Nodes the workload records (for bytes per node), 0 where that means nothing.
    nodes: usize,
    /// One run: its state is built once, outside the timing.
    make: Box<dyn Fn() -> Run + Sync>,
    samples: Vec<Duration>,
    peak: usize,
}

/// A W1 contender's run of demo steps (see `DemoRun`), as a timed closure.
fn demo(mut run: DemoRun) -> Run {
    Box::new(move || {
        black_box(run.step());
    })
}

/// A run of a workload that is a function call (W2, W3; what a call keeps between
/// runs, the tape's buffers or the engine's storage, lives elsewhere).
fn repeat(run: impl Fn() -> f64 + 'static) -> Run {
    Box::new(move || {
        black_box(run());
    })
}

impl Row {
    fn new(
        workload: &'static str,
        contender: &'static str,
        nodes: usize,
        make: impl Fn() -> Run + Sync + 'static,
    ) -> Row {
        Row {
            workload,
            contender,
            nodes,
            make: Box::new(make),
            samples: Vec::new(),
            peak: 0,
        }
    }
}

fn rows() -> Vec<Row> {
    let counts = node_counts();
    vec![
        Row::new("W1 moons-step, scalar", "engine", counts.w1, || {
            demo(DemoRun::engine())
        }),
        Row::new("W1 moons-step, scalar", "tape", counts.w1, || {
            demo(DemoRun::tape())
        }),
        Row::new("W1 moons-step, scalar", "analytic", 0, || {
            demo(DemoRun::analytic())
        }),
        Row::new("W1 moons-step, nn", "engine (Mlp)", 0, || {
            demo(DemoRun::nn())
        }),
        Row::new("W2 relu chain 10^6", "engine", counts.w2, || {
            repeat(|| engine_chain(CHAIN_STEPS, false))
        }),
        Row::new("W2 relu chain 10^6", "tape", counts.w2, || {
            repeat(|| tape_chain(CHAIN_STEPS, false))
        }),
        Row::new("W2 tanh chain 10^6", "engine", counts.w2, || {
            repeat(|| engine_chain(CHAIN_STEPS, true))
        }),
        Row::new("W2 tanh chain 10^6", "tape", counts.w2, || {
            repeat(|| tape_chain(CHAIN_STEPS, true))
        }),
        Row::new("W3 sum 200k, repeated +", "engine", counts.w3_sum, || {
            repeat(|| engine_sum(SUM_TERMS))
        }),
        Row::new("W3 sum 200k, repeated +", "tape", counts.w3_sum, || {
            repeat(|| tape_sum(SUM_TERMS))
        }),
        Row::new("W3 sum 200k, Value::dot", "engine", counts.w3_dot, || {
            repeat(|| engine_dot(SUM_TERMS))
        }),
    ]
}

/// The tape row a workload's ratio is taken against: its own; for `Value::dot` the
/// tape's repeated `+`, and for W1 "nn" the tape's scalar step (the same sums; a flat
/// tape has no fused node).
fn tape_of(workload: &str) -> &str {
    if workload.starts_with("W3") {
        "W3 sum 200k, repeated +"
    } else if workload.starts_with("W1") {
        "W1 moons-step, scalar"
    } else {
        workload
    }
}

// ---------------------------------------------------------------------------------------
// Measuring and printing.
// ---------------------------------------------------------------------------------------

/// The median of `samples` (the upper one of an even count); times and per-term figures
/// alike, none of them NaN.
fn median<T: Copy + PartialOrd>(samples: &[T]) -> T {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN among the samples"));
    s[s.len() / 2]
}

/// Runs `run` `batch` times and returns the time per run.
fn time_batch(run: &mut dyn FnMut(), batch: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..batch {
        run();
    }
    start.elapsed() / batch as u32
}

/// Fills in each row's peak memory and `rounds` time samples.
///
/// Memory: each contender's state made and run once on a fresh thread, counting every
/// byte. Time: in rounds, every contender once per round (so that a noisy neighbour
/// slows all of them alike), each sample a batch of runs long enough to time reliably.
/// `progress` starts the progress line.
fn measure(rows: &mut [Row], rounds: usize, progress: &str) {
    for r in rows.iter_mut() {
        let make = &r.make;
        r.peak = peak_bytes(|| make());
    }
    let mut states: Vec<Run> = rows.iter().map(|r| (r.make)()).collect();
    let batches: Vec<usize> = states
        .iter_mut()
        .map(|run| batch_size(run.as_mut()))
        .collect();
    for round in 0..rounds {
        eprint!("\r{progress}round {}/{rounds}", round + 1);
        for ((r, run), &batch) in rows.iter_mut().zip(&mut states).zip(&batches) {
            r.samples.push(time_batch(run.as_mut(), batch));
        }
    }
    eprintln!();
}

/// How many runs of `run` make a sample long enough (≥ 20 ms) to time reliably,
/// judged from one run.
fn batch_size(run: &mut dyn FnMut()) -> usize {
    let one = time_batch(run, 1).max(Duration::from_nanos(1));
    (Duration::from_millis(20).as_nanos() / one.as_nanos()).clamp(1, 10_000) as usize
}

fn fmt_time(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

fn fmt_bytes(b: usize) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", b as f64 / 1024.0)
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | contender | median time | ratio to tape | peak memory | bytes/node |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let tape = rows
            .iter()
            .find(|t| t.contender == "tape" && t.workload == tape_of(r.workload))
            .expect("every workload has a tape row");
        let ratio = median(&r.samples).as_secs_f64() / median(&tape.samples).as_secs_f64();
        let per_node = if r.nodes == 0 {
            "–".to_owned()
        } else {
            format!("{:.1}", r.peak as f64 / r.nodes as f64)
        };
        out += &format!(
            "| {} | {} | {} | {:.2}× | {} | {} |\n",
            r.workload,
            r.contender,
            fmt_time(median(&r.samples)),
            ratio,
            fmt_bytes(r.peak),
            per_node
        );
    }
    out
}

/// W3's repeated `+` at these sizes (in terms) for `--sizes`: from well inside the
/// last-level cache of a typical machine to well beyond it.
const SCAN_TERMS: [usize; 5] = [20_000, 50_000, 100_000, 200_000, 400_000];

/// Times the engine and the tape on W3's repeated `+` at each of [`SCAN_TERMS`], as
/// the main table's rows are timed, and returns a table of the medians, their ratio
/// and each contender's peak memory.
fn size_scan(rounds: usize) -> String {
    let mut rows: Vec<Row> = SCAN_TERMS
        .iter()
        .flat_map(|&terms| {
            let nodes = wide_sum_nodes(terms);
            [
                Row::new("W3 sum", "engine", nodes, move || {
                    repeat(move || engine_sum(terms))
                }),
                Row::new("W3 sum", "tape", nodes, move || {
                    repeat(move || tape_sum(terms))
                }),
            ]
        })
        .collect();
    measure(&mut rows, rounds, "sizes: ");
    let mut out = format!(
        "\nW3 repeated + by size (`--sizes`), median of {rounds} rounds; the last-level \
         cache here holds {}.\n\n\
         | terms | nodes | engine | tape | ratio to tape | engine peak memory | tape peak memory |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
        last_level_cache()
    );
    for (terms, pair) in SCAN_TERMS.iter().zip(rows.chunks(2)) {
        let [engine, tape] = pair else {
            unreachable!("an engine row and a tape row per size")
        };
        let (e, t) = (median(&engine.samples), median(&tape.samples));
        out += &format!(
            "| {terms} | {} | {} | {} | {:.2}× | {} | {} |\n",
            engine.nodes,
            fmt_time(e),
            fmt_time(t),
            e.as_secs_f64() / t.as_secs_f64(),
            fmt_bytes(engine.peak),
            fmt_bytes(tape.peak),
        );
    }
    out
}

/// The parts of one W3 run that `--parts` times: the engine's building, `backward()`
/// and drop, then the tape's recording and backward pass (its gradients zeroed, then
/// its reverse loop).
const PARTS: usize = 5;

/// Runs W3's repeated `+` over `terms` terms `runs` times with each contender, and
/// returns the time each part took in all (see [`PARTS`]). The tape is cleared, which
/// keeps its buffers, outside the timing: that is all it does instead of a drop.
fn time_parts(tape: &mut Tape, terms: usize, runs: usize) -> [Duration; PARTS] {
    let mut spent = [Duration::ZERO; PARTS];
    for _ in 0..runs {
        let start = Instant::now();
        let (a0, s) = wide_sum(&mut Engine, terms);
        let built = Instant::now();
        s.backward();
        let differentiated = Instant::now();
        drop(s);
        let dropped = Instant::now();
        black_box(a0.grad());
        spent[0] += built - start;
        spent[1] += differentiated - built;
        spent[2] += dropped - differentiated;
    }
    for _ in 0..runs {
        tape.clear();
        let start = Instant::now();
        let (a0, s) = wide_sum(tape, terms);
        let recorded = Instant::now();
        tape.backward(s);
        let differentiated = Instant::now();
        black_box(tape.grads[a0 as usize]);
        spent[3] += recorded - start;
        spent[4] += differentiated - recorded;
    }
    spent
}

/// Times W3's repeated `+` in parts at each of [`SCAN_TERMS`] (see [`time_parts`]) and
/// returns a table of each part's median in nanoseconds per term, so that it shows
/// which parts grow as the graphs outgrow the caches. Each sample is a batch of
/// 2,000,000 terms or more; the totals and the ratio are medians of the samples' own.
fn parts_scan(rounds: usize) -> String {
    let mut out = format!(
        "\nW3 repeated + in parts (`--parts`), nanoseconds per term (four nodes), median of \
         {rounds} rounds; the last-level cache here holds {}.\n\n\
         | terms | engine: build | `backward()` | drop | total | tape: record | backward \
         | total | ratio to tape |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        last_level_cache()
    );
    let mut tape = Tape::new();
    for (k, &terms) in SCAN_TERMS.iter().enumerate() {
        let runs = (2_000_000 / terms).max(5);
        // Per part, then the two totals and their ratio.
        let mut samples: [Vec<f64>; PARTS + 3] = Default::default();
        for round in 0..rounds {
            eprint!(
                "\rparts: size {}/{}, round {}/{rounds}",
                k + 1,
                SCAN_TERMS.len(),
                round + 1
            );
            let spent = time_parts(&mut tape, terms, runs);
            let per_term = spent.map(|d| d.as_secs_f64() * 1e9 / (runs * terms) as f64);
            let engine: f64 = per_term[..3].iter().sum();
            let recorded: f64 = per_term[3..].iter().sum();
            for (sample, x) in samples.iter_mut().zip(per_term.into_iter().chain([
                engine,
                recorded,
                engine / recorded,
            ])) {
                sample.push(x);
            }
        }
        let [build, backward, dropped, record, reverse, engine, recorded, ratio] =
            samples.map(|s| median(&s));
        out += &format!(
            "| {terms} | {build:.2} | {backward:.2} | {dropped:.2} | {engine:.2} | {record:.2} \
             | {reverse:.2} | {recorded:.2} | {ratio:.2}× |\n"
        );
    }
    eprintln!();
    out
}

/// The size of the last cache Linux lists for the first CPU (the last-level cache),
/// or "an unknown amount".
fn last_level_cache() -> String {
    (0..8)
        .rev()
        .find_map(|index| {
            let size = format!("/sys/devices/system/cpu/cpu0/cache/index{index}/size");
            std::fs::read_to_string(size).ok()
        })
        .map_or_else(
            || "an unknown amount".to_owned(),
            |size| {
                let size = size.trim();
                match size.strip_suffix('K').and_then(|k| k.parse::<usize>().ok()) {
                    Some(kib) if kib % 1024 == 0 => format!("{} MiB", kib / 1024),
                    Some(kib) => format!("{kib} KiB"),
                    None => size.to_owned(),
                }
            },
        )
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

const BEGIN: &str =
    "<!-- bench table: begin (written by `cargo run --release --example bench`) -->";
const END: &str = "<!-- bench table: end -->";

/// Replaces the text between the markers in `path` (creating the file if needed),
/// leaving the rest of it as it was.
fn write_table(path: &std::path::Path, body: &str) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{BEGIN}\n{body}{}", &old[..b], &old[e..])
        }
        _ => format!("# Benchmarks\n\n{BEGIN}\n{body}{END}\n"),
    };
    std::fs::write(path, new)
}

fn main() -> ExitCode {
    common::main(USAGE, bench)
}

fn bench() -> Result<(), Box<dyn Error>> {
    let mut quick = false;
    let mut deep = false;
    let mut sizes = false;
    let mut parts = false;
    let mut out_flag: Option<PathBuf> = None;
    let mut no_write = false;
    common::parse_flags(USAGE, |flag, p| {
        match flag {
            "quick" => quick = true,
            "deep" => deep = true,
            "sizes" => sizes = true,
            "parts" => parts = true,
            "out" => out_flag = Some(p.value()?.into()),
            "no-write" => no_write = true,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // Either order of the two would otherwise quietly lose one of them.
    let out = match (out_flag, no_write) {
        (Some(_), true) => return Err("--out and --no-write cannot be used together".into()),
        (Some(path), false) => Some(path),
        (None, true) => None,
        (None, false) => Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md")),
    };
    let rounds = if quick { 5 } else { 15 };
    if cfg!(debug_assertions) {
        eprintln!("note: a debug build; run with --release for meaningful figures");
    }

    // 1. The baselines must compute what the engine computes, or the race means nothing.
    check_baselines()?;
    println!("tape, analytic and nn agree with the engine (loss, gradients, parameters) to 1e-9");

    // 2. Memory and time for every row.
    let mut rows = rows();
    measure(&mut rows, rounds, "");

    let chosen: Vec<&str> = [
        ("--quick", quick),
        ("--deep", deep),
        ("--sizes", sizes),
        ("--parts", parts),
    ]
    .into_iter()
    .filter_map(|(flag, on)| on.then_some(flag))
    .collect();
    let flags = if chosen.is_empty() {
        String::new()
    } else {
        format!(" -- {}", chosen.join(" "))
    };
    let mut body = format!(
        "Measured by `cargo run --release --example bench{flags}` on {} ({} logical cores, \
         shared with other work: absolute times are noisy, ratios measured in the same run \
         are the figures to compare). Median of {rounds} rounds; each round runs every \
         contender once. Peak memory is the peak heap growth, counted by a global allocator \
         on a fresh thread, while a contender's state is made and run once; bytes/node \
         divides it by the nodes the workload records.\n\n",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    body += &table(&rows);
    if deep {
        // Two runs each, alternating, and the second of each is reported: on a virtual
        // machine the first program to touch gigabytes of fresh memory also pays for
        // the host handing it out, which has nothing to do with either contender.
        let run = || {
            let start = Instant::now();
            let engine = engine_chain(10 * CHAIN_STEPS, false);
            let engine_time = start.elapsed();
            let start = Instant::now();
            let tape = tape_chain(10 * CHAIN_STEPS, false);
            (engine, engine_time, tape, start.elapsed())
        };
        let (_, first_engine, _, first_tape) = run();
        let (engine, engine_time, tape, tape_time) = run();
        body += &format!(
            "\nW2 relu chain 10^7, second of two alternating runs each: engine {} \
             (dx/dx₀ = {engine:.6}), tape {} ({tape:.6}), ratio {:.2}×. First runs: engine \
             {}, tape {}.\n",
            fmt_time(engine_time),
            fmt_time(tape_time),
            engine_time.as_secs_f64() / tape_time.as_secs_f64(),
            fmt_time(first_engine),
            fmt_time(first_tape),
        );
    }
    if sizes {
        body += &size_scan(rounds);
    }
    if parts {
        body += &parts_scan(rounds);
    }
    println!("\n{body}");
    if let Some(path) = out {
        write_table(&path, &body)?;
        println!("table written to {}", path.display());
    }
    Ok(())
}
