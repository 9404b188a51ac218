//! Client API of the FPGA manager (`task/fpga-mgr`, `idl/fpga-mgr.idol`).
//!
//! Linux's FPGA core API as IPC: devices (`fpga_manager`), bridges and
//! regions, numbered in the order of the manager's app.toml `config`.
//!
//! # Usage
//!
//! 1. Make a [`FpgaManager`] client from the manager's task slot and bind a
//!    device index with [`Device::new`].
//! 2. [`Device::lock`] takes the device's lock (a trylock, as Linux's
//!    `fpga_mgr_lock`) and returns a [`DeviceLock`], which gives the lock
//!    back when dropped.
//! 3. Load through the lock: [`DeviceLock::load`] for an image in one
//!    piece, or [`DeviceLock::stream`] for a [`Load`] fed chunk by chunk
//!    (aborted if dropped before [`Load::finish`]).
//!
//! ```ignore
//! let mgr = FpgaManager::from(FPGA_MGR.get_task_id());
//! let ice40 = Device::new(&mgr, 0);
//! let lock = ice40.lock()?;
//! lock.load(BITSTREAM, 0, 1000)?;
//! assert_eq!(ice40.state()?, FpgaState::Operating);
//! ```
//!
//! The manager is the only holder of a device's driver; we never see the
//! driver. When the driver dies mid-call we get [`FpgaError::DriverDied`];
//! when the *manager* dies, [`FpgaError::ManagerRestarted`], and the guards
//! shrug that off on drop (a restarted manager holds no locks).
//!
//! What this crate deliberately does not do: retry. Whether a load that
//! met `DriverDied` should be repeated (after the driver is bound again)
//! is the caller's decision.

#![no_std]
#![deny(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub use drv_fpga_driver_api::{FpgaState, flags, status};

/// A load flag for `cargo xtask bench fpga` only: the manager forwards the
/// image as usual but does not hash it (and so records no identity), so
/// that the benchmark can time the same load with and without hashing in
/// one run. Only a manager built with its `bench-skip-digest` feature
/// (test/bench/fpga.toml) knows it; every other one refuses it as
/// `BadFlags`, like any bit Linux does not define.
pub const BENCH_SKIP_DIGEST: u32 = 1 << 31;

/// A load flag for `cargo xtask bench fpga` only, like
/// [`BENCH_SKIP_DIGEST`]: the manager hashes the image itself, in
/// software, even if it has a hash engine, so that the benchmark can
/// show what the engine saves. Refused as `BadFlags` by every manager
/// not built with `bench-skip-digest`.
pub const BENCH_SOFTWARE_DIGEST: u32 = 1 << 30;

/// Why a manager op failed.
///
/// Codes start at 1 and fit a `u16`, so that, as a response code, they
/// can never be mistaken for a kernel dead code or a `ClientError`. A
/// driver's own error codes are never forwarded: the manager maps each
/// into the step that failed, and a driver's death into
/// [`FpgaError::DriverDied`].
#[derive(
    Copy, Clone, Debug, Eq, PartialEq, counters::Count, idol_runtime::ErrorCode,
)]
#[repr(u32)]
pub enum FpgaError {
    /// No device has this index.
    BadDevice = 1,
    /// No bridge has this index.
    BadBridge = 2,
    /// No region has this index.
    BadRegion = 3,
    /// The op needs the device's lock and the caller does not hold it.
    NotLocked = 4,
    /// Someone (perhaps the caller) holds the lock already. Linux's
    /// `-EBUSY` from `fpga_mgr_lock`.
    AlreadyLocked = 5,
    /// No driver is bound to the device: it has not announced itself yet,
    /// it died, or it was removed.
    NoDriver = 6,
    /// The device's driver died during this call. The device is unbound
    /// until a new incarnation of the driver announces itself; the state
    /// shows the step that was cut short.
    DriverDied = 7,
    /// The image flags include a bit Linux does not define or the driver
    /// does not support.
    BadFlags = 8,
    /// The op does not fit the device's situation, e.g. a chunk without
    /// `load_begin`, or `load_begin` while a streamed load runs.
    InvalidState = 9,
    /// The driver's `parse_header` rejected the header, or asked for a
    /// header that does not strictly grow or exceeds the image. State
    /// `PARSE_HEADER_ERR`.
    HeaderInvalid = 10,
    /// `header_size + data_size` exceeds the image, or a stream sent more
    /// than `image_len` bytes. Linux's "Bitstream data outruns FPGA
    /// image". State `PARSE_HEADER_ERR` (or `WRITE_ERR` for a stream).
    DataOutrunsImage = 11,
    /// The driver's `write_init` failed. State `WRITE_INIT_ERR`.
    WriteInitFailed = 12,
    /// The driver's `write` failed. State `WRITE_ERR`.
    WriteFailed = 13,
    /// The driver's `write_complete` failed: the device did not start.
    /// State `WRITE_COMPLETE_ERR`.
    WriteCompleteFailed = 14,
    /// The load's deadline passed (checked between steps, and by the driver
    /// in `write_complete`). The state is the `*_ERR` of the step that
    /// overran. With the supervisor's watchdog (the manager's `watchdog`
    /// config), a driver still inside a call past the deadline (plus a
    /// grace) is faulted by jefe; the load then ends with this error too,
    /// and the driver is unbound until its restarted incarnation
    /// announces itself.
    Timeout = 15,
    /// The lease holding the image became unreadable during the load (the
    /// lender stopped waiting). State `*_ERR` of the step.
    ClientWentAway = 16,
    /// A bridge refused to change state. During `region_program` the
    /// device state tells which side: `OPERATING` means the load worked and
    /// re-enabling failed.
    BridgeFailed = 17,
    /// The manager died during this call (generated by the client stub
    /// from a dead code). Locks and streamed loads do not survive it.
    #[error_code(server_death)]
    ManagerRestarted = 18,
    /// The first chunk of a streamed load is shorter than the header the
    /// driver needs; ask `load_header_needed` for the length and send a
    /// longer first chunk. Nothing was written to the device.
    FirstChunkTooShort = 19,
    /// `load_end` came before all `image_len` bytes were streamed.
    ImageIncomplete = 20,
    /// `image_info`: the device holds no image the manager knows of (it
    /// is not `OPERATING`, or reached it before the manager started).
    NoImage = 21,
    /// `load_by_name`: the firmware store has no image by that name.
    UnknownImage = 22,
    /// `load_by_name`: no firmware store has offered its images (app.toml
    /// names none, or it has not started, or it died and has not come
    /// back yet).
    NoFirmwareStore = 23,
    /// The firmware store died while the manager was forwarding its image
    /// to the driver: the lease was revoked, the load ends in the state
    /// of the step it was in. Its restarted incarnation offers its images
    /// again, and a later load can succeed.
    FirmwareStoreDied = 24,
    /// `attach_firmware` from a task app.toml does not name as the
    /// manager's `firmware-store`.
    NotFirmwareStore = 25,
    /// `attach_firmware` with a catalog that is not whole [`CatalogEntry`]
    /// records, holds more than [`CATALOG_MAX`], names an image twice or
    /// points outside the images lease.
    BadCatalog = 26,
}

/// Bytes in [`DeviceInfo::name`].
pub const DEVICE_NAME_LEN: usize = 16;

/// Bytes in [`DeviceInfo::driver_name`].
pub const DRIVER_NAME_LEN: usize = 16;

/// What `info` returns about a device. Fixed layout (no padding), so it
/// travels as bytes.
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    Eq,
    PartialEq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C)]
pub struct DeviceInfo {
    /// `fpga_compat_id.id_h` as the driver declared it; 0 when unbound.
    pub compat_id_h: u64,
    /// `fpga_compat_id.id_l`.
    pub compat_id_l: u64,
    /// Image flags the bound driver supports.
    pub supported_flags: u32,
    /// The bound driver's `TaskId` (index and generation) as raw bits; the
    /// configured driver task with generation 0 when unbound.
    pub driver: u16,
    /// 1 if a driver is bound, 0 if not.
    pub bound: u8,
    /// 1 if the driver's `skip_header` is set.
    pub skip_header: u8,
    /// The device's name in app.toml, NUL-padded.
    pub name: [u8; DEVICE_NAME_LEN],
    /// The bound driver's own name (Linux's `mgr->name`), NUL-padded.
    pub driver_name: [u8; DRIVER_NAME_LEN],
}

impl DeviceInfo {
    /// The configured name without its padding.
    pub fn name(&self) -> &str {
        padded_str(&self.name)
    }

    /// The driver's name without its padding.
    pub fn driver_name(&self) -> &str {
        padded_str(&self.driver_name)
    }

    /// The bound driver's `TaskId`, if any.
    pub fn driver_task(&self) -> Option<userlib::TaskId> {
        (self.bound != 0).then_some(userlib::TaskId(self.driver))
    }
}

/// One driver call the manager made during the device's latest load, as
/// `op_log` returns them: which op, the device state when it was called
/// (what Linux's KUnit fake ops record at entry) and the length of the
/// image window it was given. Fixed layout, 8 bytes.
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    Eq,
    PartialEq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C)]
pub struct OpRecord {
    /// An [`op`] code.
    pub op: u8,
    /// The `FpgaState` (as `u8`) when the op was called.
    pub state: u8,
    /// Zero.
    pub reserved: [u8; 2],
    /// Bytes of the image the op was given (its lease window); 0 for ops
    /// without one.
    pub len: u32,
}

impl OpRecord {
    /// The recorded state; a number we do not know reads as `Unknown`.
    pub fn state(&self) -> FpgaState {
        FpgaState::try_from(self.state).unwrap_or(FpgaState::Unknown)
    }
}

/// The driver ops an [`OpRecord`] names (`fpga_manager_ops` members).
pub mod op {
    /// `parse_header`.
    pub const PARSE_HEADER: u8 = 1;
    /// `write_init`.
    pub const WRITE_INIT: u8 = 2;
    /// `write`.
    pub const WRITE: u8 = 3;
    /// `write_complete`.
    pub const WRITE_COMPLETE: u8 = 4;
}

/// Records the manager keeps per device: `op_log` returns at most this
/// many (the first ones of the load), and counts the rest.
pub const OP_LOG_LEN: usize = 64;

/// Bytes in an image's name ([`ImageInfo::name`], [`CatalogEntry::name`]):
/// the longest app.toml `[blobs]` key `load_by_name` can ask for.
pub const IMAGE_NAME_LEN: usize = 32;

/// Bytes kept of a `.bit` header's design name ([`ImageInfo::design`]).
pub const DESIGN_LEN: usize = 64;

/// Bytes kept of a `.bit` header's part name ([`ImageInfo::part`]).
pub const PART_LEN: usize = 32;

/// What is loaded: the identity of the last image that brought a device
/// to `OPERATING`, as `image_info` returns it. The manager records it
/// when the load ends and forgets it when the device leaves `OPERATING`
/// (a new load, a reset, a failed step), so it never describes an image
/// the device no longer runs. Fixed layout (no padding), 184 bytes.
#[derive(
    Copy,
    Clone,
    Debug,
    Eq,
    PartialEq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C)]
pub struct ImageInfo {
    /// When the device reached `OPERATING`, in ms since boot.
    pub loaded_at_ms: u64,
    /// SHA-256 of the whole image as the client lent it (`.bit` header
    /// included), computed by the manager while the bytes went to the
    /// driver.
    pub sha256: [u8; 32],
    /// The image's length in bytes.
    pub length: u32,
    /// The image flags it was loaded with ([`crate::flags`]).
    pub flags: u32,
    /// The task that asked for the load, as raw `TaskId` bits (the
    /// manager itself for a region's default image loaded at boot).
    pub loader: u16,
    /// The image's name in the firmware store, NUL-padded; empty unless
    /// it was loaded by name.
    pub name: [u8; IMAGE_NAME_LEN],
    /// The `.bit` header's design name (key `a`), NUL-padded, cut at
    /// [`DESIGN_LEN`] bytes; empty for an image without one.
    pub design: [u8; DESIGN_LEN],
    /// The `.bit` header's part (key `b`), NUL-padded.
    pub part: [u8; PART_LEN],
    /// Zero.
    pub reserved: [u8; 6],
}

impl Default for ImageInfo {
    fn default() -> Self {
        zerocopy::FromZeros::new_zeroed()
    }
}

impl ImageInfo {
    /// The store's name for the image (empty unless loaded by name).
    pub fn name(&self) -> &str {
        padded_str(&self.name)
    }

    /// The `.bit` design name (empty if none).
    pub fn design(&self) -> &str {
        padded_str(&self.design)
    }

    /// The `.bit` part (empty if none).
    pub fn part(&self) -> &str {
        padded_str(&self.part)
    }

    /// The task that loaded it.
    pub fn loader_task(&self) -> userlib::TaskId {
        userlib::TaskId(self.loader)
    }
}

/// Most images a firmware store may offer.
pub const CATALOG_MAX: usize = 16;

/// One image of the firmware store's catalog, the first lease of
/// `attach_firmware`: its name and where it lies in the second lease
/// (the store's images). Fixed layout, 40 bytes.
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    Eq,
    PartialEq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C)]
pub struct CatalogEntry {
    /// The image's app.toml `[blobs]` key, NUL-padded.
    pub name: [u8; IMAGE_NAME_LEN],
    /// Its offset in the images lease.
    pub offset: u32,
    /// Its length in bytes.
    pub length: u32,
}

impl CatalogEntry {
    /// The name without its padding.
    pub fn name(&self) -> &[u8] {
        let end = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.name.len());
        &self.name[..end]
    }
}

/// A NUL-padded name as text; `"?"` if it is not UTF-8.
fn padded_str(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end]).unwrap_or("?")
}

/// The generated client stub; see [`FpgaManager`].
pub mod idl {
    use super::{DeviceInfo, FpgaError, ImageInfo};

    include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
}

pub use idl::FpgaManager;

mod guards;

pub use guards::{Device, DeviceLock, Load};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_start_at_one_fit_u16_and_round_trip() {
        for (i, e) in FpgaError::ALL.into_iter().enumerate() {
            assert_eq!(u32::from(e), i as u32 + 1);
            assert_eq!(FpgaError::try_from(u32::from(u16::from(e))), Ok(e));
        }
        assert_eq!(FpgaError::try_from(0u32), Err(()));
        assert_eq!(FpgaError::try_from(0xFFFF_FF03u32), Err(()));
        use idol_runtime::ServerDeathError;
        assert_eq!(FpgaError::server_death(), FpgaError::ManagerRestarted);
    }

    #[test]
    fn device_info_has_no_padding_and_reads_its_names() {
        assert_eq!(core::mem::size_of::<DeviceInfo>(), 56);
        let mut info = DeviceInfo::default();
        info.name[..5].copy_from_slice(b"ice40");
        assert_eq!(info.name(), "ice40");
        assert_eq!(info.driver_name(), "");
        assert_eq!(info.driver_task(), None);
        info.bound = 1;
        info.driver = 0x0403;
        assert_eq!(info.driver_task(), Some(userlib::TaskId(0x0403)));
    }

    #[test]
    fn image_info_and_catalog_entries_have_no_padding() {
        assert_eq!(core::mem::size_of::<ImageInfo>(), 184);
        assert_eq!(core::mem::size_of::<CatalogEntry>(), 40);
        let mut info = ImageInfo::default();
        info.name[..5].copy_from_slice(b"xc7_a");
        info.design[..3].copy_from_slice(b"top");
        assert_eq!(
            (info.name(), info.design(), info.part()),
            ("xc7_a", "top", "")
        );
        let mut entry = CatalogEntry::default();
        entry.name[..2].copy_from_slice(b"ab");
        assert_eq!(entry.name(), b"ab");
        entry.name = [b'x'; IMAGE_NAME_LEN];
        assert_eq!(entry.name().len(), IMAGE_NAME_LEN);
    }
}
