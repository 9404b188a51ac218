//! Watchdogs: deadlines after which jefe faults a task that hangs.
//!
//! A task that calls a less trusted one (the FPGA manager calling a
//! driver) cannot interrupt a SEND that never gets an answer. It arms a
//! watchdog on the callee before the call and disarms it after; if the
//! deadline passes first, we fault the callee, the kernel hands the
//! caller the dead code, and the callee's disposition decides what comes
//! next (normally a restart).
//!
//! A watchdog names the incarnation it was armed for and the task that
//! armed it: it is dropped unfired if the callee restarted meanwhile (its
//! new incarnation owes nothing), if the armer died (nobody is waiting),
//! or if the armer is no longer waiting on the callee. The last matters
//! on a busy machine: a callee that answered just before the deadline
//! must not be faulted in the moment before its caller disarms, which
//! would restart a healthy task for a call that had already ended.

use userlib::{SchedState, TaskId, TaskState, kipc};

/// Whom task `t` is blocked on in a call: the task it is sending to or
/// awaiting a reply from, as the kernel reports it.
pub fn waiting_on(t: TaskId) -> Option<TaskId> {
    match kipc::read_task_status(t.index()) {
        TaskState::Healthy(
            SchedState::InSend(to) | SchedState::InReply(to),
        ) => Some(to),
        _ => None,
    }
}

/// One armed watchdog.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Watchdog {
    /// The incarnation to fault.
    pub target: TaskId,
    /// Who armed it.
    pub armer: TaskId,
    /// When it fires, ms since boot.
    pub deadline: u64,
}

/// What [`expire`] did with one watchdog.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Expiry {
    /// Not due yet.
    Pending,
    /// Due, and the target was faulted.
    Fired(TaskId),
    /// Due, but the target restarted, the armer died or the call it
    /// guarded is over: dropped.
    Stale,
}

/// Fires `w` if it is due at `now`; `alive` says whether a `TaskId` is
/// still the current incarnation, `waiting_on` whom a task is blocked
/// sending to or waiting for a reply from.
pub fn expire(
    w: &Watchdog,
    now: u64,
    alive: impl Fn(TaskId) -> bool,
    waiting_on: impl Fn(TaskId) -> Option<TaskId>,
) -> Expiry {
    if now < w.deadline {
        return Expiry::Pending;
    }
    if !alive(w.target) || !alive(w.armer) {
        return Expiry::Stale;
    }
    if waiting_on(w.armer) != Some(w.target) {
        return Expiry::Stale;
    }
    // The kernel posts our own fault notification; the restart policy
    // then treats it as any other fault.
    kipc::fault_task(w.target.index());
    Expiry::Fired(w.target)
}
