//! Helpers shared by the examples: command-line parsing and the output folder.
#![allow(dead_code)] // each example uses its own subset

pub mod plot;

use std::path::PathBuf;

/// The folder an example writes its files to: `--out DIR` if given, else
/// `scalargrad-examples/<name>` in the target folder: the one the environment variable
/// `CARGO_TARGET_DIR` names if it is set where the example runs, else `target` under
/// the crate root. (Cargo's `--target-dir` flag and `build.target-dir` setting are not
/// passed on to the program it runs, so they cannot be followed.)
pub fn output_dir(name: &str, out: Option<PathBuf>) -> std::io::Result<PathBuf> {
    let dir = out.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
            .join("scalargrad-examples")
            .join(name)
    });
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Prints `usage` and exits successfully if `--help` or `-h` is among the arguments.
fn help_requested(usage: &str) -> bool {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        use std::io::Write;
        // A closed pipe (`--help | head`) is not worth a panic.
        let _ = writeln!(std::io::stdout(), "{usage}");
        true
    } else {
        false
    }
}

/// An example's `main`: prints `usage` for `--help`/`-h`, and otherwise runs `body`
/// (see [`run`]).
pub fn main(
    usage: &str,
    body: impl FnOnce() -> Result<(), Box<dyn std::error::Error>>,
) -> std::process::ExitCode {
    if help_requested(usage) {
        return std::process::ExitCode::SUCCESS;
    }
    end_quietly_when_stdout_closes();
    run(body)
}

/// `println!` panics when stdout is a pipe whose reader has gone (`moons | head`), and a
/// panic prints a backtrace hint to the terminal. Command-line tools end quietly then:
/// so does an example, with a failure status. Other panics are reported as usual.
fn end_quietly_when_stdout_closes() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>();
        if message.is_some_and(|m| stdout_closed(m)) {
            std::process::exit(1);
        }
        report(info);
    }));
}

/// Whether a panic's message is `println!`'s for a closed pipe (Unix's `EPIPE`, or
/// Windows' closing pipe) rather than for another failure to print, which is reported.
pub fn stdout_closed(panic_message: &str) -> bool {
    panic_message.starts_with("failed printing to stdout")
        && ["Broken pipe", "pipe is being closed"]
            .iter()
            .any(|m| panic_message.contains(m))
}

/// Runs an example's body, printing an error as a readable message (not `Debug`)
/// and exiting with failure.
fn run(body: impl FnOnce() -> Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    match body() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write;
            // A closed pipe (`2>&1 | head`) is not worth a panic.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Reads the command line: for each `--flag`, calls `on_flag` with its name and the
/// parser (to read the flag's value), which answers whether it knows the flag. An
/// unknown flag or a stray argument is an error that shows `usage`.
pub fn parse_flags(
    usage: &str,
    on_flag: impl FnMut(&str, &mut lexopt::Parser) -> Result<bool, Box<dyn std::error::Error>>,
) -> Result<(), Box<dyn std::error::Error>> {
    parse_flags_from(lexopt::Parser::from_env(), usage, on_flag)
}

/// [`parse_flags`] over the arguments `parser` holds (tests give it their own).
pub fn parse_flags_from(
    mut parser: lexopt::Parser,
    usage: &str,
    mut on_flag: impl FnMut(&str, &mut lexopt::Parser) -> Result<bool, Box<dyn std::error::Error>>,
) -> Result<(), Box<dyn std::error::Error>> {
    while let Some(arg) = parser.next()? {
        let flag = match arg {
            lexopt::Arg::Long(flag) => flag.to_owned(),
            other => return Err(bad_arg(other, usage)),
        };
        if !on_flag(&flag, &mut parser)? {
            return Err(format!("invalid option '--{flag}'\n\n{usage}").into());
        }
    }
    Ok(())
}

/// Reads a command line whose only option is `--out DIR` (see [`parse_flags`]).
pub fn out_only(usage: &str) -> Result<Option<PathBuf>, Box<dyn std::error::Error>> {
    let mut out = None;
    parse_flags(usage, |flag, p| {
        if flag != "out" {
            return Ok(false);
        }
        out = Some(p.value()?.into());
        Ok(true)
    })?;
    Ok(out)
}

/// Reads a command line whose only options are `--seed N` (default `seed`) and
/// `--out DIR` (see [`parse_flags`]).
pub fn seed_and_out(
    usage: &str,
    mut seed: u64,
) -> Result<(u64, Option<PathBuf>), Box<dyn std::error::Error>> {
    let mut out = None;
    parse_flags(usage, |flag, p| {
        match flag {
            "seed" => seed = parse_value(p, "seed")?,
            "out" => out = Some(p.value()?.into()),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((seed, out))
}

/// The options of a plain training example: `--steps`, `--lr`, `--seed` and `--out`.
#[derive(Debug)]
pub struct TrainFlags {
    pub steps: usize,
    pub lr: f64,
    pub seed: u64,
    pub out: Option<PathBuf>,
}

impl TrainFlags {
    /// Reads the command line (see [`parse_flags`]); the defaults are `steps` and `lr`,
    /// seed 0 and no `--out`.
    pub fn parse(
        usage: &str,
        steps: usize,
        lr: f64,
    ) -> Result<TrainFlags, Box<dyn std::error::Error>> {
        TrainFlags::parse_with(usage, steps, lr, 0, |_, _| Ok(false))
    }

    /// Reads the command line (see [`parse_flags`]); the defaults are `steps`, `lr`
    /// and `seed`, and no `--out`. Any other flag goes to `on_flag`, as in
    /// [`parse_flags`].
    pub fn parse_with(
        usage: &str,
        steps: usize,
        lr: f64,
        seed: u64,
        on_flag: impl FnMut(&str, &mut lexopt::Parser) -> Result<bool, Box<dyn std::error::Error>>,
    ) -> Result<TrainFlags, Box<dyn std::error::Error>> {
        let parser = lexopt::Parser::from_env();
        TrainFlags::parse_from(parser, usage, steps, lr, seed, on_flag)
    }

    /// [`TrainFlags::parse_with`] over the arguments `parser` holds (tests give it
    /// their own).
    pub fn parse_from(
        parser: lexopt::Parser,
        usage: &str,
        steps: usize,
        lr: f64,
        seed: u64,
        mut on_flag: impl FnMut(&str, &mut lexopt::Parser) -> Result<bool, Box<dyn std::error::Error>>,
    ) -> Result<TrainFlags, Box<dyn std::error::Error>> {
        let mut flags = TrainFlags {
            steps,
            lr,
            seed,
            out: None,
        };
        parse_flags_from(parser, usage, |flag, p| {
            match flag {
                "steps" => flags.steps = parse_value(p, "steps")?,
                "lr" => flags.lr = parse_value(p, "lr")?,
                "seed" => flags.seed = parse_value(p, "seed")?,
                "out" => flags.out = Some(p.value()?.into()),
                _ => return on_flag(flag, p),
            }
            Ok(true)
        })?;
        at_least_one_step(flags.steps)?;
        Ok(flags)
    }
}

/// Refuses `--steps 0`: no example has anything to show, or to check, before its first
/// step.
pub fn at_least_one_step(steps: usize) -> Result<(), Box<dyn std::error::Error>> {
    if steps == 0 {
        return Err("invalid value '0' for --steps: train for at least one step".into());
    }
    Ok(())
}

/// The error for an argument an example does not know.
fn bad_arg(arg: lexopt::Arg<'_>, usage: &str) -> Box<dyn std::error::Error> {
    format!("{}\n\n{usage}", arg.unexpected()).into()
}

/// Parses a flag's value, naming the flag in the error.
pub fn parse_value<T: std::str::FromStr>(
    parser: &mut lexopt::Parser,
    flag: &str,
) -> Result<T, Box<dyn std::error::Error>>
where
    T::Err: std::fmt::Display,
{
    let raw = parser.value()?;
    let text = raw.to_string_lossy();
    text.parse::<T>()
        .map_err(|e| format!("invalid value '{text}' for --{flag}: {e}").into())
}

/// Parses a comma-separated list such as `16,16`.
pub fn parse_list<T: std::str::FromStr>(
    parser: &mut lexopt::Parser,
    flag: &str,
) -> Result<Vec<T>, Box<dyn std::error::Error>>
where
    T::Err: std::fmt::Display,
{
    let raw = parser.value()?;
    let text = raw.to_string_lossy();
    text.split(',')
        .map(|item| {
            item.trim()
                .parse::<T>()
                .map_err(|e| format!("invalid item '{item}' in --{flag} {text}: {e}").into())
        })
        .collect()
}
