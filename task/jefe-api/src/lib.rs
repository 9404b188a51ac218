//! Client API for jefe, the supervisor.
//!
//! Jefe is always task 0. A task that talks to it names it in its
//! app.toml `task-slots` (the kernel refuses a SEND to any task that is
//! not in the caller's slots) and wraps the slot's id:
//!
//! ```ignore
//! task_slot!(JEFE, jefe);
//! let jefe = task_jefe_api::Jefe::from(JEFE.get_task_id());
//! jefe.set_disposition(3, Disposition::Hold)?;
//! ```
//!
//! This crate also holds what jefe shares with the outside world without
//! IPC: the restart policy's time constants (so a test can check the
//! throttling it observes) and the request codes a debugger writes into
//! jefe's `JEFE_EXTERNAL_*` statics.
//!
//! Deliberately absent: Hubris's dump and reset ops. The hosted kernel
//! writes dumps itself, so jefe has no dump areas to manage.

#![cfg_attr(not(test), no_std)]

/// Shortest time, in ms, a task must have run since its last start for
/// jefe to restart it at once after a fault. A task that faults sooner is
/// restarted only when this much time has passed since its last start,
/// which limits a crash-looping task to 20 restarts a second (Hubris's
/// `MIN_RUN_TIME`).
pub const MIN_RUN_TIME: u64 = 50;

/// Shortest delay, in ms, between a fault and the restart when some task
/// subscribed to that task's faults (`on-task-fault`): the subscriber gets
/// this long to read the fault (`read_task_status`, `read_panic_message`)
/// before the restart wipes it (Hubris's `MIN_RESTART_DELAY`).
pub const MIN_RESTART_DELAY: u64 = 5;

/// When jefe restarts a task that faulted at `now` (ms since boot) after
/// starting at `started_at`; `now` or earlier means at once.
///
/// `subscribed` says whether any task is notified of this task's faults,
/// which buys them [`MIN_RESTART_DELAY`].
#[must_use]
pub const fn restart_deadline(
    started_at: u64,
    now: u64,
    subscribed: bool,
) -> u64 {
    let throttled = started_at.saturating_add(MIN_RUN_TIME);
    let delay = if subscribed { MIN_RESTART_DELAY } else { 0 };
    let earliest = now.saturating_add(delay);
    if throttled > earliest {
        throttled
    } else {
        earliest
    }
}

/// What jefe does with a task that faults.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u8)]
pub enum Disposition {
    /// Restart it (after the throttling delay, if it faulted too soon).
    Restart = 0,
    /// Leave it faulted, for a debugger to inspect; its clients still get
    /// the dead code at once, because the kernel gives it at the fault.
    Hold = 1,
}

impl TryFrom<u8> for Disposition {
    type Error = ();

    fn try_from(code: u8) -> Result<Self, ()> {
        match code {
            0 => Ok(Self::Restart),
            1 => Ok(Self::Hold),
            _ => Err(()),
        }
    }
}

/// Why a jefe op failed. Codes start at 1 and fit a `u16`, so they
/// cannot collide with `ClientError` or dead codes.
#[derive(
    Copy, Clone, Debug, Eq, PartialEq, counters::Count, idol_runtime::ErrorCode,
)]
#[repr(u32)]
pub enum JefeError {
    /// The task index is past the end of the task table.
    BadTaskIndex = 1,
    /// The op does not apply to jefe itself (task 0).
    IllegalTask = 2,
    /// Jefe restarted during the call, so we cannot know whether it acted.
    /// (Jefe restarting means the system is being reset; in practice a
    /// caller only sees this in tests that restart jefe on purpose.)
    #[error_code(server_death)]
    ServerRestarted = 3,
    /// The kernel could not write the dump file (its log says why).
    DumpFailed = 4,
}

/// A request a debugger writes into `JEFE_EXTERNAL_REQUEST` (with the task
/// index in `JEFE_EXTERNAL_TASKINDEX`, then a non-zero
/// `JEFE_EXTERNAL_KICK`). The codes are Hubris's, so Humility's
/// `jefe -s|-H|-r|-f` mean the same here.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
#[repr(u32)]
pub enum ExternalRequest {
    /// Nothing asked.
    None = 0,
    /// Restart the task now (its disposition is kept).
    Start = 1,
    /// Set its disposition to `Hold`; if it is waiting out a restart
    /// delay, keep it faulted.
    Hold = 2,
    /// Set its disposition to `Restart`; if it is held at a fault, restart
    /// it now.
    Release = 3,
    /// Fault it (`FaultInfo::Injected` by jefe) and hold it.
    Fault = 4,
}

impl TryFrom<u32> for ExternalRequest {
    type Error = ();

    fn try_from(code: u32) -> Result<Self, ()> {
        match code {
            0 => Ok(Self::None),
            1 => Ok(Self::Start),
            2 => Ok(Self::Hold),
            3 => Ok(Self::Release),
            4 => Ok(Self::Fault),
            _ => Err(()),
        }
    }
}

/// The generated client, with the types its `.idol` file names.
#[cfg(feature = "client")]
#[allow(clippy::unused_unit)] // generated code, not ours to tidy
pub mod idl {
    use super::{Disposition, JefeError};
    include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
}

#[cfg(feature = "client")]
pub use idl::Jefe;

#[cfg(feature = "client")]
impl Jefe {
    /// Restarts the calling task without recording a fault: the new
    /// incarnation starts from `main`, with the generation bumped, and
    /// every task blocked on us gets the dead code.
    ///
    /// Returns only if jefe itself restarted during the call (a system
    /// reset in progress); we then ask the new jefe, so this never returns.
    pub fn restart_me(&self) -> ! {
        loop {
            // `Err(ServerDeath)` is the only way back here; the handle
            // already follows the new jefe, so asking again is right.
            let _ = self.restart_me_raw();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_that_ran_long_enough_restarts_at_once() {
        assert_eq!(restart_deadline(0, 1000, false), 1000);
        assert_eq!(restart_deadline(950, 1000, false), 1000);
    }

    #[test]
    fn a_task_that_faults_right_after_starting_waits_out_min_run_time() {
        assert_eq!(restart_deadline(1000, 1010, false), 1050);
        assert_eq!(restart_deadline(1000, 1000, false), 1000 + MIN_RUN_TIME);
    }

    #[test]
    fn subscribers_always_get_min_restart_delay() {
        assert_eq!(restart_deadline(0, 1000, true), 1005);
        assert_eq!(restart_deadline(1000, 1010, true), 1050);
        assert_eq!(restart_deadline(1000, 1048, true), 1053);
    }

    #[test]
    fn deadlines_saturate_instead_of_wrapping() {
        assert_eq!(restart_deadline(u64::MAX, 0, true), u64::MAX);
    }

    #[test]
    fn wire_codes_round_trip_and_match_hubris() {
        for d in [Disposition::Restart, Disposition::Hold] {
            assert_eq!(Disposition::try_from(d as u8), Ok(d));
        }
        assert!(Disposition::try_from(2).is_err());
        for e in [
            JefeError::BadTaskIndex,
            JefeError::IllegalTask,
            JefeError::ServerRestarted,
        ] {
            assert_eq!(JefeError::try_from(u32::from(u16::from(e))), Ok(e));
        }
        assert!(JefeError::try_from(0u32).is_err());
        assert_eq!(ExternalRequest::Start as u32, 1);
        assert_eq!(ExternalRequest::Hold as u32, 2);
        assert_eq!(ExternalRequest::Release as u32, 3);
        assert_eq!(ExternalRequest::Fault as u32, 4);
        for code in 0..5 {
            let r = ExternalRequest::try_from(code).map(|r| r as u32);
            assert_eq!(r, Ok(code));
        }
        assert!(ExternalRequest::try_from(5).is_err());
    }
}
