//! One device as the manager keeps it: its configuration, the bound
//! driver, the lock, a streamed load in progress, the op log of the
//! latest load and what it runs; and how a driver is bound and unbound.

use crate::driver::{self, Binding, Unbind};
use crate::{Trace, alive, config};
use drv_fpga_api::{FpgaError, FpgaState, ImageInfo};
use ringbuf::ringbuf_entry_root;
use task_fpga_mgr::loader::{Stream, error_state_of};
use task_fpga_mgr::lock::Lock;
use task_fpga_mgr::oplog::OpLog;
use userlib::{TaskId, kipc};

/// How long we wait before asking an announced driver again.
const BIND_RETRY_MS: u64 = 2;

/// Sets our timer to try binding again (a no-op without a `timer`
/// notification: then only the next announcement binds).
fn retry_bind_soon() {
    if config::TIMER_MASK != 0 {
        let at = userlib::sys_get_timer().now + BIND_RETRY_MS;
        userlib::sys_set_timer(Some(at), config::TIMER_MASK);
    }
}

/// One device: its configuration, binding, lock, load in progress and
/// what it runs.
pub struct Device {
    pub config: &'static config::DeviceConfig,
    pub index: u8,
    pub binding: Option<Binding>,
    /// An incarnation unbound by `remove`; never bound again.
    pub removed: Option<TaskId>,
    pub state: FpgaState,
    pub lock: Lock,
    pub stream: Option<Stream>,
    /// The driver calls of the latest load.
    pub log: OpLog,
    /// The image that brought the device to `OPERATING`, while it is.
    pub image: Option<ImageInfo>,
    /// The driver's status bits as we last read them (the `status` op,
    /// and after every load), so that a dump shows them too.
    pub status: Option<u64>,
}

impl Device {
    pub fn set_state(&mut self, state: FpgaState) {
        driver::set_state(self.index, &mut self.state, state);
        if state != FpgaState::Operating {
            self.image = None;
        }
    }

    /// Ends a streamed load that did not finish, leaving the `*_ERR` of the
    /// step it was in.
    pub fn abandon_stream(&mut self) {
        if self.stream.take().is_some()
            && let Some(failed) = error_state_of(self.state)
        {
            self.set_state(failed);
        }
    }

    /// Drops the lock of a dead holder (and its half-done load).
    pub fn reap(&mut self) {
        if let Some(holder) = self.lock.reap(alive) {
            ringbuf_entry_root!(Trace::HolderDied {
                device: self.index,
                holder
            });
            self.abandon_stream();
        }
    }

    /// Reaps, then checks that `caller` holds the lock.
    pub fn check_holder(&mut self, caller: TaskId) -> Result<(), FpgaError> {
        self.reap();
        self.lock.check(caller)
    }

    pub fn bound(&self) -> Result<Binding, FpgaError> {
        self.binding.ok_or(FpgaError::NoDriver)
    }

    /// Forgets the driver; never waits for it or for anyone else.
    ///
    /// A removed driver lives on, so its peripherals are revoked: it must
    /// not touch the device we no longer let anyone load through it. A
    /// dead one cannot use them, and its next incarnation needs them
    /// before it can announce itself (a driver sets its pins up first),
    /// so they are restored.
    pub fn unbind(&mut self, why: Unbind) {
        if let Some(b) = self.binding.take() {
            ringbuf_entry_root!(Trace::Unbound {
                device: self.index,
                driver: b.task,
                why
            });
            let removed = why == Unbind::Removed;
            driver::grant_peripherals(self.config, !removed);
            if removed {
                self.removed = Some(b.task);
            }
        }
        self.abandon_stream();
    }

    /// After a driver fault (jefe's notice, before it restarts the
    /// driver): a bound driver that died is unbound, and a removed one
    /// that died gets its peripherals back for its next incarnation.
    pub fn notice_death(&mut self) {
        if let Some(b) = self.binding
            && !alive(b.task)
        {
            self.unbind(Unbind::Died);
        }
        if let Some(r) = self.removed
            && !alive(r)
        {
            self.removed = None;
            driver::grant_peripherals(self.config, true);
            ringbuf_entry_root!(Trace::RemovedDied {
                device: self.index,
                driver: r
            });
        }
    }

    /// Binds the configured driver's current incarnation if it is new.
    pub fn bind(&mut self) {
        let task = driver::current_task(self.config);
        let current = self.binding.map(|b| b.task);
        if current == Some(task) || self.removed == Some(task) {
            return;
        }
        if current.is_some() {
            self.unbind(Unbind::Replaced);
        }
        let Some(binding) = driver::describe(task) else {
            // Announced, but not waiting for messages yet (or not any
            // more): look again shortly, unless it is dead.
            if !kipc::read_task_status(task.index()).is_faulted() {
                retry_bind_soon();
            }
            return;
        };
        driver::grant_peripherals(self.config, true);
        self.binding = Some(binding);
        ringbuf_entry_root!(Trace::Bound {
            device: self.index,
            driver: binding.task
        });
        match driver::read_state(binding.task) {
            Ok(state) => self.set_state(state),
            Err(_) => self.unbind(Unbind::Died),
        }
    }

    /// Unbinds if the driver died during the op that answered `r` (a
    /// dead code, `died`, or an error saying so).
    pub fn note(
        &mut self,
        r: Result<(), FpgaError>,
        died: bool,
    ) -> Result<(), FpgaError> {
        if died || r == Err(FpgaError::DriverDied) {
            self.unbind(Unbind::Died);
        }
        r
    }
}
