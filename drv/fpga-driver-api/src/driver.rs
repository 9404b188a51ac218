//! What every FPGA driver task does the same way: drive and read GPIO
//! pins, shift bytes through the SPI controller, stream a lease to it
//! without copying, and announce itself to the manager.
//!
//! These are thin wrappers over the kernel's peripheral calls. A bad
//! access (a register that does not exist, a reserved bit) is a driver
//! bug that the kernel answers by faulting the task, so nothing here
//! returns an error for it; the only failure a driver must expect at run
//! time is a lease that went away, which [`Spi::stream_lease`] reports.

use crate::DriverError;
use crate::regs::{gpio, spi};
use userlib::{
    Generation, TaskId, sys_post, sys_read_register, sys_refresh_task_id,
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

    /// Shifts `len` bytes of lease `index` of `lender` (possibly a lease
    /// forwarded to `lender`) straight to the device, in
    /// [`STREAM_CHUNK`] pieces. The kernel reads the original lender's
    /// memory in place, so the bitstream is never copied through us.
    ///
    /// `len` must not exceed the lease (the kernel faults us if it does);
    /// callers pass the length `idol_runtime::Leased` checked.
    ///
    /// # Errors
    ///
    /// [`DriverError::LeaseRevoked`] when a piece could not be read: a
    /// task in the lending chain stopped waiting (died, or was
    /// restarted). Earlier pieces have reached the device.
    pub fn stream_lease(
        self,
        lender: TaskId,
        index: usize,
        len: usize,
    ) -> Result<(), DriverError> {
        let len =
            u32::try_from(len).map_err(|_| DriverError::InvalidArgument)?;
        let mut offset = 0;
        while offset < len {
            let n = STREAM_CHUNK.min(len - offset);
            let rc =
                sys_write_bulk_from_lease(self.0, lender, index, offset, n);
            if rc != 0 {
                return Err(DriverError::LeaseRevoked);
            }
            offset += n;
        }
        Ok(())
    }
}

/// Tells the manager (task `index`) that this driver has started, by
/// posting `mask` to it; returns what POST returned (0, or a dead code if
/// the manager restarted between our lookup and the post, in which case
/// we try once more with its new generation).
///
/// A notification rather than a message, because IPC only flows from
/// less to more important tasks and drivers sit above the manager. POST
/// is a capability: app.toml's `post-to` names the manager (the build
/// script checks it).
pub fn announce(index: usize, mask: u32) -> u32 {
    let mut rc = 0;
    for _ in 0..2 {
        let manager = sys_refresh_task_id(TaskId::for_index_and_gen(
            index,
            Generation::ZERO,
        ));
        rc = sys_post(manager, mask);
        if rc == 0 {
            break;
        }
    }
    rc
}
