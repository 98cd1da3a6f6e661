//! The examples' shared command-line parsing (`examples/common`), given arguments of
//! its own: defaults, values, and the errors bad input gets.

#[path = "../examples/common/mod.rs"]
mod example_common;

use example_common::TrainFlags;

const USAGE: &str = "Usage: cargo run --example demo [-- OPTIONS]";

/// `TrainFlags` as `xor` reads them (300 steps at 0.05 by default), plus a `--width N`
/// flag of the example's own, whose value goes to `width`.
fn train(args: &[&str], width: &mut usize) -> Result<TrainFlags, String> {
    let parser = lexopt::Parser::from_args(args.iter().copied());
    TrainFlags::parse_from(parser, USAGE, 300, 0.05, 0, |flag, p| {
        if flag != "width" {
            return Ok(false);
        }
        *width = example_common::parse_value(p, "width")?;
        Ok(true)
    })
    .map_err(|e| e.to_string())
}

#[test]
fn without_flags_the_defaults_hold() {
    let mut width = 16;
    let flags = train(&[], &mut width).unwrap();
    assert_eq!(
        (flags.steps, flags.lr, flags.seed, width),
        (300, 0.05, 0, 16)
    );
    assert!(flags.out.is_none());
}

#[test]
fn every_flag_sets_its_value() {
    let mut width = 16;
    let args = [
        "--steps", "7", "--lr", "0.5", "--seed", "3", "--out", "plots", "--width", "4",
    ];
    let flags = train(&args, &mut width).unwrap();
    assert_eq!((flags.steps, flags.lr, flags.seed, width), (7, 0.5, 3, 4));
    assert_eq!(flags.out.as_deref(), Some(std::path::Path::new("plots")));
}

#[test]
fn zero_steps_are_refused() {
    let error = train(&["--steps", "0"], &mut 16).unwrap_err();
    assert!(
        error.contains("--steps") && error.contains("at least one step"),
        "{error}"
    );
}

#[test]
fn a_value_that_does_not_parse_names_its_flag() {
    for (args, flag) in [(["--lr", "fast"], "--lr"), (["--width", "-1"], "--width")] {
        let error = train(&args, &mut 16).unwrap_err();
        assert!(
            error.contains(&format!("for {flag}")) && error.contains(args[1]),
            "{error}"
        );
    }
}

#[test]
fn a_missing_value_is_an_error() {
    assert!(train(&["--steps"], &mut 16).is_err());
}

#[test]
fn unknown_flags_and_stray_arguments_show_the_usage() {
    for args in [&["--epochs", "3"][..], &["moons"][..]] {
        let error = train(args, &mut 16).unwrap_err();
        assert!(error.contains(args[0]) && error.contains(USAGE), "{error}");
    }
}

/// `println!` to a closed pipe panics with "failed printing to stdout: " and the OS's
/// text for `EPIPE` (32 on Linux and macOS), which the examples end on quietly; other
/// failures to print are reported.
#[cfg(unix)]
#[test]
fn only_a_closed_pipe_ends_an_example_quietly() {
    use std::io::Error;
    let failed = |e: Error| format!("failed printing to stdout: {e}");
    assert!(example_common::stdout_closed(&failed(
        Error::from_raw_os_error(32)
    )));
    // ENOSPC: output redirected to a full disk.
    assert!(!example_common::stdout_closed(&failed(
        Error::from_raw_os_error(28)
    )));
    assert!(!example_common::stdout_closed(
        "index out of bounds: Broken pipe"
    ));
}
