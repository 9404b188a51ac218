//! A suite that fails on purpose: the runner's own test
//! (`build/xtask/tests/runner_modes.rs` boots it under both of the
//! runner's configurations and reads what the runner printed).
//!
//! A runner that reported a panic, a hang or a refused request wrongly,
//! or did not carry on with the next case after one, would pass every
//! real image whose cases all pass; these cases fail the ways a real one
//! can, each followed by one that must still run. Its images fail by
//! design, so they are not in `test/` but in
//! `build/xtask/tests/fixtures/runner-*.toml`.

#![no_std]
#![no_main]

use test_harness::{RunnerOp, SuiteRunner, call_word, test_cases};
use userlib::*;

task_slot!(RUNNER, runner);

test_cases! {
    test_passes,
    test_panics_on_purpose,
    test_runs_after_a_panic,
    test_hangs_on_purpose,
    test_runs_after_a_hang,
    test_asks_for_auto_restart,
    test_runs_last,
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    test_harness::run(&SuiteRunner(|| RUNNER.get_task_id()), TESTS, || {})
}

fn test_passes() {}

fn test_panics_on_purpose() {
    panic!("this case fails on purpose");
}

fn test_runs_after_a_panic() {}

/// Waits for a notification nobody posts: the runner's case timeout is
/// what ends it.
fn test_hangs_on_purpose() {
    loop {
        sys_recv_notification(0);
    }
}

fn test_runs_after_a_hang() {}

/// A supervisor-only request: served by a supervising runner, refused
/// (this task faulted) by one under another supervisor.
fn test_asks_for_auto_restart() {
    call_word(RUNNER.get_task_id(), RunnerOp::AutoRestart as u16, &[0]);
}

fn test_runs_last() {}
