//! `leasehold-kernel`: the Leasehold kernel on the hosted platform.
//!
//! Boots an image archive: every task becomes a confined child process
//! whose only way out is a trap into this process, which runs the portable
//! kernel core (`kern`) in one single-threaded event loop.

mod devices;
mod event_loop;
mod faults;
mod image;
mod memory;
mod seccomp;
mod spawn;

use clap::Parser;
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    match event_loop::run(&args.archive, args.one_cpu, args.verbose) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("leasehold-kernel: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
