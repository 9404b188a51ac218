//! The driver's server stub and wiring (`config.rs`), from app.toml:
//!
//! ```toml
//! [tasks.ice40]
//! name = "drv-ice40-spi"
//! uses = ["spi-ice40", "gpio-ice40"]
//! post-to = ["fpga_mgr"]
//! config = { spi = "spi-ice40", gpio = "gpio-ice40", creset-b = 0,
//!            cdone = 1, manager = "fpga_mgr",
//!            announce-notification = "ice40-up" }
//! ```
//!
//! `creset-b` and `cdone` are Linux's `reset-gpios` and `cdone-gpios`;
//! `ss-b` (optional) is a GPIO wired to SPI_SS_B as well as (or instead
//! of) the controller's CS, driven in step with it.

use build_util::driver::{Line, build_driver};

fn main() {
    build_driver(&[
        Line::required("creset-b"),
        Line::required("cdone"),
        Line::optional("ss-b"),
    ]);
}
