//! Board support for driver tasks: the `spi-controller` and `gpio`
//! peripherals every FPGA board wires its devices to, as a task reaches
//! them through the kernel's peripheral calls.
//!
//! - [`regs`]: the register maps, checked against the simulator's models
//!   by this crate's tests;
//! - [`Pin`]: one GPIO line, driven or read;
//! - [`Spi`]: chip select, bit order, bytes from our memory, and a lease
//!   streamed to the device in place.
//!
//! These are thin wrappers over the kernel's peripheral calls. A bad
//! access (a register that does not exist, a reserved bit) is a driver
//! bug that the kernel answers by faulting the task, so nothing here
//! returns an error for it; the only failure a driver must expect at run
//! time is a lease that went away, which [`Spi::stream_lease`] reports.
//!
//! Nothing here knows about FPGAs: the protocol a driver speaks to its
//! manager is `drv/fpga-driver-server`'s, and what a device needs on its
//! pins is each driver's own.

#![no_std]
#![deny(unsafe_code)]

pub mod regs;

use regs::{gpio, spi};
use userlib::{
    TaskId, hl, sys_get_timer, sys_read_bulk, sys_read_register,
    sys_write_bulk, sys_write_bulk_from_lease, sys_write_register,
};

/// The most bytes one bulk-from-lease call moves. The kernel is
/// single-threaded and copies (and runs the device model) inside the
/// call, so one call must not hold it for long; at a few hundred MB/s a
/// 256 KiB piece is well under a millisecond, while per-call overhead
/// (one trap, tens of microseconds) stays a few percent of the transfer.
/// Linux's xilinx-spi uses 4 KiB strides, sized for SPI controller FIFOs
/// that DMA does not have.
pub const STREAM_CHUNK: u32 = 256 * 1024;

/// A lease piece could not be read: a task in the lending chain stopped
/// waiting (died, or was restarted). Earlier pieces reached the device.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct LeaseGone;

/// One line of a `gpio` peripheral.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Pin {
    /// The GPIO peripheral's index.
    pub gpio: u16,
    /// The line, 0..=31 (checked by the drivers' build scripts).
    pub line: u32,
}

impl Pin {
    fn bit(self) -> u32 {
        1 << (self.line % u32::from(gpio::LINES))
    }

    /// The level the line reads: the FPGA's output for CDONE, INIT_B and
    /// DONE (open drain, wired-AND with our drive), our drive or the
    /// pull-up for FPGA inputs.
    pub fn is_high(self) -> bool {
        sys_read_register(self.gpio, gpio::IN) & self.bit() != 0
    }

    /// Drives the line at `high`. OUT is set before DIR, so a line that
    /// was an input never glitches to a stale OUT level on the way.
    pub fn drive(self, high: bool) {
        let out = sys_read_register(self.gpio, gpio::OUT);
        let out = if high {
            out | self.bit()
        } else {
            out & !self.bit()
        };
        sys_write_register(self.gpio, gpio::OUT, out);
        let dir = sys_read_register(self.gpio, gpio::DIR);
        sys_write_register(self.gpio, gpio::DIR, dir | self.bit());
    }

    /// Waits until the line reads `high`, polling every millisecond for
    /// at most `timeout_ms` (Linux's `xilinx_core_wait_for_init_b`, and
    /// the ECP5's INITN wait); looks at least once, however late we run.
    /// `false` when time ran out first.
    pub fn wait_for(self, high: bool, timeout_ms: u64) -> bool {
        let deadline = sys_get_timer().now.saturating_add(timeout_ms);
        loop {
            if self.is_high() == high {
                return true;
            }
            if sys_get_timer().now >= deadline {
                return false;
            }
            hl::sleep_for(1);
        }
    }

    /// Makes the line an input: we stop driving it, and an FPGA input pin
    /// goes to its pull-up.
    pub fn release(self) {
        let dir = sys_read_register(self.gpio, gpio::DIR);
        sys_write_register(self.gpio, gpio::DIR, dir & !self.bit());
    }
}

/// A `spi-controller` peripheral.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Spi(pub u16);

impl Spi {
    /// Sets CTRL: chip select and bit order, interrupts off (we poll).
    pub fn configure(self, cs_asserted: bool, lsb_first: bool) {
        let mut ctrl = 0;
        if cs_asserted {
            ctrl |= spi::CTRL_CS;
        }
        if lsb_first {
            ctrl |= spi::CTRL_LSB_FIRST;
        }
        sys_write_register(self.0, spi::CTRL, ctrl);
    }

    /// Shifts `data` out of our own memory.
    pub fn write(self, data: &[u8]) {
        sys_write_bulk(self.0, data);
    }

    /// Clocks `buf.len()` bytes (MOSI high) and fills `buf` with what
    /// MISO carried: a device's answer to a read command sent in the same
    /// chip-select frame (ECP5 sysCONFIG), else 0xFF.
    pub fn read(self, buf: &mut [u8]) {
        sys_read_bulk(self.0, buf);
    }

    /// Shifts bytes `offset..len` of lease `index` of `lender` (possibly a
    /// lease forwarded to `lender`) straight to the device, in
    /// [`STREAM_CHUNK`] pieces. The kernel reads the original lender's
    /// memory in place, so the bitstream is never copied through us.
    ///
    /// `len` must not exceed the lease (the kernel faults us if it does);
    /// callers pass the length `idol_runtime::Leased` checked.
    ///
    /// # Errors
    ///
    /// [`LeaseGone`] when a piece could not be read.
    pub fn stream_lease(
        self,
        lender: TaskId,
        index: usize,
        offset: u32,
        len: u32,
    ) -> Result<(), LeaseGone> {
        let mut at = offset;
        while at < len {
            let n = STREAM_CHUNK.min(len - at);
            if sys_write_bulk_from_lease(self.0, lender, index, at, n) != 0 {
                return Err(LeaseGone);
            }
            at += n;
        }
        Ok(())
    }
}
