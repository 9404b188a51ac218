//! Register maps of the board's `spi-controller`, `gpio` and
//! `sha256-engine` peripherals, as the FPGA drivers and the manager
//! program them.
//!
//! The models live in `sys/sim-devices` (a host crate, which a task cannot
//! depend on); these are the numbers from their documentation, kept in one
//! place for both drivers and checked against the models by this crate's
//! tests. We deliberately list no FPGA debug registers: a driver learns
//! what its device did from pins (CDONE, INIT_B, DONE), as on real boards.

/// `spi-controller`: chip select, bit order, dummy clocks, DMA out.
pub mod spi {
    /// CTRL (rw): [`CTRL_CS`], [`CTRL_LSB_FIRST`], [`CTRL_IRQ_EN`]; other
    /// bits must be 0 (the kernel faults a driver that sets them).
    pub const CTRL: u32 = 0x00;
    /// STATUS (ro): bit 0 BUSY, bit 1 CS asserted, bit 2 device attached.
    pub const STATUS: u32 = 0x04;
    /// CLOCKS (wo): write N to clock N dummy bytes (0xFF), CS as it is.
    pub const CLOCKS: u32 = 0x08;
    /// TXDATA (wo): shift out one byte.
    pub const TXDATA: u32 = 0x0C;
    /// COUNT (ro): bytes shifted since reset, low 32 bits.
    pub const COUNT: u32 = 0x10;

    /// CTRL: chip select asserted (SS_B low).
    pub const CTRL_CS: u32 = 1 << 0;
    /// CTRL: shift each byte LSB first.
    pub const CTRL_LSB_FIRST: u32 = 1 << 1;
    /// CTRL: raise the `done` interrupt after each transfer.
    pub const CTRL_IRQ_EN: u32 = 1 << 2;
}

/// `gpio`: 32 lines wired to FPGA pins.
pub mod gpio {
    /// OUT (rw): output levels.
    pub const OUT: u32 = 0x00;
    /// IN (ro): line levels as the pins see them.
    pub const IN: u32 = 0x04;
    /// DIR (rw): 1 = output.
    pub const DIR: u32 = 0x08;
    /// RISE_EN (rw): raise `edge` on a rising input edge.
    pub const RISE_EN: u32 = 0x0C;
    /// FALL_EN (rw): raise `edge` on a falling input edge.
    pub const FALL_EN: u32 = 0x10;
    /// EDGES (r, write 1 to clear): edges seen on enabled lines.
    pub const EDGES: u32 = 0x14;
    /// Lines per block.
    pub const LINES: u8 = 32;
}

/// `sha256-engine`: SHA-256 over DMA transfers (the module doc of
/// `sim_devices::sha256_engine` has the whole map and its refusals).
pub mod sha256_engine {
    /// CTRL (rw): [`CTRL_INIT`], [`CTRL_ABORT`], [`CTRL_IRQ_EN`].
    pub const CTRL: u32 = 0x00;
    /// STATUS (r, w1c): [`STATUS_BUSY`], [`STATUS_DONE`],
    /// [`STATUS_ERROR`], [`STATUS_READY`].
    pub const STATUS: u32 = 0x04;
    /// COUNT (ro): bytes hashed since INIT, low 32 bits.
    pub const COUNT: u32 = 0x08;
    /// DATA: the DMA port (bulk writes only).
    pub const DATA: u32 = 0x0C;
    /// DIGEST0 (ro); DIGEST`i` is at `DIGEST0 + 4 * i`, big-endian words.
    pub const DIGEST0: u32 = 0x10;

    /// CTRL: start a new hash.
    pub const CTRL_INIT: u32 = 1 << 0;
    /// CTRL: cancel the transfer under way (the hash is lost).
    pub const CTRL_ABORT: u32 = 1 << 1;
    /// CTRL: raise `done` when a transfer ends.
    pub const CTRL_IRQ_EN: u32 = 1 << 2;
    /// STATUS: a transfer is under way.
    pub const STATUS_BUSY: u32 = 1 << 0;
    /// STATUS: a transfer ended (write 1 to clear before the next).
    pub const STATUS_DONE: u32 = 1 << 1;
    /// STATUS: a transfer was aborted.
    pub const STATUS_ERROR: u32 = 1 << 2;
    /// STATUS: a hash is open.
    pub const STATUS_READY: u32 = 1 << 3;
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_engine_map_matches_the_model() {
        use super::sha256_engine as ours;
        use sim_devices::sha256_engine as model;
        assert_eq!(ours::CTRL, model::CTRL);
        assert_eq!(ours::STATUS, model::STATUS);
        assert_eq!(ours::COUNT, model::COUNT);
        assert_eq!(ours::DATA, model::DATA);
        assert_eq!(ours::DIGEST0, model::DIGEST0);
        assert_eq!(ours::CTRL_INIT, model::CTRL_INIT);
        assert_eq!(ours::CTRL_ABORT, model::CTRL_ABORT);
        assert_eq!(ours::CTRL_IRQ_EN, model::CTRL_IRQ_EN);
        assert_eq!(ours::STATUS_BUSY, model::STATUS_BUSY);
        assert_eq!(ours::STATUS_DONE, model::STATUS_DONE);
        assert_eq!(ours::STATUS_ERROR, model::STATUS_ERROR);
        assert_eq!(ours::STATUS_READY, model::STATUS_READY);
    }

    #[test]
    fn spi_map_matches_the_model() {
        use sim_devices::spi as model;
        assert_eq!(super::spi::CTRL, model::CTRL);
        assert_eq!(super::spi::STATUS, model::STATUS);
        assert_eq!(super::spi::CLOCKS, model::CLOCKS);
        assert_eq!(super::spi::TXDATA, model::TXDATA);
        assert_eq!(super::spi::COUNT, model::COUNT);
        assert_eq!(super::spi::CTRL_CS, model::CTRL_CS);
        assert_eq!(super::spi::CTRL_LSB_FIRST, model::CTRL_LSB_FIRST);
        assert_eq!(super::spi::CTRL_IRQ_EN, model::CTRL_IRQ_EN);
    }

    #[test]
    fn gpio_map_matches_the_model() {
        use sim_devices::gpio as model;
        assert_eq!(super::gpio::OUT, model::OUT);
        assert_eq!(super::gpio::IN, model::IN);
        assert_eq!(super::gpio::DIR, model::DIR);
        assert_eq!(super::gpio::RISE_EN, model::RISE_EN);
        assert_eq!(super::gpio::FALL_EN, model::FALL_EN);
        assert_eq!(super::gpio::EDGES, model::EDGES);
    }
}
