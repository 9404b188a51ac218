//! A test rig: a board with one FPGA, an SPI controller and a GPIO block,
//! and the register pokes a driver makes, with a simulated clock.
#![allow(dead_code)]

use serde_json::json;
use sim_devices::{Board, gpio, spi};
use std::path::PathBuf;

pub const FPGA: usize = 0;
pub const SPI: usize = 1;
pub const GPIO: usize = 2;

pub fn bitstream(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../test/bitstreams")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub struct Rig {
    pub board: Board,
    pub now: u64,
}

impl Rig {
    /// `lines` = pin names for GPIO lines 0, 1, 2 ...
    pub fn new(model: &str, lines: &[&str]) -> Rig {
        let lines: serde_json::Map<_, _> = lines
            .iter()
            .enumerate()
            .map(|(i, p)| (i.to_string(), json!(p)))
            .collect();
        let board = Board::new(&[
            ("fpga".into(), model.into(), json!({})),
            (
                "spi".into(),
                "spi-controller".into(),
                json!({"device": "fpga"}),
            ),
            (
                "gpio".into(),
                "gpio".into(),
                json!({"device": "fpga", "lines": lines}),
            ),
        ])
        .expect("valid board");
        Rig { board, now: 10_000 }
    }

    pub fn sleep(&mut self, us: u64) {
        self.now += us;
    }

    pub fn read(&mut self, periph: usize, reg: u32) -> u32 {
        self.board
            .read_register(periph, reg, self.now)
            .expect("read")
    }

    pub fn write(&mut self, periph: usize, reg: u32, value: u32) {
        self.board
            .write_register(periph, reg, value, self.now)
            .expect("write")
    }

    /// Drives GPIO line `n` as an output at `level`.
    pub fn set_line(&mut self, n: u32, level: bool) {
        let out = self.read(GPIO, gpio::OUT);
        let out = if level { out | 1 << n } else { out & !(1 << n) };
        self.write(GPIO, gpio::OUT, out);
        let dir = self.read(GPIO, gpio::DIR);
        self.write(GPIO, gpio::DIR, dir | 1 << n);
    }

    pub fn line(&mut self, n: u32) -> bool {
        self.read(GPIO, gpio::IN) >> n & 1 != 0
    }

    pub fn cs(&mut self, asserted: bool) {
        let ctrl = self.read(SPI, spi::CTRL) & !spi::CTRL_CS;
        self.write(SPI, spi::CTRL, ctrl | asserted as u32);
    }

    /// `spi_write`: chip select around one transfer per chunk.
    pub fn spi_write(&mut self, data: &[u8], chunk: usize) {
        for piece in data.chunks(chunk) {
            self.cs(true);
            self.board.write_bulk(SPI, piece, self.now).expect("bulk");
            self.cs(false);
        }
    }

    pub fn debug(&mut self, reg: u32) -> u32 {
        self.read(FPGA, reg)
    }
}
