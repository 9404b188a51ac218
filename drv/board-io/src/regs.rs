//! Register maps of the board's `spi-controller` and `gpio`
//! peripherals, as the FPGA drivers program them.
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

#[cfg(test)]
mod tests {
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
