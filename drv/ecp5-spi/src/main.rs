//! Lattice ECP5 driver: sysCONFIG slave-SPI configuration, the sequence
//! Hubris's `drv/fpga-devices` ECP5 code and Linux's
//! `drivers/fpga/lattice-sysconfig.c` drive (Lattice FPGA-TN-02039).
//!
//! One task per device, serving `idl/fpga-driver.idol` to the FPGA
//! manager through `drv/fpga-driver-server`, which checks the caller and
//! the order of ops; this file is what is ECP5 about it:
//!
//! 1. `write_init`: pulse PROGRAMN (low until INITN follows it low, then
//!    high) and wait for INITN to rise (SRAM cleared; 1 ms polls, 1 s
//!    timeout, Linux's `-ETIMEDOUT`); DONE must be low; `READ_ID` must
//!    answer (a missing device reads all ones); `ISC_ENABLE`, then
//!    `LSC_READ_STATUS` must show writes enabled; then open the
//!    `LSC_BITSTREAM_BURST` frame, chip select staying asserted.
//! 2. `write`: shift the image from its preamble on, MSB first, straight
//!    from the client's lease, inside the burst frame.
//! 3. `write_complete`: raise chip select (the burst ends); read the
//!    status register: its FAIL bit and bitstream error code (ID, CRC,
//!    illegal command, overflow) mean the device refused the stream
//!    ([`DriverError::ConfigFailed`]). Otherwise `ISC_DISABLE` and a
//!    no-op, then poll DONE until it rises or the timeout passes; a
//!    stream that never reached `ISC_PROGRAM_DONE` leaves DONE low with
//!    no error flagged ([`DriverError::Timeout`]).
//!
//! An abandoned load ends the burst and sends `LSC_REFRESH`, which clears
//! the configuration as a PROGRAMN pulse does; a restarted driver does
//! the same before its first use if DONE is low, so a predecessor's
//! half-written stream never completes.
//!
//! `state` and `status` read the device: DONE for `OPERATING`, and after
//! a failed load the status register's flags as Linux's
//! `FPGA_MGR_STATUS_*` bits ([`drv_ecp5_spi::sysconfig::linux_status`]).
//! We never read the simulator's debug registers.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use drv_ecp5_spi::header::{self, MAX_HEADER};
use drv_ecp5_spi::sysconfig::{self, status as sr};
use drv_fpga_driver_server::api::{
    DriverError, DriverInfo, FpgaState, HeaderInfo, flags,
};
use drv_fpga_driver_server::board::Spi;
use drv_fpga_driver_server::config_pins::ConfigPins;
use drv_fpga_driver_server::{FpgaDevice, ImageStart};

/// Our limit on INITN following PROGRAMN (TN-02039's tINITL is tens of
/// milliseconds at most; Linux's lattice-sysconfig waits a second too).
const INITN_TIMEOUT_MS: u64 = 1000;

/// An ECP5 on slave SPI, with PROGRAMN, INITN and DONE.
struct Ecp5 {
    spi: Spi,
    pins: ConfigPins,
    /// The burst frame is open (chip select held): no other command may
    /// be sent until it ends.
    bursting: bool,
}

impl Ecp5 {
    fn new() -> Self {
        Ecp5 {
            spi: Self::CONFIG_PORT,
            pins: ConfigPins::new(
                config::GPIO,
                config::PROGRAMN,
                config::INITN,
                config::DONE,
            ),
            bursting: false,
        }
    }

    /// One command frame with a zero operand.
    fn command(&self, opcode: u8) {
        self.spi.configure(true, false);
        self.spi.write(&[opcode, 0, 0, 0]);
        self.spi.configure(false, false);
    }

    /// One read command frame: the 32-bit answer, MSB first.
    fn read(&self, opcode: u8) -> u32 {
        let mut answer = [0u8; 4];
        self.spi.configure(true, false);
        self.spi.write(&[opcode, 0, 0, 0]);
        self.spi.read(&mut answer);
        self.spi.configure(false, false);
        u32::from_be_bytes(answer)
    }

    /// From the burst's last byte to DONE.
    fn complete(&mut self, timeout_ms: u32) -> Result<(), DriverError> {
        self.spi.configure(false, false);
        self.bursting = false;
        let s = self.read(sysconfig::LSC_READ_STATUS);
        if s & sr::FAIL != 0 {
            return Err(sysconfig::failure(s));
        }
        self.command(sysconfig::ISC_DISABLE);
        // A no-op frame: clocks for the wake-up sequence (Hubris sends
        // one after ISC_DISABLE too).
        self.spi.configure(true, false);
        self.spi.write(&[0xFF; 4]);
        self.spi.configure(false, false);
        match self.pins.poll_done(timeout_ms, || {}) {
            Some(_) => Ok(()),
            None => {
                Err(sysconfig::failure(self.read(sysconfig::LSC_READ_STATUS)))
            }
        }
    }
}

impl FpgaDevice for Ecp5 {
    /// Compression is a property of the stream the ECP5's configuration
    /// logic decodes itself (`ecppack --compress`), so it passes through;
    /// `EXTERNAL_CONFIG` needs nothing from a driver. The SPI port takes
    /// commands MSB first, so `LSB_FIRST` images are refused rather than
    /// half-reversed; slave SPI here does no partial reconfiguration. 64
    /// header bytes first: ecppack's comment block and the preamble.
    const INFO: DriverInfo =
        DriverInfo::new("ecp5-spi", flags::EXTERNAL_CONFIG | flags::COMPRESSED)
            .header(64);
    const CONFIG_PORT: Spi = Spi(config::SPI);

    /// Chip select high, PROGRAMN driven high (released), INITN and DONE
    /// inputs; a device that is not configured gets `LSC_REFRESH`,
    /// clearing anything a predecessor of ours half-wrote.
    fn init_hardware(&mut self) -> bool {
        self.spi.configure(false, false);
        self.pins.program.drive(true);
        self.pins.init.release();
        self.pins.done.release();
        let done = self.pins.done.is_high();
        if !done {
            self.command(sysconfig::LSC_REFRESH);
        }
        done
    }

    fn state(&self) -> FpgaState {
        self.pins.state()
    }

    /// The status register's verdict on the last load, as Linux's bits
    /// (none while a burst holds chip select).
    fn status(&self, load_failed: bool) -> u64 {
        if self.pins.done.is_high() || self.bursting {
            return 0;
        }
        let s = self.read(sysconfig::LSC_READ_STATUS);
        if s & sr::FAIL != 0 || load_failed {
            sysconfig::linux_status(s)
        } else {
            0
        }
    }

    fn parse_header(
        &mut self,
        image: ImageStart<'_>,
    ) -> Result<HeaderInfo, DriverError> {
        header::parse(image.read(&mut [0; MAX_HEADER])?, image.len as usize)
    }

    /// Linux `sysconfig_gpio_refresh` and `sysconfig_isc_init`, then the
    /// burst: from the PROGRAMN pulse to the open `LSC_BITSTREAM_BURST`
    /// frame.
    fn enter_config(&mut self, _image_flags: u32) -> Result<(), DriverError> {
        self.bursting = false;
        self.spi.configure(false, false);
        self.pins.program_pulse(INITN_TIMEOUT_MS)?;
        let id = self.read(sysconfig::READ_ID);
        if id == 0 || id == u32::MAX {
            // Nobody drives MISO: no ECP5 on this port.
            return Err(DriverError::DeviceNotReady);
        }
        self.command(sysconfig::ISC_ENABLE);
        let s = self.read(sysconfig::LSC_READ_STATUS);
        if s & sr::WRITE_ENABLED == 0 {
            return Err(DriverError::DeviceNotReady);
        }
        self.spi.configure(true, false);
        self.spi.write(&[sysconfig::LSC_BITSTREAM_BURST, 0, 0, 0]);
        self.bursting = true;
        Ok(())
    }

    fn finish(&mut self, timeout_ms: u32) -> Result<(), DriverError> {
        self.complete(timeout_ms)
    }

    /// Ends the burst and clears the configuration (`LSC_REFRESH`, what a
    /// PROGRAMN pulse does).
    fn abort(&mut self) {
        self.spi.configure(false, false);
        self.bursting = false;
        self.command(sysconfig::LSC_REFRESH);
    }
}

drv_fpga_driver_server::fpga_driver_main!(Ecp5::new());
