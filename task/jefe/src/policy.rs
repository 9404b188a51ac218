//! The restart policy: what jefe does when the kernel reports a fault,
//! when a restart delay runs out, and when someone (an op, or the
//! debugger) changes a task's disposition.
//!
//! Each task has a disposition (`Restart` or `Hold`) and a status
//! ([`TaskStatus`]). A fault is new only while the status is `Running`:
//! a held or delayed task is still faulted, and `find_faulted_task` keeps
//! finding it, but it must be counted and acted on once.

use ringbuf::ringbuf_entry_root;
use task_jefe_api::Disposition;
use userlib::kipc;

use crate::{
    FAULT_MAILING_LIST, NUM_TASKS, ServerImpl, TIMER_INTERVAL, Trace, external,
    notifications, post, task_id,
};

/// What jefe believes about a task, beside the kernel's own state.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum TaskStatus {
    /// Started (or left stopped, at boot) at `started_at`, ms since boot;
    /// a fault of it is new.
    Running { started_at: u64 },
    /// Faulted and held for inspection.
    HoldFault,
    /// Faulted; to be restarted at `restart_at`.
    Timeout { restart_at: u64 },
}

impl ServerImpl {
    /// Handles every fault we have not seen yet: one notification may
    /// stand for several faults.
    pub(crate) fn handle_faults(&mut self, now: u64) {
        let mut next = 1;
        while let Some(i) = kipc::find_faulted_task(next) {
            next = i + 1;
            if let Some(&TaskStatus::Running { started_at }) =
                self.status.get(i)
            {
                self.on_new_fault(i, started_at, now);
            }
        }
    }

    fn on_new_fault(&mut self, i: usize, started_at: u64, now: u64) {
        let id = task_id(i);
        self.fault_counts[i] = self.fault_counts[i].wrapping_add(1);
        ringbuf_entry_root!(Trace::Faulted(id));
        // Before any restart wipes the evidence.
        if crate::DUMP_ON_FAULT.contains(&(i as u16)) {
            let ok = kipc::dump_task(i);
            ringbuf_entry_root!(Trace::Dumped { task: id, ok });
        }
        match self.disposition[i] {
            Disposition::Hold => {
                self.status[i] = TaskStatus::HoldFault;
                ringbuf_entry_root!(Trace::Held(id));
            }
            Disposition::Restart => {
                let subscribed =
                    FAULT_MAILING_LIST.iter().any(|s| s.is_told_of(i));
                let restart_at = task_jefe_api::restart_deadline(
                    started_at, now, subscribed,
                );
                if restart_at <= now {
                    self.restart(i, now);
                } else {
                    self.status[i] = TaskStatus::Timeout { restart_at };
                    ringbuf_entry_root!(Trace::RestartDelayed {
                        task: id,
                        restart_at
                    });
                }
            }
        }
        for s in FAULT_MAILING_LIST.iter().filter(|s| s.is_told_of(i)) {
            post(s.recipient);
        }
    }

    /// Fires due watchdogs, restarts the tasks whose delay is over, and
    /// polls the debugger.
    pub(crate) fn handle_timer(&mut self, now: u64) {
        self.expire_watchdogs(now);
        for i in 1..NUM_TASKS {
            if let TaskStatus::Timeout { restart_at } = self.status[i]
                && restart_at <= now
            {
                self.restart(i, now);
            }
        }
        if now >= self.next_poll {
            self.next_poll = now.saturating_add(TIMER_INTERVAL);
        }
        external::check(self, now);
    }

    /// Another task with the `reinit_task` grant (a test harness, say) may
    /// have restarted a task we hold or were about to restart. Forget its
    /// fault, so that its next fault is seen as new and our pending
    /// restart does not kill the fresh incarnation.
    pub(crate) fn notice_restarts_elsewhere(&mut self, now: u64) {
        for i in 1..NUM_TASKS {
            if matches!(self.status[i], TaskStatus::Running { .. }) {
                continue;
            }
            if !kipc::read_task_status(i).is_faulted() {
                self.status[i] = TaskStatus::Running { started_at: now };
                ringbuf_entry_root!(Trace::RestartedElsewhere(task_id(i)));
            }
        }
    }

    /// Sets the timer for the next poll, delayed restart or watchdog,
    /// whichever is first.
    pub(crate) fn arm_timer(&self) {
        let deadline = self
            .status
            .iter()
            .filter_map(|s| match *s {
                TaskStatus::Timeout { restart_at } => Some(restart_at),
                _ => None,
            })
            .chain(self.next_watchdog())
            .fold(self.next_poll, u64::min);
        userlib::sys_set_timer(Some(deadline), notifications::TIMER_MASK);
    }

    /// Restarts task `i` now, whatever its state.
    pub(crate) fn restart(&mut self, i: usize, now: u64) {
        kipc::reinit_task(i, true);
        self.status[i] = TaskStatus::Running { started_at: now };
        ringbuf_entry_root!(Trace::Restarted(task_id(i)));
    }

    /// Holds task `i` from now on; if it is waiting out a restart delay,
    /// it stays faulted (how a debugger catches a crash-looping task).
    pub(crate) fn hold(&mut self, i: usize) {
        self.disposition[i] = Disposition::Hold;
        if let TaskStatus::Timeout { .. } = self.status[i] {
            self.status[i] = TaskStatus::HoldFault;
            ringbuf_entry_root!(Trace::Held(task_id(i)));
        }
    }

    /// Restarts task `i` after faults from now on, and now if it is held.
    pub(crate) fn release(&mut self, i: usize, now: u64) {
        self.disposition[i] = Disposition::Restart;
        if self.status[i] == TaskStatus::HoldFault {
            self.restart(i, now);
        }
    }

    /// Faults task `i` and holds it. A task that is already faulted keeps
    /// its own fault (faulting it again would overwrite what the debugger
    /// wants to see) and is held.
    pub(crate) fn fault(&mut self, i: usize) {
        self.hold(i);
        if let TaskStatus::Running { .. } = self.status[i] {
            // Our fault notification then finds it and holds it.
            kipc::fault_task(i);
        }
    }
}
