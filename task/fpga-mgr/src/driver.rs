//! The manager's side of a driver binding: who is bound (a `TaskId` with
//! its generation), how we call it, and the revocable peripheral grant.
//!
//! A binding is a capability we can drop at any moment without asking
//! anyone: the driver's death shows up as a dead code on our next call,
//! and we simply forget the binding and revoke its peripherals. Nothing
//! waits for the driver or for users of the device; a new incarnation is
//! bound when it announces itself.
//!
//! # Hung drivers
//!
//! SEND is synchronous: a driver that never answers would hold us (and
//! every device) forever. When app.toml's manager config names the
//! supervisor (`watchdog = "jefe"`), every driver call is bracketed by
//! jefe's `arm_watchdog` / `disarm_watchdog`: a load's calls get what is
//! left of the load's deadline plus [`WATCHDOG_GRACE_MS`], other calls
//! [`CONTROL_TIMEOUT_MS`]. If the driver is still in the call then, jefe
//! faults it, our SEND returns a dead code, and we unbind it like any
//! dead driver; a load whose deadline had passed reports `Timeout` (state
//! the step's `*_ERR`), anything else `DriverDied`. jefe restarts the
//! driver and its new incarnation is bound when it announces itself.
//! Without the supervisor's help the manager has no such guard.

use crate::Trace;
use crate::config::DeviceConfig;
use crate::hash::Hasher;
use drv_fpga_api::{FpgaState, ImageInfo, op};
use drv_fpga_driver_api::idl::FpgaDriverOperation;
use drv_fpga_driver_api::{DriverError, DriverInfo, FpgaDriver, HeaderInfo};
use ringbuf::ringbuf_entry_root;
use task_fpga_mgr::image::ImageDigest;
use task_fpga_mgr::loader::{Deadline, DriverOps, Profile, Window};
use task_fpga_mgr::oplog::OpLog;
use userlib::{
    Lease, LeaseAttributes, SchedState, TaskId, TaskState, kipc, sys_get_timer,
    sys_refresh_task_id, sys_send,
};

/// How long past a load's deadline the watchdog waits before faulting
/// the driver, so that a driver honouring the deadline itself (xc7's
/// `write_complete` polls DONE until it) answers first. Generous because
/// on the hosted board a task's time is the host's wall clock, and a
/// loaded host can hold a runnable driver off the CPU for tens of
/// milliseconds; a driver that answered in time is never faulted anyway
/// (jefe drops a watchdog whose caller is no longer waiting on it).
pub const WATCHDOG_GRACE_MS: u32 = 500;

/// The watchdog for driver calls outside a load (`describe`, `state`,
/// `status`, `remove`, a reset's `write_init`), none of which waits for
/// the device for long.
pub const CONTROL_TIMEOUT_MS: u32 = 2_000;

/// jefe's watchdog, if app.toml gives us the supervisor (see the module
/// docs).
#[cfg(watchdog)]
mod watchdog {
    use task_jefe_api::Jefe;
    use userlib::{TaskId, task_slot};

    task_slot!(JEFE, jefe);

    pub const ENABLED: bool = true;

    /// Task indices have 10 bits.
    fn index(task: TaskId) -> u32 {
        u32::try_from(task.index()).unwrap_or(u32::MAX)
    }

    /// Has jefe fault `driver` unless disarmed within `ms`. jefe refuses
    /// nothing we send (we are on its `allowed-callers` list, and driver
    /// indices come from app.toml); if it restarted, its new incarnation
    /// knows nothing of the old watchdog, which is what we want.
    pub fn arm(driver: TaskId, ms: u32) {
        let jefe = Jefe::from(JEFE.get_task_id());
        let _ = jefe.arm_watchdog(index(driver), ms);
    }

    pub fn disarm(driver: TaskId) {
        let jefe = Jefe::from(JEFE.get_task_id());
        let _ = jefe.disarm_watchdog(index(driver));
    }
}

#[cfg(not(watchdog))]
mod watchdog {
    use userlib::TaskId;

    pub const ENABLED: bool = false;

    pub fn arm(_: TaskId, _: u32) {}

    pub fn disarm(_: TaskId) {}
}

/// Calls `f` on `driver` under a watchdog of `ms`.
pub fn guarded<T>(driver: TaskId, ms: u32, f: impl FnOnce() -> T) -> T {
    watchdog::arm(driver, ms);
    let r = f();
    watchdog::disarm(driver);
    r
}

/// A bound driver.
#[derive(Copy, Clone, Debug)]
pub struct Binding {
    /// The incarnation we bound; a call to it after its death gets a dead
    /// code.
    pub task: TaskId,
    /// What it declared in `describe`.
    pub info: DriverInfo,
}

impl Binding {
    /// The header rules a load follows.
    pub fn profile(&self) -> Profile {
        Profile::from(&self.info)
    }
}

/// Why a binding ended, for the trace.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Unbind {
    /// A call returned a dead code.
    Died,
    /// A newer incarnation announced itself.
    Replaced,
    /// A client called `remove`.
    Removed,
}

/// The configured driver task as it is now (current generation).
pub fn current_task(config: &DeviceConfig) -> TaskId {
    let id = TaskId::for_index_and_gen(
        usize::from(config.driver),
        userlib::Generation::ZERO,
    );
    sys_refresh_task_id(id)
}

/// Asks `task` to describe itself, if it is waiting for messages.
///
/// We call only a driver blocked in an open RECV: an announcement is
/// posted just before a driver's first RECV, and a driver that is not
/// there yet (stopped, faulted, busy) would make us wait, which the
/// manager never does. It announces again when it gets there.
pub fn describe(task: TaskId) -> Option<Binding> {
    let status = kipc::read_task_status(task.index());
    if status != TaskState::Healthy(SchedState::InRecv(None)) {
        return None;
    }
    let client = FpgaDriver::from(task);
    let info = guarded(task, CONTROL_TIMEOUT_MS, || client.describe());
    // `describe` is idempotent, so the stub follows a restart; the
    // incarnation that answered is the one we bind.
    Some(Binding {
        task: client.task_id(),
        info,
    })
}

/// Gives (`true`) or takes away the driver's peripheral grants. We manage
/// them (`managed-by` in app.toml); a revoked driver faults on its next
/// access instead of touching the hardware.
pub fn grant_peripherals(config: &DeviceConfig, granted: bool) {
    for &p in config.peripherals {
        if granted {
            kipc::restore_peripheral(p);
        } else {
            kipc::revoke_peripheral(p);
        }
    }
}

/// One SEND without arguments or leases, and *without* the generated
/// client's retry: `state` and `status` are idempotent, so the stub would
/// follow a restarted driver to an incarnation we have not bound (and wait
/// for it). `Err` means the driver is dead or misbehaved.
fn send_plain(
    task: TaskId,
    op: FpgaDriverOperation,
    reply: &mut [u8],
) -> Result<usize, DriverError> {
    let (rc, len) = guarded(task, CONTROL_TIMEOUT_MS, || {
        sys_send(task, op as u16, &[], reply, &[])
    });
    if rc != 0 || len != reply.len() {
        return Err(DriverError::DriverRestarted);
    }
    Ok(len)
}

/// The driver's view of its state (Linux seeds `mgr->state` with it at
/// registration).
///
/// # Errors
///
/// `DriverRestarted` if it died.
pub fn read_state(task: TaskId) -> Result<FpgaState, DriverError> {
    let mut reply = [0u8; 1];
    send_plain(task, FpgaDriverOperation::state, &mut reply)?;
    Ok(FpgaState::try_from(reply[0]).unwrap_or(FpgaState::Unknown))
}

/// The driver's live status bits.
///
/// # Errors
///
/// `DriverRestarted` if it died.
pub fn read_status(task: TaskId) -> Result<u64, DriverError> {
    let mut reply = [0u8; 8];
    send_plain(task, FpgaDriverOperation::status, &mut reply)?;
    Ok(u64::from_le_bytes(reply))
}

/// What a [`Link`] records into: the device's state, op log and image.
pub struct Record<'a> {
    /// The device's index, for the trace.
    pub device: u8,
    /// Its recorded state.
    pub state: &'a mut FpgaState,
    /// Its op log.
    pub log: &'a mut OpLog,
    /// What it runs; forgotten when it leaves `OPERATING`.
    pub image: &'a mut Option<ImageInfo>,
}

/// Where a load's image is: lease `index` of `lender`, a task waiting on
/// us (the client whose message we serve, or the firmware store), from
/// byte `base`, `len` bytes long. Every [`Window`] is relative to `base`.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Source {
    /// The task that lent the lease.
    pub lender: TaskId,
    /// The lease's index in its message.
    pub index: u8,
    /// Where the image starts in the lease.
    pub base: u32,
    /// The image's length.
    pub len: u32,
}

impl Source {
    /// Lease 0 of a client's message, whole.
    pub fn client(lender: TaskId, len: u32) -> Self {
        Self {
            lender,
            index: 0,
            base: 0,
            len,
        }
    }
}

/// A load's link to the bound driver: every [`Window`] becomes a lease
/// forwarded from the image's [`Source`], and is hashed on the way (by
/// us or the hash engine, see [`crate::hash`]).
pub struct Link<'a> {
    driver: FpgaDriver,
    source: Source,
    /// The load's deadline, for the watchdog and the hash engine.
    deadline: Deadline,
    record: Record<'a>,
    /// How we hash.
    hasher: Hasher<'a>,
    /// A call returned a dead code: the driver must be unbound.
    died: bool,
    /// Whether `digest` reads and hashes (see [`Link::skip_digest`]).
    hash: bool,
}

impl<'a> Link<'a> {
    /// A link to `driver` for an image at `source`, for a load due by
    /// `deadline`, recording into `record`, hashing with `hasher`.
    pub fn new(
        driver: TaskId,
        source: Source,
        deadline: Deadline,
        record: Record<'a>,
        hasher: Hasher<'a>,
    ) -> Self {
        Self {
            driver: FpgaDriver::from(driver),
            source,
            deadline,
            record,
            hasher,
            died: false,
            hash: true,
        }
    }

    /// Makes `digest` a no-op, for the benchmark's loads with
    /// `BENCH_SKIP_DIGEST` (the load then records no identity).
    pub fn skip_digest(&mut self) {
        self.hash = false;
    }

    /// Whether the driver died during one of our calls.
    pub fn died(&self) -> bool {
        self.died
    }

    /// The forwarded lease for `w`. The kernel faults a forwarder that
    /// names bytes beyond the lease, so we check (the loader never asks,
    /// but a fault here would take every device down).
    ///
    /// A lender that died already gets no call at all: the driver would
    /// find the chain broken before its handler runs (idol's dispatch
    /// then answers no one, taking the dead lender for the sender) and
    /// leave us waiting. Its death between this check and the SEND is
    /// left to the watchdog.
    fn lease(&self, w: Window) -> Result<Lease<'static>, DriverError> {
        let offset = self.offset_of(w)?;
        let s = &self.source;
        if !crate::alive(s.lender) {
            return Err(DriverError::LeaseRevoked);
        }
        let read = LeaseAttributes::READ;
        Ok(Lease::forwarded(s.lender, s.index, read, offset, w.len))
    }

    /// Where `w` starts in the source's lease, once we know it fits.
    fn offset_of(&self, w: Window) -> Result<u32, DriverError> {
        let end = u64::from(w.offset) + u64::from(w.len);
        if end > u64::from(self.source.len) {
            return Err(DriverError::InvalidArgument);
        }
        // base + len fits the lease (checked when the source was made),
        // so this cannot overflow; saturate rather than trust it.
        Ok(self.source.base.saturating_add(w.offset))
    }

    /// Makes one driver call `f`, logged as `op` with a window of `len`,
    /// under the watchdog; a dead code marks the driver dead, and one
    /// after the deadline passed (the watchdog fired) reads as `Timeout`.
    fn call<T>(
        &mut self,
        op: u8,
        len: u32,
        f: impl FnOnce(&FpgaDriver) -> Result<T, DriverError>,
    ) -> Result<T, DriverError> {
        self.record.log.push(op, *self.record.state, len);
        let now = sys_get_timer().now;
        let left = self.deadline.remaining(now).unwrap_or(0);
        let ms = left.saturating_add(WATCHDOG_GRACE_MS);
        let task = self.driver.task_id();
        let r = guarded(task, ms, || f(&self.driver));
        if r.as_ref().err() == Some(&DriverError::DriverRestarted) {
            self.died = true;
            let now = sys_get_timer().now;
            if watchdog::ENABLED && self.deadline.remaining(now).is_none() {
                return Err(DriverError::Timeout);
            }
        }
        r
    }
}

impl DriverOps for Link<'_> {
    fn parse_header(
        &mut self,
        flags: u32,
        image_len: u32,
        header: Window,
    ) -> Result<HeaderInfo, DriverError> {
        let lease = self.lease(header)?;
        self.call(op::PARSE_HEADER, header.len, |d| {
            d.parse_header_with_leases(flags, image_len, [lease])
        })
    }

    fn write_init(
        &mut self,
        flags: u32,
        image_len: u32,
        header: Window,
    ) -> Result<(), DriverError> {
        let lease = self.lease(header)?;
        self.call(op::WRITE_INIT, header.len, |d| {
            d.write_init_with_leases(flags, image_len, [lease])
        })
    }

    fn write(&mut self, data: Window) -> Result<(), DriverError> {
        let lease = self.lease(data)?;
        self.call(op::WRITE, data.len, |d| d.write_with_leases([lease]))
    }

    fn write_complete(
        &mut self,
        flags: u32,
        timeout_ms: u32,
    ) -> Result<(), DriverError> {
        self.call(op::WRITE_COMPLETE, 0, |d| {
            d.write_complete(flags, timeout_ms)
        })
    }

    /// Hashes the window, or starts the hash engine on it.
    fn digest(
        &mut self,
        window: Window,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        let start = self.offset_of(window)?;
        if !self.hash {
            return Ok(());
        }
        let (lender, index) = (self.source.lender, self.source.index);
        let index = usize::from(index);
        self.hasher.digest(lender, index, start, window.len, digest)
    }

    fn digest_wait(
        &mut self,
        digest: &mut ImageDigest,
        stop: bool,
    ) -> Result<(), DriverError> {
        let deadline = self.deadline.at_ms();
        self.hasher.wait(digest, stop, deadline)
    }

    fn digest_seal(
        &mut self,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        self.hasher.seal(digest)
    }

    fn set_state(&mut self, state: FpgaState) {
        set_state(self.record.device, self.record.state, state);
        if state != FpgaState::Operating {
            *self.record.image = None;
        }
    }

    fn now_ms(&self) -> u64 {
        sys_get_timer().now
    }
}

/// Records a device's new state, tracing actual changes.
pub fn set_state(device: u8, slot: &mut FpgaState, state: FpgaState) {
    if *slot != state {
        ringbuf_entry_root!(Trace::State { device, state });
        *slot = state;
    }
}
