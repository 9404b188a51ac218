//! A 32-line GPIO block whose lines are wired to FPGA pins.
//!
//! | offset | name | access | meaning |
//! |---|---|---|---|
//! | 0x00 | OUT | rw | output levels |
//! | 0x04 | IN | ro | line levels as the pins see them |
//! | 0x08 | DIR | rw | 1 = output |
//! | 0x0C | RISE_EN | rw | raise `edge` on a rising input edge |
//! | 0x10 | FALL_EN | rw | raise `edge` on a falling input edge |
//! | 0x14 | EDGES | r, write 1 to clear | edges seen on enabled lines |
//!
//! Line levels: a line wired to an FPGA *output* (CDONE, INIT_B, DONE)
//! reads the device's level, wired-AND with our own drive when DIR makes
//! it an output (these pins are open drain). A line wired to an FPGA
//! *input* (CRESET_B, PROGRAM_B, SS_B) reads what we drive, or high when
//! not driven (those pins have pull-ups). An unwired line reads OUT when
//! driven and 0 otherwise.
//!
//! Edges are noticed whenever the board is touched (any register access,
//! bulk transfer or [`crate::Board::advance`]), since pins only change then.

use crate::Pin;

/// Register offsets.
pub const OUT: u32 = 0x00;
/// Input levels.
pub const IN: u32 = 0x04;
/// Direction.
pub const DIR: u32 = 0x08;
/// Rising edge enables.
pub const RISE_EN: u32 = 0x0C;
/// Falling edge enables.
pub const FALL_EN: u32 = 0x10;
/// Edge status.
pub const EDGES: u32 = 0x14;

/// The interrupt line raised when EDGES gains a bit.
pub const IRQ_EDGE: &str = "edge";

/// GPIO block state; the board computes IN from the wiring.
#[derive(Debug)]
pub struct Gpio {
    /// `lines[n]` = the FPGA peripheral and pin line `n` is wired to.
    pub lines: [Option<(usize, Pin)>; 32],
    /// OUT register.
    pub out: u32,
    /// DIR register.
    pub dir: u32,
    /// RISE_EN register.
    pub rise_en: u32,
    /// FALL_EN register.
    pub fall_en: u32,
    /// EDGES register.
    pub edges: u32,
    /// IN as last observed, for edge detection.
    pub last_in: u32,
}

impl Gpio {
    /// Power-on state: all lines inputs.
    pub fn new(lines: [Option<(usize, Pin)>; 32]) -> Self {
        Gpio {
            lines,
            out: 0,
            dir: 0,
            rise_en: 0,
            fall_en: 0,
            edges: 0,
            last_in: 0,
        }
    }

    /// What this block drives onto line `n`: `Some(level)` if an output.
    pub fn drive(&self, n: usize) -> Option<bool> {
        (self.dir >> n & 1 != 0).then_some(self.out >> n & 1 != 0)
    }
}
