//! The simulated board under a fuzzer: what a driver task can do to it.
//!
//! Every register access and SPI transfer a driver makes reaches
//! [`Board`] through the kernel, and a driver may be buggy or hostile:
//! any peripheral number, register, value or byte stream, at any time, in
//! any order. Whatever it does, the board must answer with a value or an
//! [`crate::IoError`] (which the kernel turns into a fault of that task),
//! never panic, and after time advances leave nothing due undone.
//!
//! Input: a script of operations on the default image's board (an iCE40
//! HX1K and an XC7A35T, each with its SPI controller and GPIO bank), each
//! one opcode byte and its operands: register writes and reads, SPI bulk
//! writes of the following bytes (so real bitstreams in the seeds reach
//! the configuration engines), bulk reads, peripheral resets, and time.
//!
//! `fuzz/fuzz_targets/board.rs` calls [`run`]; the unit test replays the
//! checked-in corpus, whose seeds configure both FPGAs with real images
//! from `test/bitstreams/` the way the drivers do.

use crate::Board;
use serde_json::{Value, json};
#[allow(unused_imports)] // the prelude the std-only harness is written in
use std::prelude::rust_2024::*;

/// What a run found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// The board could not be built (a bug in this harness's layout).
    Layout(String),
    /// After advancing to `now`, a deadline at or before `now` is left.
    DeadlineInThePast { deadline: u64, now: u64 },
}

/// The default image's board, in app.toml's order.
pub fn default_board() -> Result<Board, Violation> {
    let entry = |name: &str, model: &str, config: Value| {
        (name.to_owned(), model.to_owned(), config)
    };
    Board::new(&[
        entry("ice40", "ice40-hx1k", Value::Null),
        entry("spi-ice40", "spi-controller", json!({"device": "ice40"})),
        entry(
            "gpio-ice40",
            "gpio",
            json!({"device": "ice40", "lines": {"0": "creset_b", "1": "cdone"}}),
        ),
        entry("xc7", "xc7a35t", Value::Null),
        entry("spi-xc7", "spi-controller", json!({"device": "xc7"})),
        entry(
            "gpio-xc7",
            "gpio",
            json!({"device": "xc7", "lines": {"0": "program_b", "1": "init_b", "2": "done"}}),
        ),
    ])
    .map_err(|e| Violation::Layout(e.to_string()))
}

/// Peripherals on the board (and one past, which must be refused).
const PERIPHERALS: u8 = 7;

/// Reads the script's operands.
struct Script<'a>(&'a [u8]);

impl<'a> Script<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn word(&mut self) -> u32 {
        let mut w = [0u8; 4];
        for b in &mut w {
            *b = self.byte().unwrap_or(0);
        }
        u32::from_le_bytes(w)
    }

    /// The next `len` bytes, or what is left.
    fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

/// Runs one script.
///
/// # Errors
///
/// The first [`Violation`].
pub fn run(data: &[u8]) -> Result<(), Violation> {
    let mut board = default_board()?;
    let mut script = Script(data);
    let mut now: u64 = 0;
    let mut out = [0u8; 64];
    while let Some(op) = script.byte() {
        let periph = usize::from(script.byte().unwrap_or(0) % PERIPHERALS);
        // Results are the driver's to interpret; only panics and broken
        // invariants are the board's fault.
        match op % 8 {
            0 => {
                let (reg, value) = (script.word() % 0x40, script.word());
                let _ = board.write_register(periph, reg, value, now);
            }
            1 => {
                let reg = script.word() % 0x40;
                let _ = board.read_register(periph, reg, now);
            }
            2 => {
                let len = usize::from(script.byte().unwrap_or(0)) * 64;
                let _ = board.write_bulk(periph, script.bytes(len), now);
            }
            3 => {
                let len = usize::from(script.byte().unwrap_or(0)) % out.len();
                let _ = board.read_bulk(periph, &mut out[..len], now);
            }
            4 => board.reset(periph),
            5 => {
                now = now.saturating_add(u64::from(script.word() % 100_000));
                board.advance(now);
                // Everything due by now has happened.
                if let Some(deadline) = board.next_deadline()
                    && deadline <= now
                {
                    return Err(Violation::DeadlineInThePast { deadline, now });
                }
            }
            6 => {
                let _ = board.fpga_error(periph);
                let _ = board.take_irqs();
            }
            _ => {
                // A clock that goes backwards: the board keeps its own.
                let back = u64::from(script.byte().unwrap_or(0));
                let _ =
                    board.read_register(periph, 0, now.saturating_sub(back));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{gpio, spi};

    fn fuzz_dir() -> std::path::PathBuf {
        fuzz_replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"))
    }

    /// A script step.
    fn write(s: &mut Vec<u8>, periph: u8, reg: u32, value: u32) {
        s.extend([0, periph]);
        s.extend(reg.to_le_bytes());
        s.extend(value.to_le_bytes());
    }

    fn wait(s: &mut Vec<u8>, us: u32) {
        s.extend([5, 0]);
        s.extend(us.to_le_bytes());
    }

    /// Streams `image` to SPI controller `spi` in 64-byte units.
    fn stream(s: &mut Vec<u8>, spi: u8, image: &[u8]) {
        for chunk in image.chunks(255 * 64) {
            s.extend([2, spi, chunk.len().div_ceil(64) as u8]);
            s.extend(chunk);
        }
    }

    /// The iCE40 sequence (CRESET_B low then high, SS low, stream) and the
    /// 7-series one (PROGRAM_B pulse, stream), as the drivers do them,
    /// with the first 8 KiB of real images.
    fn seeds() -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../test/bitstreams");
        let hx1k = std::fs::read(dir.join("ice40-hx1k-blinky.bin")).unwrap();
        let xc7 = std::fs::read(dir.join("xc7a35t-blinky.bin")).unwrap();
        let mut ice = Vec::new();
        write(&mut ice, 2, gpio::DIR, 1);
        write(&mut ice, 2, gpio::OUT, 0);
        wait(&mut ice, 10);
        write(&mut ice, 1, spi::CTRL, spi::CTRL_CS);
        write(&mut ice, 2, gpio::OUT, 1);
        wait(&mut ice, 1200);
        stream(&mut ice, 1, &hx1k[..8192]);
        let mut xilinx = Vec::new();
        write(&mut xilinx, 5, gpio::DIR, 1);
        write(&mut xilinx, 5, gpio::OUT, 0);
        wait(&mut xilinx, 10);
        write(&mut xilinx, 5, gpio::OUT, 1);
        wait(&mut xilinx, 5000);
        write(&mut xilinx, 4, spi::CTRL, spi::CTRL_CS);
        stream(&mut xilinx, 4, &xc7[..8192]);
        vec![("ice40-config".into(), ice), ("xc7-config".into(), xilinx)]
    }

    #[test]
    fn the_checked_in_corpus_replays_clean() {
        fuzz_replay::bless(&fuzz_dir(), "board", &seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "board", run);
        assert!(n >= seeds().len(), "only {n} inputs replayed");
    }

    #[test]
    fn the_harness_board_is_the_default_image_layout() {
        assert!(default_board().is_ok());
    }
}
