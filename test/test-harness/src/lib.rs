//! The in-system test harness: what every suite task does the same way.
//!
//! A system test image has a runner (the supervisor, which never SENDs, so
//! a case that hangs or faults cannot take it down) and a suite (the
//! cases). The suite asks the runner for the next case, says which case
//! starts, runs it, and says it passed; a case fails by faulting (a panic
//! from [`expect_eq!`] or [`expect!`], or a real fault), which the runner
//! sees as its supervisor and reports. This crate holds the suite's side:
//! [`test_cases!`] builds the case table, [`run`] is the suite's `main`
//! loop over a [`Runner`], and the expect macros fail a case with both
//! values.
//!
//! Every image has the same runner (`test/test-runner`, configured by
//! its app.toml entry), so its protocol is here, once: [`RunnerOp`], and
//! [`SuiteRunner`], the suite's side of it, which every suite hands to
//! [`run`]. The [`Runner`] trait is the seam a suite's loop is written
//! against.

#![no_std]

use num_enum::TryFromPrimitive;
use userlib::{
    SchedState, TaskId, TaskState, hl, kipc, sys_recv_notification, sys_send,
};

/// One case: its name as the runner prints it, and the function.
pub type Case = (&'static str, fn());

/// How a suite talks to its runner.
pub trait Runner {
    /// The index of the case to run next; `total` or more when all ran.
    fn next_case(&self, total: u32) -> u32;
    /// Case `index`, named `name`, starts now.
    fn start(&self, index: u32, name: &str);
    /// Case `index` returned, i.e. passed.
    fn passed(&self, index: u32);
    /// Every case ran: the runner prints the summary and shuts the system
    /// down; it never replies.
    fn complete(&self, total: u32);
}

/// The suite's `main`: runs the cases the runner hands out, `before_each`
/// first (to undo what a failed case may have left), until none is left.
pub fn run(runner: &impl Runner, cases: &[Case], before_each: fn()) -> ! {
    let total = u32::try_from(cases.len()).unwrap_or(u32::MAX);
    loop {
        let i = runner.next_case(total);
        let Some(&(name, case)) = cases.get(i as usize) else {
            runner.complete(total);
            loop {
                sys_recv_notification(0);
            }
        };
        runner.start(i, name);
        before_each();
        case();
        runner.passed(i);
    }
}

/// What a suite asks of the runner. 0..=2 and the two high numbers are
/// Hubris's; 3 and 4 are ours, for the runner-driven case loop. The first
/// three concern faults only a supervisor sees: a runner that is not its
/// image's supervisor refuses them (faulting the sender).
#[derive(Copy, Clone, Debug, Eq, PartialEq, TryFromPrimitive)]
#[repr(u32)]
pub enum RunnerOp {
    /// → the fault notification bits seen since the last call.
    ReadAndClearNotes = 0,
    /// `(mask)`: raises the caller's IRQs behind `mask` (`software_irq`).
    SoftIrq = 1,
    /// `(on)`: restart any task but the suite as soon as it faults.
    AutoRestart = 2,
    /// `(case count)` → the index of the case to run next.
    NextCase = 3,
    /// `(index)` then the case's name: the case starts now.
    TestStart = 4,
    /// `(case count)`: every case has run; print the summary and stop.
    /// No reply.
    TestComplete = 0xfffe,
    /// `(index)`: the case returned, i.e. passed.
    TestResult = 0xffff,
}

/// The runner as a suite's loop drives it; the function names it (the
/// suite's `RUNNER` slot).
pub struct SuiteRunner(pub fn() -> TaskId);

impl Runner for SuiteRunner {
    fn next_case(&self, total: u32) -> u32 {
        call_word((self.0)(), RunnerOp::NextCase as u16, &[total])
    }

    fn start(&self, index: u32, name: &str) {
        send_start((self.0)(), RunnerOp::TestStart as u16, index, name);
    }

    fn passed(&self, index: u32) {
        call_word((self.0)(), RunnerOp::TestResult as u16, &[index]);
    }

    fn complete(&self, total: u32) {
        call_word((self.0)(), RunnerOp::TestComplete as u16, &[total]);
    }
}

/// Word `i` of a message; missing bytes read as zero, so a short message
/// is not a reason to fault a test task.
pub fn word(data: &[u8], i: usize) -> u32 {
    let mut b = [0u8; 4];
    for (k, x) in b.iter_mut().enumerate() {
        *x = data.get(4 * i + k).copied().unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

/// The longest case name a start message carries.
pub const MAX_NAME: usize = 64;

/// Sends a start message to `runner` as `op`: the case index, then its
/// name (cut at [`MAX_NAME`] bytes). Fails the case on any answer but 0.
#[track_caller]
pub fn send_start(runner: TaskId, op: u16, index: u32, name: &str) {
    let mut msg = [0u8; 4 + MAX_NAME];
    msg[..4].copy_from_slice(&index.to_le_bytes());
    let n = name.len().min(MAX_NAME);
    msg[4..4 + n].copy_from_slice(&name.as_bytes()[..n]);
    let (rc, _) = sys_send(runner, op, &msg[..4 + n], &mut [], &[]);
    expect_eq!(rc, 0);
}

/// Sends `op(args)` (little-endian words, at most four) to `to`; its
/// one-word answer (0 for an empty one). Fails the case on any response
/// code but 0.
#[track_caller]
pub fn call_word(to: TaskId, op: u16, args: &[u32]) -> u32 {
    let mut msg = [0u8; 16];
    let n = (args.len() * 4).min(msg.len());
    for (c, w) in msg[..n].chunks_exact_mut(4).zip(args) {
        c.copy_from_slice(&w.to_le_bytes());
    }
    let mut r = [0u8; 4];
    let (rc, _) = sys_send(to, op, &msg[..n], &mut r, &[]);
    if rc != 0 {
        panic!("op {op}: response code {rc:#x}");
    }
    u32::from_le_bytes(r)
}

/// How many times (1 ms apart) a suite polls a task before it gives up
/// waiting for a state: long enough for a restart on a loaded machine,
/// short enough that a hang is a failure, not a stalled run. Each poll
/// sleeps on the kernel's timer, so a slow host waits longer, not less.
pub const STATE_WAIT_MS: u32 = 5_000;

/// A server in its open receive loop: restarted and ready for work.
pub const WAITING_FOR_WORK: TaskState =
    TaskState::Healthy(SchedState::InRecv(None));

/// Polls task `index` until it is in state `want`, for at most
/// [`STATE_WAIT_MS`] polls. Suites wait for the state they check rather
/// than assume it: a task seen a moment early is still starting.
#[track_caller]
pub fn wait_for_state(index: usize, want: TaskState) {
    wait_for_state_within(index, want, STATE_WAIT_MS);
}

/// [`wait_for_state`] with its own bound (`polls`, 1 ms apart), for
/// states that take longer to reach than a restart.
#[track_caller]
pub fn wait_for_state_within(index: usize, want: TaskState, polls: u32) {
    let mut s = kipc::read_task_status(index);
    for _ in 0..polls {
        if s == want {
            return;
        }
        hl::sleep_for(1);
        s = kipc::read_task_status(index);
    }
    panic!("task {index}: expected {want:?}, found {s:?}");
}

/// Restarts server task `index` and waits until it is back in its open
/// receive loop, so the next case's first message finds it ready.
#[track_caller]
pub fn restart_server(index: usize) {
    kipc::reinit_task(index, true);
    wait_for_state(index, WAITING_FOR_WORK);
}

/// Polls task `index` until it is faulted; returns its state then.
#[track_caller]
pub fn wait_until_faulted(index: usize) -> TaskState {
    for _ in 0..STATE_WAIT_MS {
        let s = kipc::read_task_status(index);
        if s.is_faulted() {
            return s;
        }
        hl::sleep_for(1);
    }
    panic!("task {index} never faulted");
}

/// Fails the case unless `found == expected`, saying both.
#[macro_export]
macro_rules! expect_eq {
    ($found:expr, $expected:expr $(,)?) => {
        match (&$found, &$expected) {
            (found, expected) => {
                if found != expected {
                    panic!("expected {:?}, found {:?}", expected, found);
                }
            }
        }
    };
}

/// Fails the case unless `cond`, with a message.
#[macro_export]
macro_rules! expect {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            panic!($($msg)+);
        }
    };
}

/// Builds the case table `TESTS`: each case with its name as the runner
/// prints it, in the order they run.
#[macro_export]
macro_rules! test_cases {
    ($($name:ident),* $(,)?) => {
        /// Every case, in the order they run.
        static TESTS: &[$crate::Case] = &[$((stringify!($name), $name)),*];
    };
}
