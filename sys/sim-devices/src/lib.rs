//! Simulated board peripherals, for the hosted platform and the emulated
//! Cortex-M board.
//!
//! These are device models in the kernel process, as in QEMU: a driver task
//! reaches a peripheral's registers through a kernel call that checks its
//! grant, and the kernel forwards the access to [`Board`]. The models are
//! what the Linux drivers and datasheets describe:
//!
//! - `spi-controller` ([`spi`]): chip select, bit order, dummy clocks, DMA.
//! - `gpio` ([`gpio`]): 32 lines wired to FPGA pins (CRESET_B, CDONE, SS_B;
//!   PROGRAM_B, INIT_B, DONE), with edge interrupts.
//! - `ice40-hx1k`, `ice40-hx8k`, `ice40-up5k` ([`ice40`]) and the 7-series
//!   parts `xc7a35t`, `xc7a50t`, `xc7a100t`, `xc7a200t`, `xc7k70t`,
//!   `xc7k325t`, `xc7s25`, `xc7s50` ([`xc7`]), and the ECP5s `lfe5u-25f`,
//!   `lfe5u-85f` ([`ecp5`]): configuration engines that parse and check
//!   the bitstream with `fpga-bitstream`, as the silicon does.
//! - `sha256-engine` ([`sha256_engine`]): a SHA-256 unit fed by DMA, so
//!   the FPGA manager can hash an image while its driver writes it.
//!
//! Two kinds of failure are kept strictly apart. An [`IoError`] is a bad
//! *access* (no such register, a write to a read-only one, a reserved bit):
//! a driver bug, which the kernel turns into a task fault. A failed
//! *configuration* is not an error here at all: it shows up the way it
//! does on hardware, as pin levels (CDONE, INIT_B, DONE low), which the
//! driver must read and interpret.
//!
//! Time is the caller's `now_us` (monotonic microseconds); the models never
//! read a clock, so tests are deterministic.

#![forbid(unsafe_code)]
// `no_std` + `alloc`: the same models run inside the hosted kernel (a
// Linux process) and the Cortex-M kernel (with a heap of its own).
#![no_std]

extern crate alloc;
#[cfg(any(test, feature = "fuzzing"))]
extern crate std;

pub mod ecp5;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_models;
pub mod gpio;
pub mod ice40;
pub mod sha256_engine;
pub mod spi;
pub mod xc7;

mod board;

pub use board::{Board, BoardError, IoError, MODELS};

/// An FPGA pin a GPIO line can be wired to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pin {
    /// iCE40 CRESET_B (input, pulled up): low = reset.
    CresetB,
    /// iCE40 CDONE (output): high = configured.
    Cdone,
    /// iCE40 SPI_SS_B (input, pulled up), when a GPIO drives chip select
    /// instead of (or as well as) the SPI controller.
    SsB,
    /// 7-series PROGRAM_B (input, pulled up): low = clear configuration.
    ProgramB,
    /// 7-series INIT_B (open drain): low = housecleaning or error.
    InitB,
    /// 7-series and ECP5 DONE (open drain): high = configured.
    Done,
    /// ECP5 PROGRAMN (input, pulled up): low = clear configuration.
    ProgramN,
    /// ECP5 INITN (open drain): low = clearing or error.
    InitN,
}

impl Pin {
    /// The pin's name in board configuration (`"creset_b"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Pin::CresetB => "creset_b",
            Pin::Cdone => "cdone",
            Pin::SsB => "ss_b",
            Pin::ProgramB => "program_b",
            Pin::InitB => "init_b",
            Pin::Done => "done",
            Pin::ProgramN => "programn",
            Pin::InitN => "initn",
        }
    }

    /// Whether the FPGA drives this pin (otherwise the board drives it).
    pub fn is_output(self) -> bool {
        matches!(self, Pin::Cdone | Pin::InitB | Pin::Done | Pin::InitN)
    }
}
