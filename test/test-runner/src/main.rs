//! The test runner of every system test image, in the shape of Hubris's
//! `test-runner`: one program, configured per image by its app.toml
//! entry (`build.rs` says how).
//!
//! The suite drives the run by asking us, with [`RunnerOp::NextCase`],
//! which case to run; we keep that number, so a suite that crashed and was
//! restarted carries on with the next case. A case passes when the suite
//! reports it returned ([`RunnerOp::TestResult`]) and fails when the suite
//! faults (a failed assert is a panic) or does not finish within the
//! image's `case-timeout-ms`. We print `test_<name> ... ok` or
//! `... FAILED (<why>)` for each case and `N passed, M failed` at the
//! end, then shut the system down with exit status 0 only if nothing
//! failed.
//!
//! Where we sit in the image decides how faults reach us:
//!
//! - As the supervisor (task 0: the kernel, idol and attack images) we
//!   get the kernel's fault notification for every task. A faulted suite
//!   is a failed case, after which we restart every task, so the next
//!   case starts from a fresh image whatever the failed one left behind;
//!   any other task is restarted if the case asked for it
//!   ([`RunnerOp::AutoRestart`]) and otherwise held faulted for the case
//!   to inspect.
//! - Under another supervisor (jefe, in the FPGA image, whose restart
//!   policy the cases test) we hear only of the suite's faults, from jefe
//!   (`on-task-fault`), which holds the suite faulted so that we can read
//!   its panic message; we restart the suite alone, and leave the other
//!   tasks to jefe's policy. The supervisor-only requests are refused.
//!
//! Either way, a case that hangs fails and everything but the supervisor
//! and us restarts (what hangs may be any task).
//!
//! Built with the `host-cases` feature (the attack image), we do not shut
//! down when the suite is done: xtask's host-side cases run next, against
//! the same kernel. We say so on the console, restart whatever faults
//! from then on, and shut down (0 only if no case failed) when the host
//! side faults the `gate` task through the debug probe: a fault the
//! kernel injected, which no task can fake. xtask prints the one tally.
//!
//! We never SEND to anything but the kernel, and we must never fault:
//! nothing here panics on what a task sends us.

#![no_std]
#![no_main]

use core::fmt::Write;
use test_harness::MAX_NAME;
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));
include!(concat!(env!("OUT_DIR"), "/image.rs"));

mod report;
mod requests;
mod world;

use report::{Line, write_fault};
#[cfg(feature = "host-cases")]
use world::injected_by_the_kernel;
use world::reset_world;

/// The suite crashing this often between cases means it cannot run at
/// all; we give up rather than restart it forever.
const MAX_CRASHES_OUTSIDE_CASES: u32 = 3;

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut runner = Runner::default();
    let mut buf = [0u8; 4 + MAX_NAME];
    let mask = image::FAULT_MASK | notifications::TIMER_MASK;
    loop {
        let m = sys_recv_open(&mut buf, mask);
        if m.sender == TaskId::KERNEL {
            runner.on_notification(m.operation);
        } else {
            let n = (m.message_len as usize).min(buf.len());
            runner.on_message(&m, &buf[..n]);
        }
    }
}

/// The case in flight.
struct Case {
    index: u32,
    name: [u8; MAX_NAME],
    name_len: usize,
    deadline: u64,
}

impl Case {
    fn name(&self) -> &[u8] {
        &self.name[..self.name_len.min(MAX_NAME)]
    }
}

#[derive(Default)]
struct Runner {
    /// The case the suite runs next.
    next: u32,
    current: Option<Case>,
    passed: u32,
    failed: u32,
    /// Fault notification bits since the last `ReadAndClearNotes`.
    notes: u32,
    /// Restart any faulted task but the suite at once.
    auto_restart: bool,
    crashes_outside_cases: u32,
    /// (`host-cases`) the suite is done; the host side's turn.
    suite_done: bool,
}

impl Runner {
    fn on_notification(&mut self, bits: u32) {
        if bits & image::FAULT_MASK != 0 {
            if image::SUPERVISOR {
                // Only the fault bit: our own timer is no business of a
                // case.
                self.notes |= bits & image::FAULT_MASK;
                self.on_faults();
            } else if kipc::read_task_status(image::SUITE).is_faulted() {
                self.on_suite_fault();
            }
        }
        if bits & notifications::TIMER_MASK != 0 {
            self.on_timer();
        }
    }

    /// (As the supervisor) visits every faulted task: a faulted suite is
    /// a failed case; any other task is restarted if the case asked for
    /// it, and otherwise held faulted for the case to inspect.
    fn on_faults(&mut self) {
        let mut start = 1;
        while let Some(f) = kipc::find_faulted_task(start) {
            #[cfg(feature = "host-cases")]
            if f == image::GATE && injected_by_the_kernel(f) {
                self.host_side_done();
            }
            if self.suite_done {
                kipc::reinit_task(f, true);
            } else if f == image::SUITE {
                self.on_suite_fault();
            } else if self.auto_restart {
                kipc::reinit_task(f, true);
            }
            start = f + 1;
        }
    }

    /// The suite faulted: a failed case (or a crash between cases). As
    /// the supervisor we restart everything; under another one, only the
    /// suite it holds for us.
    fn on_suite_fault(&mut self) {
        let mut why = Line::new();
        write_fault(&mut why, image::SUITE);
        match self.current.take() {
            Some(case) => self.fail(&case, why.bytes()),
            None => self.crashed_outside_case(why.bytes()),
        }
        if image::SUPERVISOR {
            reset_world();
        } else {
            kipc::reinit_task(image::SUITE, true);
        }
    }

    fn crashed_outside_case(&mut self, why: &[u8]) {
        self.crashes_outside_cases += 1;
        let mut line = Line::new();
        line.push(b"suite crashed outside a case (");
        line.push(why);
        line.push(b")");
        kipc::console_write(line.bytes());
        if self.crashes_outside_cases >= MAX_CRASHES_OUTSIDE_CASES {
            self.failed += 1;
            self.finish();
        }
    }

    fn on_timer(&mut self) {
        let now = sys_get_timer().now;
        let expired = self.current.as_ref().is_some_and(|c| now >= c.deadline);
        if !expired {
            return;
        }
        if let Some(case) = self.current.take() {
            self.fail(&case, b"timeout");
            reset_world();
        }
    }

    fn fail(&mut self, case: &Case, why: &[u8]) {
        sys_set_timer(None, notifications::TIMER_MASK);
        self.failed += 1;
        self.next = case.index + 1;
        let mut line = Line::new();
        line.push(case.name());
        line.push(b" ... FAILED (");
        line.push(why);
        line.push(b")");
        kipc::console_write(line.bytes());
    }

    /// Prints the summary and ends the run (with `host-cases`: hands over
    /// to the host side, which ends it).
    fn finish(&mut self) {
        let mut line = Line::new();
        if cfg!(feature = "host-cases") {
            let _ = write!(
                line,
                "attack: in-system cases done: {} of {} ok; \
                 host-side cases next",
                self.passed,
                self.passed + self.failed
            );
            kipc::console_write(line.bytes());
            self.suite_done = true;
            self.current = None;
            sys_set_timer(None, notifications::TIMER_MASK);
            // Whatever faulted meanwhile is restarted now.
            self.on_faults();
            return;
        }
        let _ = write!(line, "{} passed, {} failed", self.passed, self.failed);
        kipc::console_write(line.bytes());
        self.shutdown();
    }

    /// (`host-cases`) the host side faulted the gate: its cases are done
    /// and counted by xtask; we end the run.
    #[cfg(feature = "host-cases")]
    fn host_side_done(&mut self) -> ! {
        if !self.suite_done {
            // The host side gave up waiting for us: our unfinished cases
            // fail the run.
            self.failed += 1;
            kipc::console_write(b"attack: the host side ended the run before the in-system cases finished");
        } else {
            kipc::console_write(b"attack: the host side is done; stopping");
        }
        self.shutdown()
    }

    fn shutdown(&self) -> ! {
        kipc::shutdown(if self.failed == 0 { 0 } else { 1 });
        // The kernel stops every task once it has handled the call.
        loop {
            sys_recv_notification(0);
        }
    }
}
