//! The ECP5 sysCONFIG slave-SPI commands the driver sends and what the
//! status register they read back means (Lattice FPGA-TN-02039, "ECP5
//! and ECP5-5G sysCONFIG Usage Guide"; the opcodes Hubris's
//! `drv/fpga-devices` ECP5 code and Linux's `lattice-sysconfig.c` use).
//!
//! Every command is one chip-select frame: the opcode and a 24-bit
//! operand (zero for all of ours), then, for a read, 32 bits the device
//! drives on MISO. LSC_BITSTREAM_BURST keeps the frame open: the
//! bitstream follows in it, and chip select rising ends it.

use drv_fpga_driver_server::api::{DriverError, status as linux};

/// `READ_ID`: the device's IDCODE.
pub const READ_ID: u8 = 0xE0;
/// `LSC_READ_STATUS`: the 32-bit status register.
pub const LSC_READ_STATUS: u8 = 0x3C;
/// `LSC_REFRESH`: what a PROGRAMN pulse does (clear, reconfigure).
pub const LSC_REFRESH: u8 = 0x79;
/// `ISC_ENABLE`: enter configuration mode (offline).
pub const ISC_ENABLE: u8 = 0xC6;
/// `LSC_BITSTREAM_BURST`: the rest of the frame is the bitstream.
pub const LSC_BITSTREAM_BURST: u8 = 0x7A;
/// `ISC_DISABLE`: leave configuration mode; after a complete, good
/// bitstream the device wakes up and DONE rises.
pub const ISC_DISABLE: u8 = 0x26;

/// Status register bits (TN-02039 table 4.2; Hubris's `Status`).
pub mod status {
    /// The device is in user mode.
    pub const DONE: u32 = 1 << 8;
    /// ISC_ENABLE is in force.
    pub const ISC_ENABLED: u32 = 1 << 9;
    /// Configuration SRAM may be written.
    pub const WRITE_ENABLED: u32 = 1 << 10;
    /// Busy.
    pub const BUSY: u32 = 1 << 12;
    /// The last bitstream failed.
    pub const FAIL: u32 = 1 << 13;
    /// Shift of the 3-bit bitstream error (BSE) code.
    pub const BSE_SHIFT: u32 = 23;
    /// VERIFY_ID found another part's IDCODE.
    pub const ID_ERROR: u32 = 1 << 27;
    /// A command the device does not know.
    pub const INVALID_COMMAND: u32 = 1 << 28;
}

/// BSE error codes (TN-02039 table 4.3).
pub mod bse {
    /// No error.
    pub const NONE: u32 = 0;
    /// ID error.
    pub const ID: u32 = 1;
    /// Illegal command.
    pub const CMD: u32 = 2;
    /// CRC error.
    pub const CRC: u32 = 3;
    /// Preamble error.
    pub const PREAMBLE: u32 = 4;
    /// Abort.
    pub const ABORT: u32 = 5;
    /// Data overflow.
    pub const OVERFLOW: u32 = 6;
    /// SDM end of file.
    pub const SDM_EOF: u32 = 7;
}

/// The BSE code in a status word.
pub const fn bse_code(status: u32) -> u32 {
    (status >> status::BSE_SHIFT) & 7
}

/// Linux `FPGA_MGR_STATUS_*` bits for a status word read after a load
/// that did not reach DONE: the kind of failure the device reported, or
/// just `OPERATION_ERR` when it reported none (a stream cut short never
/// reaches `ISC_PROGRAM_DONE`, which the device cannot tell from one
/// still on its way).
pub const fn linux_status(status: u32) -> u64 {
    let mut bits = linux::OPERATION_ERR;
    if status & status::FAIL != 0 {
        if status & status::ID_ERROR != 0 || bse_code(status) == bse::ID {
            bits |= linux::INCOMPATIBLE_IMAGE_ERR;
        }
        if bse_code(status) == bse::CRC {
            bits |= linux::CRC_ERR;
        }
        if bse_code(status) == bse::OVERFLOW {
            bits |= linux::FIFO_OVERFLOW_ERR;
        }
    }
    bits
}

/// What `write_complete` reports for a load that did not reach DONE:
/// the device refused the stream ([`DriverError::ConfigFailed`], Linux's
/// "Error while waiting bitstream write to finish" on BSE errors), or it
/// simply never woke ([`DriverError::Timeout`]).
pub const fn failure(status: u32) -> DriverError {
    if status & status::FAIL != 0 {
        DriverError::ConfigFailed
    } else {
        DriverError::Timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maps_match_the_model() {
        use sim_devices::ecp5::status as model;
        assert_eq!(status::DONE, model::DONE);
        assert_eq!(status::ISC_ENABLED, model::ISC_ENABLED);
        assert_eq!(status::WRITE_ENABLED, model::WRITE_ENABLED);
        assert_eq!(status::FAIL, model::FAIL);
        assert_eq!(status::BSE_SHIFT, model::BSE_SHIFT);
        assert_eq!(status::ID_ERROR, model::ID_ERROR);
        assert_eq!(status::INVALID_COMMAND, model::INVALID_COMMAND);
    }

    #[test]
    fn failures_map_to_linux_bits() {
        let fail = |code: u32| status::FAIL | code << status::BSE_SHIFT;
        let op = linux::OPERATION_ERR;
        assert_eq!(linux_status(0), op);
        assert_eq!(
            linux_status(fail(bse::ID) | status::ID_ERROR),
            op | linux::INCOMPATIBLE_IMAGE_ERR
        );
        assert_eq!(linux_status(fail(bse::CRC)), op | linux::CRC_ERR);
        assert_eq!(linux_status(fail(bse::CMD)), op);
        assert_eq!(
            linux_status(fail(bse::OVERFLOW)),
            op | linux::FIFO_OVERFLOW_ERR
        );
        // A BSE code without FAIL is stale, not this load's.
        assert_eq!(linux_status(bse::CRC << status::BSE_SHIFT), op);
        assert_eq!(failure(fail(bse::CRC)), DriverError::ConfigFailed);
        assert_eq!(failure(status::ISC_ENABLED), DriverError::Timeout);
    }
}
