//! The driver's server stub and wiring (`config.rs`), from app.toml:
//!
//! ```toml
//! [tasks.ecp5]
//! name = "drv-ecp5-spi"
//! uses = ["spi-ecp5", "gpio-ecp5"]
//! post-to = ["fpga_mgr"]
//! config = { spi = "spi-ecp5", gpio = "gpio-ecp5", programn = 0,
//!            initn = 1, done = 2, manager = "fpga_mgr",
//!            announce-notification = "ecp5-up" }
//! ```
//!
//! The lines are Linux lattice-sysconfig's `program-gpios`, `init-gpios`
//! and `done-gpios`; the SPI controller carries the sysCONFIG port (CCLK,
//! SI, SO, CSSPIN).

use build_util::driver::{Line, build_driver};

fn main() {
    build_driver(&[
        Line::required("programn"),
        Line::required("initn"),
        Line::required("done"),
    ]);
}
