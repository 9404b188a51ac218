//! The runner of the FPGA system tests (`test/fpga.toml`).
//!
//! Not the supervisor: jefe is task 0 there, because the cases test its
//! restart policy and watchdog. So we learn of the suite's faults from
//! jefe's fault mailing list (`on-task-fault`), and jefe holds the suite
//! faulted (`tasks-to-hold`) so that we can read its panic message before
//! we restart it ourselves (`reinit_task`).
//!
//! The suite asks us which case to run next ([`RunnerOp::NextCase`]); we
//! keep the number, so a suite that failed a case and was restarted
//! carries on with the next one. We print `test_<name> ... ok` or `...
//! FAILED (<why>)` per case, `N passed, M failed` at the end, and shut
//! the system down with exit status 0 only if nothing failed.
//!
//! A case that runs past [`CASE_TIMEOUT_MS`] fails, and everything but
//! jefe and us restarts (the manager or a driver may be what hangs).

#![no_std]
#![no_main]

use core::fmt::Write;
use fpga_test_api::*;
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));

/// The suite crashing this often between cases means it cannot run.
const MAX_CRASHES_OUTSIDE_CASES: u32 = 3;

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut runner = Runner::default();
    let mut buf = [0u8; 4 + MAX_TEXT];
    let mask = notifications::SUITE_FAULT_MASK | notifications::TIMER_MASK;
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
    name: Line,
    deadline: u64,
}

#[derive(Default)]
struct Runner {
    next: u32,
    current: Option<Case>,
    passed: u32,
    failed: u32,
    crashes_outside_cases: u32,
}

impl Runner {
    fn on_notification(&mut self, bits: u32) {
        if bits & notifications::SUITE_FAULT_MASK != 0 {
            self.on_suite_fault();
        }
        if bits & notifications::TIMER_MASK != 0 {
            self.on_timer();
        }
    }

    fn on_suite_fault(&mut self) {
        if !kipc::read_task_status(tasks::SUITE).is_faulted() {
            return;
        }
        let mut why = Line::new();
        write_fault(&mut why, tasks::SUITE);
        match self.current.take() {
            Some(case) => self.fail(&case, why.bytes()),
            None => {
                self.crashes_outside_cases += 1;
                let mut line = Line::new();
                line.push(b"suite crashed outside a case (");
                line.push(why.bytes());
                line.push(b")");
                kipc::console_write(line.bytes());
                if self.crashes_outside_cases >= MAX_CRASHES_OUTSIDE_CASES {
                    self.failed += 1;
                    self.finish();
                }
            }
        }
        kipc::reinit_task(tasks::SUITE, true);
    }

    fn on_timer(&mut self) {
        let now = sys_get_timer().now;
        if self.current.as_ref().is_none_or(|c| now < c.deadline) {
            return;
        }
        if let Some(case) = self.current.take() {
            self.fail(&case, b"timeout");
            reset_world();
        }
    }

    fn on_message(&mut self, m: &RecvMessage, data: &[u8]) {
        let Some(op) = RunnerOp::from_u32(m.operation) else {
            sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
            return;
        };
        match op {
            RunnerOp::NextCase => reply(m, &self.next.to_le_bytes()),
            RunnerOp::Start => {
                let mut name = Line::new();
                name.push(data.get(4..).unwrap_or(&[]));
                let deadline = sys_get_timer().now + CASE_TIMEOUT_MS;
                sys_set_timer(Some(deadline), notifications::TIMER_MASK);
                self.current = Some(Case {
                    index: word(data, 0),
                    name,
                    deadline,
                });
                reply(m, &[]);
            }
            RunnerOp::Pass => {
                let index = word(data, 0);
                if let Some(case) = self.current.take_if(|c| c.index == index) {
                    sys_set_timer(None, notifications::TIMER_MASK);
                    self.passed += 1;
                    self.next = case.index + 1;
                    let mut line = Line::new();
                    line.push(case.name.bytes());
                    line.push(b" ... ok");
                    kipc::console_write(line.bytes());
                }
                reply(m, &[]);
            }
            RunnerOp::Done => self.finish(),
        }
    }

    fn fail(&mut self, case: &Case, why: &[u8]) {
        sys_set_timer(None, notifications::TIMER_MASK);
        self.failed += 1;
        self.next = case.index + 1;
        let mut line = Line::new();
        line.push(case.name.bytes());
        line.push(b" ... FAILED (");
        line.push(why);
        line.push(b")");
        kipc::console_write(line.bytes());
    }

    /// Prints the summary and ends the run; never returns.
    fn finish(&mut self) -> ! {
        let mut line = Line::new();
        let _ = write!(line, "{} passed, {} failed", self.passed, self.failed);
        kipc::console_write(line.bytes());
        kipc::shutdown(if self.failed == 0 { 0 } else { 1 });
        loop {
            sys_recv_notification(0);
        }
    }
}

/// Replies to `m`, or faults the sender if its reply buffer is too small.
fn reply(m: &RecvMessage, data: &[u8]) {
    if (m.response_capacity as usize) < data.len() {
        sys_reply_fault(m.sender, ReplyFaultReason::ReplyBufferTooSmall);
    } else {
        sys_reply(m.sender, 0, data);
    }
}

/// After a hung case: restores every peripheral grant and restarts every
/// task but jefe and us, the suite last.
fn reset_world() {
    for p in 0..peripherals::NUM_PERIPHERALS {
        kipc::restore_peripheral(p as u16);
    }
    for i in 1..tasks::NUM_TASKS {
        if i != tasks::RUNNER && i != tasks::SUITE {
            kipc::reinit_task(i, true);
        }
    }
    kipc::reinit_task(tasks::SUITE, true);
}

/// Why task `index` is faulted: its panic message, or its fault.
fn write_fault(line: &mut Line, index: usize) {
    match kipc::read_task_status(index) {
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            ..
        } => {
            let mut buf = [0u8; PANIC_MESSAGE_MAX];
            match kipc::read_panic_message(index, &mut buf) {
                Ok([]) => line.push(b"panic"),
                Ok(msg) => line.push(msg),
                Err(e) => {
                    let _ = write!(line, "panic; message unreadable: {e:?}");
                }
            }
        }
        TaskState::Faulted { fault, .. } => {
            let _ = write!(line, "fault: {fault:?}");
        }
        s => {
            let _ = write!(line, "not faulted: {s:?}");
        }
    }
}

/// One console line, built without allocation; newlines become spaces.
struct Line {
    buf: [u8; MAX_MESSAGE_LEN],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    fn new() -> Self {
        Self {
            buf: [0; MAX_MESSAGE_LEN],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len == self.buf.len() {
                return;
            }
            self.buf[self.len] = if b == b'\n' { b' ' } else { b };
            self.len += 1;
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}
