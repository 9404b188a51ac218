//! `leasehold-kernel`: the Leasehold kernel on the hosted platform.
//!
//! Boots an image archive: every task becomes a confined child process
//! whose only way out is a trap into this process, which runs the portable
//! kernel core (`kern`) in one single-threaded event loop.
//!
//! The modules by concern: [`boot`] (from archive to running system),
//! [`event_loop`] (what wakes the kernel), [`trap`] (a task's syscall,
//! decoded, and its answer), [`effects`] (carrying out the core's
//! decisions), [`process`] (spawn, kill, reap, ptrace), [`probe`] (the
//! debugger's socket); and the platform's pieces: [`memory`],
//! [`devices`], [`seccomp`], [`faults`], [`registers`], [`debug`],
//! [`dump`]; and [`rseq`], why it starts itself again.

mod boot;
mod debug;
mod devices;
mod doorbell;
mod dump;
mod effects;
mod engine;
mod event_loop;
mod faults;
mod image;
mod log;
mod memory;
mod placement;
mod probe;
mod process;
mod ram;
mod registers;
mod rseq;
mod seccomp;
mod trace;
mod trap;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// Boot a Leasehold image on the hosted platform.
#[derive(Parser)]
#[command(name = "leasehold-kernel", version)]
struct Args {
    /// The image archive written by `cargo xtask dist`.
    archive: std::path::PathBuf,
    /// Pin the kernel and every task to one CPU (benchmarks).
    #[arg(long)]
    one_cpu: bool,
    /// Print every task start and fault, not just the summary.
    #[arg(long, short)]
    verbose: bool,
    /// Debug probe socket (default: $XDG_RUNTIME_DIR/leasehold-<image>.sock,
    /// else $TMPDIR/leasehold-<uid>/leasehold-<image>.sock). Its directory
    /// must be ours and closed to everyone else.
    #[arg(long)]
    probe: Option<std::path::PathBuf>,
    /// Where dump files go (opened once, at boot).
    #[arg(long, default_value = ".")]
    dump_dir: std::path::PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Before anything else starts: see the module.
    rseq::exec_without_rseq();
    let opts = boot::Options {
        one_cpu: args.one_cpu,
        verbose: args.verbose,
        probe: args.probe,
        dump_dir: args.dump_dir,
    };
    match boot::run(&args.archive, opts) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // One line: the chain of contexts, joined.
            let text = format!("{e:#}").replace('\n', " ");
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "leasehold-kernel: error: {text}");
            ExitCode::from(2)
        }
    }
}
