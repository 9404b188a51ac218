//! The manager's side of a driver binding: who is bound (a `TaskId` with
//! its generation), how we call it, and the revocable peripheral grant.
//!
//! A binding is a capability we can drop at any moment without asking
//! anyone: the driver's death shows up as a dead code on our next call,
//! and we simply forget the binding and revoke its peripherals. Nothing
//! waits for the driver or for users of the device; a new incarnation is
//! bound when it announces itself.

use crate::Trace;
use crate::config::DeviceConfig;
use drv_fpga_api::FpgaState;
use drv_fpga_driver_api::idl::FpgaDriverOperation;
use drv_fpga_driver_api::{DriverError, DriverInfo, FpgaDriver, HeaderInfo};
use ringbuf::ringbuf_entry_root;
use task_fpga_mgr::loader::{DriverOps, Profile, Window};
use userlib::{
    Lease, LeaseAttributes, SchedState, TaskId, TaskState, kipc, sys_get_timer,
    sys_refresh_task_id, sys_send,
};

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
    let info = client.describe();
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
    let (rc, len) = sys_send(task, op as u16, &[], reply, &[]);
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

/// A load's link to the bound driver, serving one client message: every
/// [`Window`] becomes a lease forwarded from the client's lease 0.
pub struct Link<'a> {
    driver: FpgaDriver,
    /// The client whose message we are serving.
    lender: TaskId,
    /// The length of its lease 0.
    lease_len: u32,
    device: u8,
    state: &'a mut FpgaState,
}

impl<'a> Link<'a> {
    /// A link to `driver` for a message from `lender` that lent
    /// `lease_len` bytes, recording states of device `device` in `state`.
    pub fn new(
        driver: TaskId,
        lender: TaskId,
        lease_len: u32,
        device: u8,
        state: &'a mut FpgaState,
    ) -> Self {
        Self {
            driver: FpgaDriver::from(driver),
            lender,
            lease_len,
            device,
            state,
        }
    }

    /// The forwarded lease for `w`. The kernel faults a forwarder that
    /// names bytes beyond the lease, so we check (the loader never asks,
    /// but a fault here would take every device down).
    fn lease(&self, w: Window) -> Result<Lease<'static>, DriverError> {
        let end = u64::from(w.offset) + u64::from(w.len);
        if end > u64::from(self.lease_len) {
            return Err(DriverError::InvalidArgument);
        }
        let read = LeaseAttributes::READ;
        Ok(Lease::forwarded(self.lender, 0, read, w.offset, w.len))
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
        self.driver
            .parse_header_with_leases(flags, image_len, [lease])
    }

    fn write_init(
        &mut self,
        flags: u32,
        image_len: u32,
        header: Window,
    ) -> Result<(), DriverError> {
        let lease = self.lease(header)?;
        self.driver
            .write_init_with_leases(flags, image_len, [lease])
    }

    fn write(&mut self, data: Window) -> Result<(), DriverError> {
        let lease = self.lease(data)?;
        self.driver.write_with_leases([lease])
    }

    fn write_complete(
        &mut self,
        flags: u32,
        timeout_ms: u32,
    ) -> Result<(), DriverError> {
        self.driver.write_complete(flags, timeout_ms)
    }

    fn set_state(&mut self, state: FpgaState) {
        set_state(self.device, self.state, state);
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
