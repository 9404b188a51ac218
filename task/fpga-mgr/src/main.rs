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
//! It also records what each device runs (an [`ImageInfo`] with the
//! SHA-256 of the bytes it forwarded, see [`task_fpga_mgr::image`]) and
//! loads images by name from the firmware store, which lends them all for
//! good (see [`task_fpga_mgr::firmware`] and [`store`]); a region may name
//! a default image that we load at boot.
//!
//! Our state lives in one static, [`SERVER`], that `main` borrows once
//! for good: nothing else touches it, but `humility fpga` reads it, from
//! a dump as from a running system, to show every device.
//!
//! What the manager cannot do: interrupt a driver that hangs inside a
//! call. SEND is synchronous, so a hung driver blocks us; a deadline past
//! due is enforced by the supervisor faulting the driver (jefe's
//! watchdog, armed around every driver call when app.toml's config sets
//! `watchdog`; see [`driver`]), whose dead code then frees us.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod device;
mod driver;
mod hash;
mod load;
mod ops;
mod store;

use counters::{count, counters};
use device::Device;
use driver::Unbind;
use drv_fpga_api::{FpgaError, FpgaState};
use idol_runtime::RequestError;
use ringbuf::{StaticCell, ringbuf};
use task_fpga_mgr::bridge::Bridge;
use task_fpga_mgr::lock::Lock;
use task_fpga_mgr::oplog::OpLog;
use userlib::TaskId;

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
    /// The firmware store offered its catalog (or was refused).
    Store {
        store: TaskId,
        images: u8,
        result: Result<(), FpgaError>,
    },
    /// A region's default image, loaded at boot.
    DefaultImage {
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

/// Whether `task` is still the incarnation it names.
fn alive(task: TaskId) -> bool {
    userlib::sys_refresh_task_id(task) == task
}

/// All of the manager's state.
pub struct ServerImpl {
    devices: [Device; config::DEVICES.len()],
    bridges: [Bridge; config::BRIDGE_COUNT],
    /// The firmware store's standing offer, once it has made one.
    store: Option<store::Store>,
    /// Regions whose default image we have tried to load since we started.
    defaults_tried: [bool; config::REGIONS.len()],
    /// Where we read the images we hash.
    scratch: ringbuf::StaticRef<'static, [u8; SCRATCH_LEN]>,
    /// The board's SHA-256 engine, if app.toml grants us one.
    engine: Option<hash::Engine>,
}

/// Where the server lives: a static so that the debugger finds it by
/// name (`humility fpga` reads every device's state, lock, binding and
/// image from it, live or in a dump). `main` fills it and borrows it for
/// good; no other code names it.
static SERVER: StaticCell<Option<ServerImpl>> = StaticCell::new(None);

/// Bytes the manager reads at a time to hash an image (one BORROW_READ
/// each): large enough that the syscalls cost little next to the hashing.
///
/// On the hosted board a BORROW_READ is a trip through the kernel
/// process (about 15 us on our VMs), so at 16 KiB the reads cost as much
/// as SHA-NI hashing the bytes (`cargo xtask bench fpga` measured it);
/// 256 KiB makes them a few per cent, and still sits in L2 while it is
/// hashed. A Cortex-M board has neither the RAM nor the trap cost: 16 KiB.
#[cfg(target_arch = "x86_64")]
const SCRATCH_LEN: usize = 256 * 1024;
#[cfg(not(target_arch = "x86_64"))]
const SCRATCH_LEN: usize = 16 * 1024;

/// The hashing buffer; in a static rather than on our 8 KiB stack.
static SCRATCH: StaticCell<[u8; SCRATCH_LEN]> =
    StaticCell::new([0; SCRATCH_LEN]);

impl ServerImpl {
    fn new(scratch: ringbuf::StaticRef<'static, [u8; SCRATCH_LEN]>) -> Self {
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
                image: None,
                status: None,
            }),
            bridges: [Bridge::default(); config::BRIDGE_COUNT],
            store: None,
            defaults_tried: [false; config::REGIONS.len()],
            scratch,
            engine: hash::Engine::configured(),
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

    /// On an announcement: bind every device whose driver is new, then
    /// load any region default image that can now be loaded.
    fn bind_all(&mut self) {
        for d in &mut self.devices {
            d.bind();
        }
        self.load_region_defaults();
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
    let server = ServerImpl::new(SCRATCH.borrow_mut());
    let mut cell = SERVER.borrow_mut();
    let server = cell.insert(server);
    // Drivers announced themselves before we ran if we restarted (or they
    // are more important and started first); look without waiting.
    server.bind_all();
    let mut buffer = [0u8; idl::INCOMING_SIZE];
    idol_runtime::serve::<_, idl::FpgaManagerOperation>(&mut buffer, server)
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
        /// The firmware store's image to load at boot (app.toml
        /// `default-image`, the overlay's `firmware-name`).
        pub default_image: Option<&'static str>,
    }

    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}

/// The generated server support (its `.idol` text goes in a link section,
/// an unsafe attribute).
#[allow(unsafe_code)]
mod idl {
    use drv_fpga_api::{DeviceInfo, FpgaError, ImageInfo};

    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}
