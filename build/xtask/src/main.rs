//! `cargo xtask`: build system images from app.toml, run them, test them.
//!
//! Each subcommand is one variant of [`Xtask`], whose doc comment is its
//! `--help`, and one module: `dist` builds the archive (with `link` and
//! `archive` doing the linking and the packing), `run` boots it on the
//! hosted kernel, `test` runs test images and the workspace's tests;
//! `sizes`, `print` and `graph` show what an image is made of; `humility`
//! runs the debugger (`build/humility`).
//!
//! Every error ends up here as one line, `error: ...`, and a non-zero exit
//! status; we never print a backtrace, because the people reading these
//! errors are fixing their app.toml, not xtask.

#![forbid(unsafe_code)]

mod archive;
mod armv7m;
mod attack;
mod bench;
mod bench_fpga_host;
mod bench_humility;
mod callers;
mod cargo;
mod clippy;
mod dist;
mod elf;
mod fuzz;
mod graph;
mod host_tests;
mod kernel;
mod link;
mod mutants;
mod print;
mod progress;
mod run;
mod sizes;
mod test;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
enum Xtask {
    /// Builds the kernel and every task of an image and writes its archive,
    /// `target/<name>/dist/build-<name>.zip`.
    Dist {
        /// The image's app.toml.
        app_toml: PathBuf,
    },
    /// Builds an image if needed and boots it on the hosted kernel; Ctrl-C
    /// stops every task.
    Run {
        /// The image's app.toml.
        app_toml: PathBuf,
    },
    /// Runs test images and reports `N passed, M failed`; with no image,
    /// runs the workspace's tests and then every image in `test/`.
    Test {
        /// Test images (app.toml files) to build and run.
        images: Vec<PathBuf>,
        /// Seconds an image may run before it counts as hung.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
    },
    /// Runs a benchmark and prints its figures next to a baseline
    /// measured in the same run, ending with `ratio ...` lines.
    Bench {
        /// Which benchmark.
        #[arg(value_enum)]
        which: Benchmark,
    },
    /// Runs humility, the debugger, building it first if needed:
    /// `cargo xtask humility -- -a <archive> tasks`.
    Humility {
        /// humility's own arguments (see `cargo xtask humility -- --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Runs clippy (warnings denied) on every task crate of the given
    /// images, as `dist` builds them; by default app.toml and test/*.toml.
    Clippy {
        /// Images whose tasks to check.
        images: Vec<PathBuf>,
        /// Apply clippy's machine-applicable fixes instead of failing.
        #[arg(long)]
        fix: bool,
    },
    /// Runs coverage-guided fuzz targets (cargo-fuzz on nightly) for a
    /// bounded time each, seeded from `fuzz/corpus` and
    /// `fuzz/regressions`; prints executions per second and coverage.
    /// With `--ci`, each target instead tries a fixed number of inputs
    /// from a fixed seed (`fuzz/ci.toml`): the same inputs on every
    /// machine, however fast, so CI's verdict does not depend on timing.
    Fuzz {
        /// The target (a file in `fuzz/fuzz_targets`); every target if
        /// absent.
        target: Option<String>,
        /// Seconds each target runs.
        #[arg(long, default_value_t = 60, conflicts_with = "ci")]
        seconds: u64,
        /// The deterministic run of `fuzz/ci.toml` instead of a timed one.
        #[arg(long)]
        ci: bool,
        /// Without nightly Rust or cargo-fuzz, say so and succeed.
        #[arg(long)]
        if_available: bool,
    },
    /// Builds an image and prints, per task, what it uses (text, rodata,
    /// data, bss, stack), the flash and RAM regions it was given and its
    /// `max-sizes` caps, the image's totals, and tighter caps to write.
    Sizes {
        /// The image's app.toml.
        app_toml: PathBuf,
    },
    /// Prints the configuration after `inherit` (one standalone app.toml)
    /// and, after building, where each task was placed.
    Print {
        /// The image's app.toml.
        app_toml: PathBuf,
        /// Only resolve `inherit`; do not build to size the tasks.
        #[arg(long)]
        no_build: bool,
    },
    /// Prints the tasks, their task slots, peripherals and notification
    /// sources as a Graphviz graph (`| dot -Tsvg > image.svg`).
    Graph {
        /// The image's app.toml.
        app_toml: PathBuf,
    },
    /// Mutation testing (cargo-mutants) of the kernel core, idol's
    /// runtime, the bitstream parsers and the FPGA manager's library
    /// against their host tests; fails on a missed mutant that
    /// build/xtask/mutants-accepted.txt does not list with a reason.
    /// Slow (minutes per file): not part of `test`; CI samples the files
    /// a commit changed.
    Mutants {
        /// Only this crate (`kern`, `idol-runtime`, `fpga-bitstream` or
        /// `task-fpga-mgr`).
        #[arg(long)]
        package: Option<String>,
        /// Only these files (repeatable), e.g. sys/kern/src/lease.rs.
        #[arg(long = "file")]
        files: Vec<PathBuf>,
        /// Seconds a mutant's tests may run before it counts as a hang.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Only the covered files this commit changed against this one
        /// (CI: `HEAD^1`); nothing to do if it changed none.
        #[arg(long, conflicts_with = "files")]
        changed_since: Option<String>,
        /// Test at most this many mutants per crate: the round-robin
        /// shard the commit's hash picks (the same on every machine).
        #[arg(long)]
        sample: Option<usize>,
    },
    /// Prints the client and server code generated for an `.idol` file.
    Idol {
        /// The interface definition.
        file: PathBuf,
    },
}

/// The benchmarks `cargo xtask bench` knows.
#[derive(Copy, Clone, Debug, clap::ValueEnum)]
enum Benchmark {
    /// Null IPC round trip and a 1 MiB borrow, against a pipe and memcpy.
    Ipc,
    /// The null IPC round trip and a 64 KiB borrow on the Cortex-M4F
    /// board under QEMU `-icount` (guest instructions), against a plain
    /// syscall and an in-task copy.
    IpcMps2,
    /// A generated zero-argument idol op against the raw null round trip.
    Idol,
    /// A 32 MiB 7-series load and an iCE40 image end to end, against memcpy.
    Fpga,
    /// humility's `tasks -s` and a dump of the live default image,
    /// against plain `humility tasks`.
    Humility,
}

fn main() -> ExitCode {
    let result = match Xtask::parse() {
        Xtask::Dist { app_toml } => dist::dist(&app_toml).map(|_| ()),
        Xtask::Run { app_toml } => run::run(&app_toml),
        Xtask::Test { images, timeout } => test::test(&images, timeout),
        Xtask::Idol { file } => idol(&file),
        Xtask::Fuzz {
            target,
            seconds,
            ci,
            if_available,
        } => fuzz::fuzz(
            &workspace_root(),
            &fuzz::FuzzRequest {
                target: target.as_deref(),
                budget: if ci {
                    fuzz::Budget::Ci
                } else {
                    fuzz::Budget::Seconds(seconds)
                },
                if_available,
            },
        ),
        Xtask::Mutants {
            package,
            files,
            timeout,
            changed_since,
            sample,
        } => mutants::mutants(
            &workspace_root(),
            package.as_deref(),
            &files,
            &mutants::Limits {
                timeout,
                changed_since,
                sample,
            },
        ),
        Xtask::Sizes { app_toml } => sizes::sizes(&app_toml),
        Xtask::Print { app_toml, no_build } => {
            print::print(&app_toml, !no_build)
        }
        Xtask::Graph { app_toml } => graph::graph(&app_toml),
        Xtask::Clippy { images, fix } => clippy::clippy(&images, fix),
        Xtask::Humility { args } => humility(&args),
        Xtask::Bench { which } => match which {
            Benchmark::Ipc => bench::ipc(&workspace_root()),
            Benchmark::IpcMps2 => bench::ipc_mps2(&workspace_root()),
            Benchmark::Idol => bench::idol(&workspace_root()),
            Benchmark::Fpga => bench::fpga(&workspace_root()),
            Benchmark::Humility => bench_humility::humility(&workspace_root()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A subcommand that already reported (a failed test, the
            // kernel's own exit status) says so with `Exit`.
            if let Some(exit) = e.downcast_ref::<Exit>() {
                return ExitCode::from(exit.0);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Ends xtask with this status without printing anything more: the
/// subcommand has already said why.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn idol(file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let iface = idol::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &iface.warnings {
        eprintln!("warning: {w}");
    }
    let code = idol::generate_all(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().write_all(code.as_bytes());
    Ok(())
}

/// Builds humility (quietly: its output is what the user asked for) and
/// runs it with `args`, ending with its exit status.
fn humility(args: &[std::ffi::OsString]) -> anyhow::Result<()> {
    use anyhow::Context;
    let ws = cargo::Workspace::new(workspace_root());
    let built = ws
        .cargo()
        .args(["build", "-q", "-p", "humility", "--bin", "humility"])
        .status()
        .context("cannot run cargo to build humility")?;
    if !built.success() {
        anyhow::bail!("building humility failed ({built})");
    }
    let bin = ws.target.join("debug").join("humility");
    let status = std::process::Command::new(&bin)
        .args(args)
        .status()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    match status.code() {
        Some(0) => Ok(()),
        // humility printed its own error line.
        Some(code) => Err(Exit(u8::try_from(code).unwrap_or(1)).into()),
        None => anyhow::bail!("humility was killed ({status})"),
    }
}

/// The workspace root: xtask lives in `build/xtask`.
pub fn workspace_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.canonicalize().unwrap_or(dir)
}
