//! Lattice iCE40 driver: SPI slave configuration, as Linux's ice40-spi.
//!
//! One task per iCE40, serving `idl/fpga-driver.idol` to the FPGA manager
//! through `drv/fpga-driver-server`, which checks the caller and the order
//! of ops; this file is what is iCE40 about it. The load sequence is
//! Linux's `drivers/fpga/ice40-spi.c` step for step:
//!
//! 1. `write_init`: refuse `PARTIAL_RECONFIG` (`-ENOTSUPP`); assert
//!    CRESET_B (low) and SS_B; wait ≥ 1 µs (`ICE40_SPI_RESET_DELAY`; we
//!    sleep a 1 ms tick); release CRESET_B, so the device samples SS_B low
//!    and enters SPI slave mode; CDONE must be low ("Device reset failed,
//!    CDONE is asserted"); wait ≥ 1200 µs of housekeeping
//!    (`ICE40_SPI_HOUSEKEEPING_DELAY`); release SS_B.
//! 2. `write`: shift the bitstream with SS_B asserted, straight from the
//!    client's lease (the kernel reads it in place).
//! 3. `write_complete`: CDONE must be high ("CDONE was not asserted after
//!    firmware transfer"); then 7 zero bytes, ≥ 49 clocks, start the
//!    design.
//!
//! `state` is Linux's: CDONE high is `OPERATING`, anything else
//! `UNKNOWN`. The device's only error signal is CDONE staying low; we
//! never read the simulator's debug registers to decide anything. What we
//! deliberately do not do: Zephyr's and Hubris's 8 leading clocks with
//! SS_B high (Linux does without them), or checking the bitstream's
//! contents (the device does, and says so on CDONE).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use drv_fpga_driver_server::api::{
    DriverError, DriverInfo, FpgaState, flags, status,
};
use drv_fpga_driver_server::board::{LeaseGone, Pin, Spi};
use drv_fpga_driver_server::{FpgaDevice, LeaseData};
use userlib::hl;

/// CRESET_B low time. Linux waits 1 µs (datasheet: > 200 ns); our timer
/// ticks in milliseconds.
const RESET_DELAY_MS: u64 = 1;

/// Housekeeping after CRESET_B rises before the device listens. Linux
/// waits 1200 µs; bytes sent earlier are lost. The timer ticks in whole
/// milliseconds, so a 2 ms sleep can end 1.0 ms after it starts; 3
/// guarantees the datasheet's 1200 µs.
const HOUSEKEEPING_MS: u64 = 3;

/// Zero bytes after CDONE rises: Linux sends `DIV_ROUND_UP(49, 8)` bytes,
/// the ≥ 49 clocks the iCE40 needs to hand its pins to the design.
const WAKEUP_BYTES: [u8; 7] = [0; 7];

/// An iCE40 on an SPI bus, with its CRESET_B and CDONE lines.
struct Ice40 {
    spi: Spi,
    creset_b: Pin,
    cdone: Pin,
    /// A GPIO driving SS_B as well as the controller's CS, on boards that
    /// wire one.
    ss_b: Option<Pin>,
    /// The image asked for LSB-first shifting.
    lsb_first: bool,
}

impl Ice40 {
    fn new() -> Self {
        let pin = |line| Pin {
            gpio: config::GPIO,
            line,
        };
        Ice40 {
            spi: Self::CONFIG_PORT,
            creset_b: pin(config::CRESET_B),
            cdone: pin(config::CDONE),
            ss_b: config::SS_B.map(pin),
            lsb_first: false,
        }
    }

    /// Asserts or releases SS_B: the controller's CS, and the GPIO line
    /// too on boards that wire one.
    fn set_ss(&self, asserted: bool) {
        self.spi.configure(asserted, self.lsb_first);
        if let Some(pin) = self.ss_b {
            pin.drive(!asserted);
        }
    }
}

impl FpgaDevice for Ice40 {
    /// LSB_FIRST (the controller reverses each byte) and EXTERNAL_CONFIG
    /// (nothing for a driver to do: the manager does not load). iCE40 has
    /// no partial reconfiguration, and icepack images are neither
    /// compressed nor encrypted. Linux's ice40-spi has no `parse_header`
    /// and `initial_header_size` 0: the image is sent whole.
    const INFO: DriverInfo =
        DriverInfo::new("ice40-spi", flags::LSB_FIRST | flags::EXTERNAL_CONFIG);
    const CONFIG_PORT: Spi = Spi(config::SPI);

    /// SS released; a configured device (CDONE high) is left running, as
    /// Linux leaves a device alone until the first load; any other
    /// (unconfigured, or half-loaded by a predecessor of ours that died)
    /// is held in reset, as Linux's probe requests CRESET_B asserted.
    fn init_hardware(&mut self) -> bool {
        self.set_ss(false);
        self.cdone.release();
        let cdone = self.cdone.is_high();
        self.creset_b.drive(cdone);
        cdone
    }

    fn state(&self) -> FpgaState {
        if self.cdone.is_high() {
            FpgaState::Operating
        } else {
            FpgaState::Unknown
        }
    }

    /// CDONE low after a full transfer is all an iCE40 says; it cannot
    /// tell a CRC error from a wrong device, so we claim neither.
    /// A failed load is reported while CDONE stays low.
    fn status(&self, load_failed: bool) -> u64 {
        if load_failed && !self.cdone.is_high() {
            status::OPERATION_ERR
        } else {
            0
        }
    }

    /// Linux `ice40_fpga_ops_write_init` steps 2 to 6 (see the crate
    /// docs).
    fn enter_config(&mut self, image_flags: u32) -> Result<(), DriverError> {
        self.lsb_first = image_flags & flags::LSB_FIRST != 0;
        self.creset_b.drive(false);
        self.set_ss(true);
        hl::sleep_for(RESET_DELAY_MS);
        self.creset_b.drive(true);
        if self.cdone.is_high() {
            self.set_ss(false);
            return Err(DriverError::DeviceNotReady);
        }
        hl::sleep_for(HOUSEKEEPING_MS);
        self.set_ss(false);
        Ok(())
    }

    /// Linux's write is spi_write: SS_B asserted around the transfer.
    fn write(&mut self, data: LeaseData) -> Result<(), LeaseGone> {
        self.set_ss(true);
        let sent = data.stream_to(self.spi);
        self.set_ss(false);
        sent
    }

    /// Linux ignores `config_complete_timeout` for iCE40: CDONE is checked
    /// once, right after the transfer.
    fn finish(&mut self, _timeout_ms: u32) -> Result<(), DriverError> {
        if !self.cdone.is_high() {
            return Err(DriverError::ConfigFailed);
        }
        self.set_ss(true);
        self.spi.write(&WAKEUP_BYTES);
        self.lsb_first = false;
        self.set_ss(false);
        Ok(())
    }

    /// SS_B released, device held in reset (CDONE low, configuration
    /// cleared).
    fn abort(&mut self) {
        self.lsb_first = false;
        self.set_ss(false);
        self.creset_b.drive(false);
    }
}

drv_fpga_driver_server::fpga_driver_main!(Ice40::new());
