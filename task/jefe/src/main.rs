//! Jefe, the supervisor: Leasehold's task 0.
//!
//! The kernel posts notification bit 0 to task 0 whenever any task faults.
//! We then walk the faulted tasks, count each new fault, and act on the
//! task's disposition: `Restart` it (at once, or after a delay if it
//! faulted within `MIN_RUN_TIME` of starting, so a crash-looping task
//! restarts at most 20 times a second), or `Hold` it faulted so a debugger
//! can look at it. Tasks on the fault mailing list (`on-task-fault`) are
//! told with a notification, and get `MIN_RESTART_DELAY` to read the fault
//! before the restart wipes it. A periodic timer drives delayed restarts
//! and polls the debugger's requests (see [`external`]).
//!
//! # We never SEND, except to the kernel
//!
//! A SEND blocks until the callee replies. Were jefe to SEND to another
//! task, that task could stall the supervisor, and with it every restart,
//! by never answering, which is exactly what a broken task does. So jefe
//! only answers (REPLY), tells (POST, which never blocks) and asks the
//! kernel (kipc, answered at once). Every other task is less trusted.
//!
//! # Holding a task costs its clients nothing
//!
//! In Hubris, clients blocked on a faulted server stay blocked until the
//! supervisor restarts it, so holding a server hangs its clients. In
//! Leasehold the kernel bumps the generation at the fault and hands every
//! blocked peer the dead code right away; the restart that follows reuses
//! that generation. `Hold` therefore only delays the task's own return.
//!
//! # Watchdogs
//!
//! A task named in `allowed-callers` for `arm_watchdog` may have us fault
//! another task that does not get done in time (see [`watchdog`]): the
//! FPGA manager arms one on a driver around each call, because it cannot
//! interrupt a driver that hangs. We only ever fault the incarnation the
//! watchdog was armed for, and only while the task that armed it lives.
//!
//! # Deliberately absent
//!
//! - Dumps: the hosted kernel writes them itself (the debug probe, and
//!   app.toml `dump-on-fault`), so Hubris's dump ops and areas are gone.
//! - Restarting jefe: a fault of task 0 leaves it faulted (as Hubris
//!   today, hubris#2505); nothing supervises the supervisor.
//! - Back-off beyond 20 Hz: a crash-looping task keeps restarting every
//!   `MIN_RUN_TIME`; hold it (`humility jefe -H`) to stop it.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod external;
mod ops;
mod policy;
mod watchdog;

use counters::counters;
use idol_runtime::{NotificationHandler, RequestError};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use task_jefe_api::{Disposition, ExternalRequest, JefeError};
use userlib::{Generation, TaskId};

use generated::{DUMP_ON_FAULT, FAULT_MAILING_LIST, NUM_TASKS, TASKS_TO_HOLD};
use policy::TaskStatus;

/// How often, in ms, the periodic timer polls the debugger's requests.
/// Hubris uses 100 ms; we poll faster so that tests driving jefe through
/// the debugger stay quick. A tick costs one atomic load when idle.
const TIMER_INTERVAL: u64 = 20;

// The kernel posts faults on bit 0; build.rs insists "fault" is first, and
// this catches a build-util that numbers notifications differently.
const _: () = assert!(notifications::FAULT_MASK == userlib::FAULT_NOTIFICATION);

/// A task to POST to, and the notification bits to post.
#[derive(Copy, Clone, Debug)]
pub struct Recipient {
    pub task: u16,
    pub mask: u32,
}

/// An entry of the fault mailing list.
#[derive(Copy, Clone, Debug)]
pub struct FaultSubscriber {
    pub recipient: Recipient,
    /// The tasks whose faults it wants to hear of; empty means all.
    pub watches: &'static [u16],
}

impl FaultSubscriber {
    /// Whether it is told of task `index`'s faults. Never of its own: it
    /// is faulted then, and its restart clears its notifications anyway.
    fn is_told_of(&self, index: usize) -> bool {
        usize::from(self.recipient.task) != index
            && (self.watches.is_empty()
                || self.watches.iter().any(|&w| usize::from(w) == index))
    }
}

/// Every state change jefe makes, for the debugger. Task ids carry the
/// generation clients must use from then on: the kernel bumps it at the
/// fault, so a fault and the restart that follows show the same one.
#[derive(Copy, Clone, Debug, PartialEq, counters::Count)]
enum Trace {
    #[count(skip)]
    None,
    Faulted(TaskId),
    Held(TaskId),
    RestartDelayed {
        task: TaskId,
        restart_at: u64,
    },
    Restarted(TaskId),
    /// A task we thought faulted was restarted by someone else.
    RestartedElsewhere(TaskId),
    Notified {
        task: TaskId,
        mask: u32,
    },
    RestartMe(TaskId),
    /// A dump was written (or failed) because of this task.
    Dumped {
        task: TaskId,
        ok: bool,
    },
    StateChanged(u32),
    SetDisposition {
        task: TaskId,
        disposition: Disposition,
    },
    External {
        request: ExternalRequest,
        task: TaskId,
    },
    ExternalError(external::Error),
    WatchdogArmed {
        task: TaskId,
        by: TaskId,
        deadline: u64,
    },
    WatchdogDisarmed(TaskId),
    /// A watchdog ran out: the task was faulted.
    WatchdogFired(TaskId),
    /// A watchdog ran out after its task restarted or its armer died.
    WatchdogDropped(TaskId),
}

counted_ringbuf!(Trace, 64, Trace::None);
counters!(JefeError);

/// All of jefe's state.
pub(crate) struct ServerImpl {
    /// The application-defined system state (`get_state`/`set_state`).
    state: u32,
    disposition: [Disposition; NUM_TASKS],
    status: [TaskStatus; NUM_TASKS],
    /// Faults seen per task since boot, wrapping.
    fault_counts: [u32; NUM_TASKS],
    /// When the periodic timer next fires, ms since boot.
    next_poll: u64,
    /// Armed watchdogs, by task index.
    watchdogs: [Option<watchdog::Watchdog>; NUM_TASKS],
}

#[allow(unsafe_code)] // export_name: the entry point userlib's _start calls
#[unsafe(export_name = "main")]
fn main() -> ! {
    external::set_ready();
    let mut server = ServerImpl::new(now());
    server.arm_timer();
    let mut buffer = [0u8; idl::INCOMING_SIZE];
    idol_runtime::serve::<_, idl::JefeOperation>(&mut buffer, &mut server)
}

fn now() -> u64 {
    userlib::sys_get_timer().now
}

/// Task `index`'s current id. Indices come from app.toml (checked by
/// build.rs) or are checked against `NUM_TASKS` first, so the kernel
/// never faults us for an out-of-range one.
fn task_id(index: usize) -> TaskId {
    userlib::sys_refresh_task_id(TaskId::for_index_and_gen(
        index,
        Generation::ZERO,
    ))
}

/// Posts `r`'s notification. A dead code means it faulted since we
/// looked it up; its restart clears notifications, so there is nothing to
/// retry.
fn post(r: Recipient) {
    let task = task_id(usize::from(r.task));
    let _ = userlib::sys_post(task, r.mask);
    ringbuf_entry!(Trace::Notified { task, mask: r.mask });
}

/// Task index `raw` as an op argument: not jefe, not past the table.
fn checked_index(raw: u32) -> Result<usize, RequestError<JefeError>> {
    let error = match usize::try_from(raw) {
        Ok(0) => JefeError::IllegalTask,
        Ok(i) if i < NUM_TASKS => return Ok(i),
        _ => JefeError::BadTaskIndex,
    };
    counters::count!(error);
    Err(error.into())
}

impl ServerImpl {
    fn new(now: u64) -> Self {
        let mut disposition = [Disposition::Restart; NUM_TASKS];
        for &t in TASKS_TO_HOLD {
            if let Some(d) = disposition.get_mut(usize::from(t)) {
                *d = Disposition::Hold;
            }
        }
        Self {
            state: 0,
            disposition,
            status: [TaskStatus::Running { started_at: now }; NUM_TASKS],
            fault_counts: [0; NUM_TASKS],
            next_poll: now.saturating_add(TIMER_INTERVAL),
            watchdogs: [None; NUM_TASKS],
        }
    }

    /// Fires the watchdogs that are due.
    pub(crate) fn expire_watchdogs(&mut self, now: u64) {
        let alive = |t: TaskId| task_id(t.index()) == t;
        for slot in &mut self.watchdogs {
            let Some(w) = *slot else { continue };
            match watchdog::expire(&w, now, alive, watchdog::waiting_on) {
                watchdog::Expiry::Pending => {}
                watchdog::Expiry::Fired(t) => {
                    *slot = None;
                    ringbuf_entry!(Trace::WatchdogFired(t));
                }
                watchdog::Expiry::Stale => {
                    *slot = None;
                    ringbuf_entry!(Trace::WatchdogDropped(w.target));
                }
            }
        }
    }

    /// The earliest armed watchdog deadline.
    pub(crate) fn next_watchdog(&self) -> Option<u64> {
        self.watchdogs.iter().flatten().map(|w| w.deadline).min()
    }
}

impl NotificationHandler for ServerImpl {
    fn current_notification_mask(&self) -> u32 {
        notifications::FAULT_MASK | notifications::TIMER_MASK
    }

    fn handle_notification(&mut self, bits: u32) {
        let now = now();
        // Before anything else, so that a held task restarted by someone
        // else and faulted again counts as a new fault.
        self.notice_restarts_elsewhere(now);
        if bits & notifications::FAULT_MASK != 0 {
            self.handle_faults(now);
        }
        if bits & notifications::TIMER_MASK != 0 {
            self.handle_timer(now);
        }
        self.arm_timer();
    }
}

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));

/// jefe's app.toml config, resolved to indices and masks by build.rs.
mod generated {
    include!(concat!(env!("OUT_DIR"), "/jefe_config.rs"));
}

/// The server stub generated from `idl/jefe.idol`.
#[allow(unsafe_code)] // its `.idolatry` link_section, for the debugger
mod idl {
    use task_jefe_api::{Disposition, JefeError};
    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}
