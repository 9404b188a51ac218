//! The `FpgaDriver` interface: Linux's `fpga_manager_ops` as IPC.
//!
//! Each low-level FPGA driver (`drv/ice40-spi`, `drv/xc7-spi`) is a task
//! serving `idl/fpga-driver.idol`, one task per device instance, and the
//! FPGA manager (`task/fpga-mgr`) is its only client. This crate holds
//! what both sides share:
//!
//! - the Linux numbers, in one place: [`FpgaState`] (`enum
//!   fpga_mgr_states`), [`flags`] (`FPGA_MGR_*` image flags) and
//!   [`status`] (`FPGA_MGR_STATUS_*` bits), with the values of
//!   `include/linux/fpga/fpga-mgr.h` (kernels with `parse_header`, ~6.0
//!   on);
//! - the message types: [`DriverInfo`] (what `describe` returns: the
//!   `fpga_manager_ops` fields plus `fpga_manager_info`'s name and compat
//!   id), [`HeaderInfo`] (what `parse_header` fills into
//!   `fpga_image_info`), and [`DriverError`];
//! - the generated client, [`FpgaDriver`].
//!
//! The server side common to every driver is `drv/fpga-driver-server`;
//! the board's pins and SPI controller are `drv/board-io`.
//!
//! # How the manager drives a load
//!
//! As `fpga_mgr_load()` does (`drivers/fpga/fpga-mgr.c`):
//!
//! 1. `describe` once per binding, for `initial_header_size`,
//!    `skip_header` and the supported flags;
//! 2. `parse_header` with the first `header_size` bytes of the image
//!    (starting at offset 0), growing while it answers `need_more` (Linux's
//!    `-EAGAIN`), each request strictly larger than the last;
//! 3. `write_init` with the header bytes (or an empty lease when the
//!    header size is 0, Linux's `write_init(NULL, 0)`);
//! 4. `write` once per piece of configuration data (past `header_size`
//!    when `skip_header`, at most `data_size` bytes when non-zero);
//! 5. `write_complete`.
//!
//! The manager keeps the state machine (`PARSE_HEADER` .. `OPERATING` and
//! the `*_ERR` states); a driver only reports what its pins say
//! (`state`, `status`) and refuses ops out of order with
//! [`DriverError::BadState`].
//!
//! What this crate deliberately does not do: wrap the client in a guard
//! type. Only the manager talks to drivers, and it owns the binding and
//! generation logic; a convenience layer here would hide the dead codes
//! it must see.

#![no_std]
#![deny(unsafe_code)]

use serde::{Deserialize, Serialize};

/// Linux `enum fpga_mgr_states`, in order, as `state` returns it (a `u8`).
///
/// The numbering is that of kernels with `parse_header` (~6.0 and later);
/// before that `WRITE_INIT` .. `OPERATING` were 6..12. We pin the new
/// numbers here, once, rather than repeat them in each task.
#[derive(Copy, Clone, Debug, Eq, PartialEq, Serialize, Deserialize)]
#[repr(u8)]
pub enum FpgaState {
    /// `FPGA_MGR_STATE_UNKNOWN`: "unknown".
    Unknown = 0,
    /// `FPGA_MGR_STATE_POWER_OFF`: "power off".
    PowerOff = 1,
    /// `FPGA_MGR_STATE_POWER_UP`: "power up".
    PowerUp = 2,
    /// `FPGA_MGR_STATE_RESET`: "reset".
    Reset = 3,
    /// `FPGA_MGR_STATE_FIRMWARE_REQ`: "firmware request".
    FirmwareReq = 4,
    /// `FPGA_MGR_STATE_FIRMWARE_REQ_ERR`: "firmware request error".
    FirmwareReqErr = 5,
    /// `FPGA_MGR_STATE_PARSE_HEADER`: "parse header".
    ParseHeader = 6,
    /// `FPGA_MGR_STATE_PARSE_HEADER_ERR`: "parse header error".
    ParseHeaderErr = 7,
    /// `FPGA_MGR_STATE_WRITE_INIT`: "write init".
    WriteInit = 8,
    /// `FPGA_MGR_STATE_WRITE_INIT_ERR`: "write init error".
    WriteInitErr = 9,
    /// `FPGA_MGR_STATE_WRITE`: "write".
    Write = 10,
    /// `FPGA_MGR_STATE_WRITE_ERR`: "write error".
    WriteErr = 11,
    /// `FPGA_MGR_STATE_WRITE_COMPLETE`: "write complete".
    WriteComplete = 12,
    /// `FPGA_MGR_STATE_WRITE_COMPLETE_ERR`: "write complete error".
    WriteCompleteErr = 13,
    /// `FPGA_MGR_STATE_OPERATING`: "operating".
    Operating = 14,
}

impl FpgaState {
    /// Every state, in numeric order.
    pub const ALL: [FpgaState; 15] = [
        Self::Unknown,
        Self::PowerOff,
        Self::PowerUp,
        Self::Reset,
        Self::FirmwareReq,
        Self::FirmwareReqErr,
        Self::ParseHeader,
        Self::ParseHeaderErr,
        Self::WriteInit,
        Self::WriteInitErr,
        Self::Write,
        Self::WriteErr,
        Self::WriteComplete,
        Self::WriteCompleteErr,
        Self::Operating,
    ];

    /// The string Linux's sysfs `state` attribute prints.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::PowerOff => "power off",
            Self::PowerUp => "power up",
            Self::Reset => "reset",
            Self::FirmwareReq => "firmware request",
            Self::FirmwareReqErr => "firmware request error",
            Self::ParseHeader => "parse header",
            Self::ParseHeaderErr => "parse header error",
            Self::WriteInit => "write init",
            Self::WriteInitErr => "write init error",
            Self::Write => "write",
            Self::WriteErr => "write error",
            Self::WriteComplete => "write complete",
            Self::WriteCompleteErr => "write complete error",
            Self::Operating => "operating",
        }
    }
}

impl From<FpgaState> for u8 {
    fn from(state: FpgaState) -> u8 {
        state as u8
    }
}

impl TryFrom<u8> for FpgaState {
    type Error = ();

    fn try_from(value: u8) -> Result<Self, ()> {
        Self::ALL.get(usize::from(value)).copied().ok_or(())
    }
}

/// Linux image flags (`fpga_image_info.flags`), as `write_init`,
/// `parse_header` and `write_complete` take them.
pub mod flags {
    /// `FPGA_MGR_PARTIAL_RECONFIG`: partial reconfiguration.
    pub const PARTIAL_RECONFIG: u32 = 1 << 0;
    /// `FPGA_MGR_EXTERNAL_CONFIG`: the FPGA was configured before we
    /// started (by a flash or another master); nothing is to be loaded.
    pub const EXTERNAL_CONFIG: u32 = 1 << 1;
    /// `FPGA_MGR_ENCRYPTED_BITSTREAM`: the bitstream is encrypted.
    pub const ENCRYPTED: u32 = 1 << 2;
    /// `FPGA_MGR_BITSTREAM_LSB_FIRST`: shift each byte LSB first.
    pub const LSB_FIRST: u32 = 1 << 3;
    /// `FPGA_MGR_COMPRESSED_BITSTREAM`: the bitstream is compressed.
    pub const COMPRESSED: u32 = 1 << 4;
    /// Every flag Linux defines; any other bit is invalid.
    pub const ALL: u32 =
        PARTIAL_RECONFIG | EXTERNAL_CONFIG | ENCRYPTED | LSB_FIRST | COMPRESSED;
}

/// Linux `FPGA_MGR_STATUS_*` bits, as `status` returns them (a `u64`).
pub mod status {
    /// `FPGA_MGR_STATUS_OPERATION_ERR`: "reconfig operation error".
    pub const OPERATION_ERR: u64 = 1 << 0;
    /// `FPGA_MGR_STATUS_CRC_ERR`: "reconfig CRC error".
    pub const CRC_ERR: u64 = 1 << 1;
    /// `FPGA_MGR_STATUS_INCOMPATIBLE_IMAGE_ERR`: "reconfig incompatible
    /// image".
    pub const INCOMPATIBLE_IMAGE_ERR: u64 = 1 << 2;
    /// `FPGA_MGR_STATUS_IP_PROTOCOL_ERR`: "reconfig IP protocol error".
    pub const IP_PROTOCOL_ERR: u64 = 1 << 3;
    /// `FPGA_MGR_STATUS_FIFO_OVERFLOW_ERR`: "reconfig fifo overflow error".
    pub const FIFO_OVERFLOW_ERR: u64 = 1 << 4;
    /// Every bit Linux defines.
    pub const ALL: u64 = OPERATION_ERR
        | CRC_ERR
        | INCOMPATIBLE_IMAGE_ERR
        | IP_PROTOCOL_ERR
        | FIFO_OVERFLOW_ERR;
}

/// Bytes in [`DriverInfo::name`].
pub const NAME_LEN: usize = 16;

/// What a driver declares about itself (`describe`): the data members of
/// Linux's `fpga_manager_ops`, plus the name and compat id a Linux driver
/// passes to `fpga_mgr_register_full()` in `fpga_manager_info`.
#[derive(
    Copy,
    Clone,
    Debug,
    Eq,
    PartialEq,
    Serialize,
    Deserialize,
    hubpack::SerializedSize,
)]
pub struct DriverInfo {
    /// `initial_header_size`: the fewest bytes (from image offset 0) the
    /// first `parse_header` / `write_init` needs; 0 for none (then
    /// `write_init` gets an empty lease, Linux's `(NULL, 0)`).
    pub initial_header_size: u32,
    /// `skip_header`: `write` must not be given the first `header_size`
    /// bytes of the image.
    pub skip_header: bool,
    /// The [`flags`] this driver and its device can honour. Linux has no
    /// such field (drivers reject flags in `write_init`); we add it so the
    /// manager can refuse a load before touching the device.
    pub supported_flags: u32,
    /// `fpga_compat_id.id_h`: identifies the device's static region, for
    /// partial reconfiguration; 0 when unused.
    pub compat_id_h: u64,
    /// `fpga_compat_id.id_l`.
    pub compat_id_l: u64,
    /// The driver's name, UTF-8, NUL-padded (Linux's `mgr->name`).
    pub name: [u8; NAME_LEN],
}

impl DriverInfo {
    /// A driver called `name` that honours `supported_flags`, for images
    /// without a header; [`DriverInfo::header`] for the others. Not
    /// partial-reconfiguration capable (compat id 0).
    pub const fn new(name: &str, supported_flags: u32) -> Self {
        DriverInfo {
            initial_header_size: 0,
            skip_header: false,
            supported_flags,
            compat_id_h: 0,
            compat_id_l: 0,
            name: Self::pad_name(name),
        }
    }

    /// Images begin with a header: `parse_header` first gets
    /// `initial_header_size` bytes, and `write` is never given the
    /// `header_size` bytes it finds (Linux's `skip_header`).
    pub const fn header(self, initial_header_size: u32) -> Self {
        DriverInfo {
            initial_header_size,
            skip_header: true,
            ..self
        }
    }

    /// `name` as a NUL-padded array; longer names are cut at
    /// [`NAME_LEN`] bytes (on a character boundary), so a build-time
    /// constant never fails.
    pub const fn pad_name(name: &str) -> [u8; NAME_LEN] {
        let bytes = name.as_bytes();
        let mut len = if bytes.len() < NAME_LEN {
            bytes.len()
        } else {
            NAME_LEN
        };
        // Do not split a UTF-8 sequence: back up over continuation bytes.
        while len > 0 && len < bytes.len() && bytes[len] & 0xC0 == 0x80 {
            len -= 1;
        }
        let mut out = [0; NAME_LEN];
        let mut i = 0;
        while i < len {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }

    /// The name without its padding; `"?"` if a driver sent bytes that
    /// are not UTF-8.
    pub fn name(&self) -> &str {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        core::str::from_utf8(&self.name[..end]).unwrap_or("?")
    }
}

/// What `parse_header` found: the `fpga_image_info` fields Linux's
/// `parse_header` sets.
#[derive(
    Copy,
    Clone,
    Debug,
    Eq,
    PartialEq,
    Serialize,
    Deserialize,
    hubpack::SerializedSize,
)]
pub struct HeaderInfo {
    /// `header_size`: bytes at the start of the image that are header
    /// (skipped by `write` when `skip_header`). With `need_more`, the
    /// number of bytes the driver needs to see instead, which is always
    /// more than it was given.
    pub header_size: u32,
    /// `data_size`: bytes of configuration data after the header; 0 means
    /// "up to the end of the image".
    pub data_size: u32,
    /// Linux's `-EAGAIN`: the header continues past the bytes given; call
    /// again with `header_size` bytes.
    pub need_more: bool,
}

/// Why a driver op failed. Codes start at 1 and fit a `u16`, as idol's
/// `CLike` errors must (they share the response code with kernel and
/// runtime codes).
#[derive(
    Copy,
    Clone,
    Debug,
    Eq,
    PartialEq,
    Serialize,
    Deserialize,
    hubpack::SerializedSize,
    counters::Count,
    idol_runtime::ErrorCode,
)]
#[repr(u32)]
pub enum DriverError {
    /// An argument is out of range: a flag bit Linux does not define, a
    /// length that does not fit the image. Linux's `-EINVAL`.
    InvalidArgument = 1,
    /// The device cannot do what the flags ask (for example
    /// `PARTIAL_RECONFIG` on iCE40 or 7-series slave serial). Linux's
    /// `-ENOTSUPP` (ice40-spi) or `-EINVAL` (xilinx-spi).
    NotSupported = 2,
    /// The device did not enter configuration mode: CDONE or DONE still
    /// high after reset, or INIT_B never asserted. Linux's `-EIO` "Device
    /// reset failed, CDONE is asserted" / "Unexpected DONE pin state".
    DeviceNotReady = 3,
    /// The device rejected the bitstream: CDONE low after the transfer
    /// (iCE40), or INIT_B pulled low (7-series: "CRC error or invalid
    /// device"). Linux's `-EIO` / `-ETIMEDOUT` with those messages.
    ConfigFailed = 4,
    /// The device neither finished nor reported an error in time: DONE
    /// still low with INIT_B high ("missing sync word or incomplete
    /// bitstream"), or INIT_B stuck low after PROGRAM_B. Linux's
    /// `-ETIMEDOUT`.
    Timeout = 5,
    /// The image header is malformed or the image is in a form this driver
    /// refuses (for example a byte-swapped 7-series `.bin`).
    BadHeader = 6,
    /// A lease could not be read: the client that lent the bitstream (or
    /// the manager that forwarded it) went away mid-operation. The driver
    /// has put the device back into a defined (reset) state.
    LeaseRevoked = 7,
    /// The op came out of order (`write` before `write_init`, or from a
    /// caller other than the one that began the load).
    BadState = 8,
    /// The driver task died during the call (generated by the client from
    /// a dead code; a driver never sends it).
    #[error_code(server_death)]
    DriverRestarted = 9,
}

/// The generated client stub; see [`FpgaDriver`].
pub mod idl {
    use super::{DriverError, DriverInfo, HeaderInfo};

    include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
}

pub use idl::FpgaDriver;

#[cfg(test)]
mod tests {
    use super::*;
    use hubpack::SerializedSize;

    #[test]
    fn states_are_numbered_as_in_the_reference_table() {
        for (i, state) in FpgaState::ALL.into_iter().enumerate() {
            assert_eq!(u8::from(state) as usize, i);
            assert_eq!(FpgaState::try_from(i as u8), Ok(state));
        }
        assert_eq!(FpgaState::ParseHeader as u8, 6);
        assert_eq!(FpgaState::Operating as u8, 14);
        assert_eq!(FpgaState::Operating.name(), "operating");
        assert_eq!(FpgaState::try_from(15), Err(()));
    }

    #[test]
    fn flags_and_status_bits_are_linuxs() {
        assert_eq!(flags::PARTIAL_RECONFIG, 0x01);
        assert_eq!(flags::LSB_FIRST, 0x08);
        assert_eq!(flags::ALL, 0x1F);
        assert_eq!(status::OPERATION_ERR, 0x01);
        assert_eq!(status::FIFO_OVERFLOW_ERR, 0x10);
        assert_eq!(status::ALL, 0x1F);
    }

    #[test]
    fn error_codes_start_at_one_fit_u16_and_round_trip() {
        for (i, e) in DriverError::ALL.into_iter().enumerate() {
            assert_eq!(u32::from(e), i as u32 + 1);
            assert_eq!(DriverError::try_from(u32::from(u16::from(e))), Ok(e));
        }
        assert_eq!(DriverError::try_from(0u32), Err(()));
        assert_eq!(DriverError::try_from(0xFFFF_FF01u32), Err(()));
        use idol_runtime::ServerDeathError;
        assert_eq!(DriverError::server_death(), DriverError::DriverRestarted);
    }

    #[test]
    fn driver_info_round_trips_through_hubpack() {
        let info = DriverInfo {
            initial_header_size: 64,
            skip_header: true,
            supported_flags: flags::LSB_FIRST,
            compat_id_h: 1,
            compat_id_l: u64::MAX,
            name: DriverInfo::pad_name("xc7-spi"),
        };
        let mut buf = [0; DriverInfo::MAX_SIZE];
        let n = hubpack::serialize(&mut buf, &info).expect("fits");
        let (back, _) =
            hubpack::deserialize::<DriverInfo>(&buf[..n]).expect("decodes");
        assert_eq!(back, info);
        assert_eq!(back.name(), "xc7-spi");
    }

    #[test]
    fn header_info_round_trips_through_hubpack() {
        let info = HeaderInfo {
            header_size: 123,
            data_size: 4567,
            need_more: true,
        };
        let mut buf = [0; HeaderInfo::MAX_SIZE];
        let n = hubpack::serialize(&mut buf, &info).expect("fits");
        let (back, _) =
            hubpack::deserialize::<HeaderInfo>(&buf[..n]).expect("decodes");
        assert_eq!(back, info);
    }

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = DriverInfo::pad_name("a-very-long-driver-name");
        assert_eq!(&name, b"a-very-long-driv");
        // 15 ASCII bytes, then a two-byte character that would straddle
        // the end: it is dropped whole.
        let name = DriverInfo::pad_name("ice40-spi-hx1k-é");
        assert_eq!(&name[..15], b"ice40-spi-hx1k-");
        assert_eq!(name[15], 0);
    }
}
