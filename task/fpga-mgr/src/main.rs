//! The FPGA manager: Linux's fpga-mgr, fpga-bridge and fpga-region core as
//! an isolated task, over driver tasks it binds as revocable capabilities.
//!
//! Each device (app.toml `config.devices`) has one driver task, known only
//! by a `TaskId` with its generation. A driver announces itself with a
//! notification when it starts; we then call its `describe` and bind it,
//! restoring its peripheral grants. When a call to it returns a dead code
//! the device is unbound on the spot, the client gets `DriverDied`, and its
//! peripherals are revoked until a new incarnation announces itself. No
//! step waits for anyone: this is the lifetime Linux's module refcounts
//! could not give (see `shared/seed/lkml-fpga-owner-refcount-thread.txt`).
//!
//! Loads follow `fpga_mgr_load()` exactly (see [`task_fpga_mgr::loader`])
//! and never copy image bytes: the client's lease is forwarded to the
//! driver in windows. We are less important than our drivers (IPC only
//! flows up), so a driver cannot call us, only post.
//!
//! What the manager cannot do: interrupt a driver that hangs inside a
//! call. SEND is synchronous, so a hung driver blocks us; a deadline past
//! due is enforced by the supervisor faulting the driver (jefe's
//! watchdog, armed around every driver call when app.toml's config sets
//! `watchdog`; see [`driver`]), whose dead code then frees us.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod driver;
mod ops;

use counters::{count, counters};
use driver::{Binding, Unbind};
use drv_fpga_api::{FpgaError, FpgaState};
use idol_runtime::RequestError;
use ringbuf::{ringbuf, ringbuf_entry};
use task_fpga_mgr::bridge::Bridge;
use task_fpga_mgr::loader::{Stream, error_state_of};
use task_fpga_mgr::lock::Lock;
use task_fpga_mgr::oplog::OpLog;
use userlib::{TaskId, kipc};

/// What the manager did, newest last; TaskIds carry their generation so a
/// dump tells a restarted driver (or client) from its predecessor.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Trace {
    None,
    State {
        device: u8,
        state: FpgaState,
    },
    Bound {
        device: u8,
        driver: TaskId,
    },
    Unbound {
        device: u8,
        driver: TaskId,
        why: Unbind,
    },
    /// A removed driver died; its peripherals are restored.
    RemovedDied {
        device: u8,
        driver: TaskId,
    },
    Locked {
        device: u8,
        holder: TaskId,
    },
    Released {
        device: u8,
        holder: TaskId,
    },
    HolderDied {
        device: u8,
        holder: TaskId,
    },
    Load {
        device: u8,
        result: Result<(), FpgaError>,
    },
    Bridge {
        bridge: u8,
        enabled: bool,
    },
    Region {
        region: u8,
        result: Result<(), FpgaError>,
    },
}

ringbuf!(Trace, 64, Trace::None);
counters!(FpgaError);

/// Counts an error per variant and wraps it for the dispatcher.
fn counted<T>(r: Result<T, FpgaError>) -> Result<T, RequestError<FpgaError>> {
    r.map_err(|e| {
        count!(e);
        RequestError::Runtime(e)
    })
}

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

/// Whether `task` is still the incarnation it names.
fn alive(task: TaskId) -> bool {
    userlib::sys_refresh_task_id(task) == task
}

/// One device: its configuration, binding, lock and load in progress.
pub struct Device {
    config: &'static config::DeviceConfig,
    index: u8,
    binding: Option<Binding>,
    /// An incarnation unbound by `remove`; never bound again.
    removed: Option<TaskId>,
    state: FpgaState,
    lock: Lock,
    stream: Option<Stream>,
    /// The driver calls of the latest load.
    log: OpLog,
}

impl Device {
    fn set_state(&mut self, state: FpgaState) {
        driver::set_state(self.index, &mut self.state, state);
    }

    /// Ends a streamed load that did not finish, leaving the `*_ERR` of the
    /// step it was in.
    fn abandon_stream(&mut self) {
        if self.stream.take().is_some()
            && let Some(failed) = error_state_of(self.state)
        {
            self.set_state(failed);
        }
    }

    /// Drops the lock of a dead holder (and its half-done load).
    fn reap(&mut self) {
        if let Some(holder) = self.lock.reap(alive) {
            ringbuf_entry!(Trace::HolderDied {
                device: self.index,
                holder
            });
            self.abandon_stream();
        }
    }

    /// Reaps, then checks that `caller` holds the lock.
    fn check_holder(&mut self, caller: TaskId) -> Result<(), FpgaError> {
        self.reap();
        self.lock.check(caller)
    }

    fn bound(&self) -> Result<Binding, FpgaError> {
        self.binding.ok_or(FpgaError::NoDriver)
    }

    /// Forgets the driver; never waits for it or for anyone else.
    ///
    /// A removed driver lives on, so its peripherals are revoked: it must
    /// not touch the device we no longer let anyone load through it. A
    /// dead one cannot use them, and its next incarnation needs them
    /// before it can announce itself (a driver sets its pins up first),
    /// so they are restored.
    fn unbind(&mut self, why: Unbind) {
        if let Some(b) = self.binding.take() {
            ringbuf_entry!(Trace::Unbound {
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
    fn notice_death(&mut self) {
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
            ringbuf_entry!(Trace::RemovedDied {
                device: self.index,
                driver: r
            });
        }
    }

    /// Binds the configured driver's current incarnation if it is new.
    fn bind(&mut self) {
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
        ringbuf_entry!(Trace::Bound {
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
    fn note(
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

/// All of the manager's state.
pub struct ServerImpl {
    devices: [Device; config::DEVICES.len()],
    bridges: [Bridge; config::BRIDGE_COUNT],
}

impl ServerImpl {
    fn new() -> Self {
        Self {
            devices: core::array::from_fn(|i| Device {
                config: &config::DEVICES[i],
                // build.rs allows at most 255 devices.
                index: i as u8,
                binding: None,
                removed: None,
                state: FpgaState::Unknown,
                lock: Lock::default(),
                stream: None,
                log: OpLog::default(),
            }),
            bridges: [Bridge::default(); config::BRIDGE_COUNT],
        }
    }

    fn device(&mut self, index: u8) -> Result<&mut Device, FpgaError> {
        self.devices
            .get_mut(usize::from(index))
            .ok_or(FpgaError::BadDevice)
    }

    fn bridge(&mut self, index: u8) -> Result<&mut Bridge, FpgaError> {
        self.bridges
            .get_mut(usize::from(index))
            .ok_or(FpgaError::BadBridge)
    }

    /// On an announcement: bind every device whose driver is new.
    fn bind_all(&mut self) {
        for d in &mut self.devices {
            d.bind();
        }
    }
}

impl idol_runtime::NotificationHandler for ServerImpl {
    fn current_notification_mask(&self) -> u32 {
        config::ANNOUNCE_MASK | config::FAULT_MASK | config::TIMER_MASK
    }

    fn handle_notification(&mut self, bits: u32) {
        if bits & config::FAULT_MASK != 0 {
            for d in &mut self.devices {
                d.notice_death();
            }
        }
        if bits & (config::ANNOUNCE_MASK | config::TIMER_MASK) != 0 {
            self.bind_all();
        }
    }
}

// The entry symbol is the one unsafe attribute a task needs.
#[allow(unsafe_code)]
#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut server = ServerImpl::new();
    // Drivers announced themselves before we ran if we restarted (or they
    // are more important and started first); look without waiting.
    server.bind_all();
    let mut buffer = [0u8; idl::INCOMING_SIZE];
    loop {
        idol_runtime::dispatch::<_, idl::FpgaManagerOperation>(
            &mut buffer,
            &mut server,
        );
    }
}

/// Configuration from app.toml (`task/fpga-mgr/build.rs`).
mod config {
    /// One device.
    pub struct DeviceConfig {
        /// Its name, NUL-padded.
        pub name: [u8; drv_fpga_api::DEVICE_NAME_LEN],
        /// The driver's task index.
        pub driver: u16,
        /// Peripherals of the driver that we manage.
        pub peripherals: &'static [u16],
    }

    /// One region.
    pub struct RegionConfig {
        /// Its device's index.
        pub device: u8,
        /// Its bridges' indices.
        pub bridges: &'static [u8],
        /// Its name in app.toml.
        pub name: &'static str,
    }

    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}

/// The generated server support (its `.idol` text goes in a link section,
/// an unsafe attribute).
#[allow(unsafe_code)]
mod idl {
    use drv_fpga_api::{DeviceInfo, FpgaError};

    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}
