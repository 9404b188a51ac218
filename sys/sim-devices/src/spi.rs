//! A simple SPI controller with DMA, in front of one FPGA.
//!
//! Transfers complete immediately (the model has no bus timing); the
//! device sees the bytes at the `now_us` of the call.
//!
//! | offset | name | access | meaning |
//! |---|---|---|---|
//! | 0x00 | CTRL | rw | bit 0 CS: chip select asserted (SS_B low); bit 1 LSB_FIRST: shift each byte LSB first; bit 2 IRQ_EN: raise `done` after each transfer. Other bits must be 0. |
//! | 0x04 | STATUS | ro | bit 0 BUSY (always 0), bit 1 CS asserted, bit 2 a device is attached |
//! | 0x08 | CLOCKS | wo (reads 0) | write N (at most [`MAX_CLOCKS`]): clock N dummy bytes (MOSI high, 0xFF) with CS as it is |
//! | 0x0C | TXDATA | wo (reads 0) | write a byte (0..=0xFF): shift it out |
//! | 0x10 | COUNT | ro | bytes shifted since reset (low 32 bits) |
//!
//! Bulk write = DMA out: the bytes are shifted to the device. Bulk read =
//! DMA in: the controller clocks out 0xFF for each byte and returns what
//! MISO carried, which is always 0xFF here (pulled up: neither FPGA drives
//! MISO while being configured).

/// CTRL: chip select asserted.
pub const CTRL_CS: u32 = 1 << 0;
/// CTRL: shift bytes LSB first.
pub const CTRL_LSB_FIRST: u32 = 1 << 1;
/// CTRL: raise the `done` interrupt after each transfer.
pub const CTRL_IRQ_EN: u32 = 1 << 2;

/// Register offsets.
pub const CTRL: u32 = 0x00;
/// Status register.
pub const STATUS: u32 = 0x04;
/// Dummy clock register.
pub const CLOCKS: u32 = 0x08;
/// The most dummy bytes one CLOCKS write may ask for: the count is a
/// 16-bit field, as real controllers' transfer counters are. The board
/// clocks them inside the kernel, so an unbounded count (4 GiB from one
/// register write) would stop every task for minutes; a larger value is
/// refused and the writer faults.
pub const MAX_CLOCKS: u32 = 0xFFFF;
/// Single byte transmit register.
pub const TXDATA: u32 = 0x0C;
/// Byte counter.
pub const COUNT: u32 = 0x10;

/// The interrupt line raised after a transfer when CTRL.IRQ_EN is set.
pub const IRQ_DONE: &str = "done";

/// Controller state; the board routes its bytes to `device`.
#[derive(Debug)]
pub struct Spi {
    /// The FPGA peripheral index the bus reaches.
    pub device: Option<usize>,
    /// CTRL register.
    pub ctrl: u32,
    /// Bytes shifted.
    pub count: u64,
}

impl Spi {
    /// Power-on state.
    pub fn new(device: Option<usize>) -> Self {
        Spi {
            device,
            ctrl: 0,
            count: 0,
        }
    }

    /// Whether chip select is asserted.
    pub fn cs(&self) -> bool {
        self.ctrl & CTRL_CS != 0
    }
}
