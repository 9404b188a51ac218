//! The driver's server stub and wiring (`config.rs`), from app.toml:
//!
//! ```toml
//! [tasks.xc7]
//! name = "drv-xc7-spi"
//! uses = ["spi-xc7", "gpio-xc7"]
//! post-to = ["fpga_mgr"]
//! config = { spi = "spi-xc7", gpio = "gpio-xc7", program-b = 0,
//!            init-b = 1, done = 2, manager = "fpga_mgr",
//!            announce-notification = "xc7-up" }
//! ```
//!
//! The lines are Linux's `prog_b-gpios`, `init-b-gpios` and `done-gpios`;
//! INIT_B is required, unlike Linux: without it a failed load cannot be
//! told from a short one.

use build_util::driver::{Line, build_driver};

fn main() {
    build_driver(&[
        Line::required("program-b"),
        Line::required("init-b"),
        Line::required("done"),
    ]);
}
