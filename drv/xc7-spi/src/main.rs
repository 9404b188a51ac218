//! Xilinx 7-series driver: slave serial configuration, as Linux's
//! xilinx-spi.
//!
//! One task per device, serving `idl/fpga-driver.idol` to the FPGA
//! manager through `drv/fpga-driver-server`, which checks the caller and
//! the order of ops; this file is what is 7-series about it. The sequence
//! is Linux's `drivers/fpga/xilinx-spi.c` / `xilinx-core.c`:
//!
//! 1. `write_init`: refuse `PARTIAL_RECONFIG`; assert PROGRAM_B (low) and
//!    wait for INIT_B to go low; release PROGRAM_B and wait for INIT_B to
//!    go high (housecleaning done; 1 ms polls, 1 s timeout, Linux's
//!    `-ETIMEDOUT`); DONE must be low ("Unexpected DONE pin state");
//!    sleep the 7.5 ms "program latency".
//! 2. `write`: shift the configuration data MSB first (LSB first when the
//!    image says `LSB_FIRST`, which Linux ignores), straight from the
//!    client's lease.
//! 3. `write_complete`: poll DONE, sending one 0xFF (8 CCLKs for the
//!    startup sequence) per poll, until DONE is high or the timeout
//!    passes; then INIT_B low means "CRC error or invalid device"
//!    ([`DriverError::ConfigFailed`]), INIT_B high "missing sync word or
//!    incomplete bitstream" ([`DriverError::Timeout`]).
//!
//! `parse_header` (which Linux's driver lacks) strips a `.bit` header and
//! refuses byte-swapped `.bin` files; see [`drv_xc7_spi::header`]. The
//! device's verdict comes from its pins alone (INIT_B, DONE); we never
//! read the simulator's debug registers.
//!
//! Deliberate differences from Linux: `state` says `OPERATING` when DONE
//! is high (Linux: `UNKNOWN`; DONE low is `RESET` in both), so a
//! restarted manager can tell a configured device; and an abandoned load
//! gets a PROGRAM_B pulse, clearing the half-written configuration.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use drv_fpga_driver_server::api::{
    DriverError, DriverInfo, FpgaState, HeaderInfo, flags, status,
};
use drv_fpga_driver_server::board::Spi;
use drv_fpga_driver_server::config_pins::ConfigPins;
use drv_fpga_driver_server::{FpgaDevice, ImageStart};
use drv_xc7_spi::header::{self, MAX_HEADER};
use userlib::hl;

/// Linux's limit on INIT_B changing after a PROGRAM_B edge.
const INIT_B_TIMEOUT_MS: u64 = 1000;

/// Linux's "program latency" sleep after housecleaning (7.5 ms), rounded
/// up to our millisecond tick.
const PROGRAM_LATENCY_MS: u64 = 8;

/// A 7-series device in slave serial mode, with PROGRAM_B, INIT_B and
/// DONE.
struct Xc7 {
    spi: Spi,
    /// PROGRAM_B, INIT_B and DONE.
    pins: ConfigPins,
    /// INIT_B has been seen high since the last PROGRAM_B pulse, so INIT_B
    /// low now is the device reporting an error (UG470), not
    /// housecleaning.
    armed: bool,
}

impl Xc7 {
    fn new() -> Self {
        Xc7 {
            spi: Self::CONFIG_PORT,
            pins: ConfigPins::new(
                config::GPIO,
                config::PROGRAM_B,
                config::INIT_B,
                config::DONE,
            ),
            armed: false,
        }
    }
}

impl FpgaDevice for Xc7 {
    /// Encryption and compression are properties of the stream that the
    /// 7-series configuration engine decodes itself (UG470 ch. 5 and
    /// `BITSTREAM.GENERAL.COMPRESS`), so they pass through;
    /// `EXTERNAL_CONFIG` needs nothing from a driver. Slave serial cannot
    /// do partial reconfiguration here (Linux's xilinx-spi refuses it
    /// too). 64 header bytes first: enough for a Vivado `.bit` header's
    /// magic and first fields, or a `.bin`'s sync word, in one go.
    const INFO: DriverInfo = DriverInfo::new(
        "xc7-spi",
        flags::LSB_FIRST
            | flags::EXTERNAL_CONFIG
            | flags::ENCRYPTED
            | flags::COMPRESSED,
    )
    .header(64);
    const CONFIG_PORT: Spi = Spi(config::SPI);

    /// Controller idle and MSB first, PROGRAM_B driven high (released, as
    /// Linux requests it), INIT_B and DONE inputs. A device that is not
    /// configured (DONE low) may hold a half-written configuration from a
    /// predecessor of ours that died; a PROGRAM_B pulse clears it, so stale
    /// data can never complete.
    fn init_hardware(&mut self) -> bool {
        self.spi.configure(false, false);
        self.pins.init.release();
        self.pins.done.release();
        let done = self.pins.done.is_high();
        if !done {
            self.pins.program.drive(false);
        }
        self.pins.program.drive(true);
        done
    }

    fn state(&self) -> FpgaState {
        self.pins.state()
    }

    /// UG470: INIT_B pulled low after housecleaning signals a
    /// configuration error, a CRC mismatch or a wrong IDCODE; the pin
    /// cannot say which, so we report the CRC error Linux names first.
    fn status(&self, load_failed: bool) -> u64 {
        if self.pins.done.is_high() {
            0
        } else if self.armed && !self.pins.init.is_high() {
            status::OPERATION_ERR | status::CRC_ERR
        } else if load_failed {
            status::OPERATION_ERR
        } else {
            0
        }
    }

    fn parse_header(
        &mut self,
        image: ImageStart<'_>,
    ) -> Result<HeaderInfo, DriverError> {
        let mut buf = [0u8; MAX_HEADER];
        let head = image.read(&mut buf)?;
        header::to_wire_order(head, image.flags);
        header::parse(head, image.len as usize)
    }

    /// Linux `xilinx_core_write_init` from the PROGRAM_B pulse on. Like
    /// Linux, it does not look at the header: the pulse is the same for
    /// every image, and `parse_header` has vetted it.
    fn enter_config(&mut self, image_flags: u32) -> Result<(), DriverError> {
        self.spi
            .configure(false, image_flags & flags::LSB_FIRST != 0);
        self.armed = false;
        self.pins.program_pulse(INIT_B_TIMEOUT_MS)?;
        self.armed = true;
        hl::sleep_for(PROGRAM_LATENCY_MS);
        Ok(())
    }

    fn finish(&mut self, timeout_ms: u32) -> Result<(), DriverError> {
        let spi = self.spi;
        let polled = self.pins.poll_done(timeout_ms, || spi.write(&[0xFF]));
        self.spi.configure(false, false);
        if polled.is_some() {
            return Ok(());
        }
        Err(if self.pins.init.is_high() {
            // Linux: "Missing sync word or incomplete bitstream".
            DriverError::Timeout
        } else {
            // Linux: "CRC error or invalid device".
            DriverError::ConfigFailed
        })
    }

    /// A PROGRAM_B pulse clears the configuration memory, and the device
    /// waits for a new one.
    fn abort(&mut self) {
        self.armed = false;
        self.pins.program.drive(false);
        self.pins.program.drive(true);
        self.spi.configure(false, false);
    }
}

drv_fpga_driver_server::fpga_driver_main!(Xc7::new());
