//! The console: UART0 of the MPS2 (an ARM CMSDK APB UART), which QEMU
//! connects to its standard output. Only the kernel writes to it; tasks
//! print through kipc `console_write`.

use core::fmt::Write;

const UART0: usize = 0x4000_4000;
const DATA: usize = UART0;
const STATE: usize = UART0 + 0x4;
const CTRL: usize = UART0 + 0x8;
const BAUDDIV: usize = UART0 + 0x10;
const STATE_TX_FULL: u32 = 1;
const CTRL_TX_ENABLE: u32 = 1;

/// Enables the transmitter. Called once at boot.
pub fn init() {
    // Safety: UART0's registers, written by the privileged kernel only.
    unsafe {
        core::ptr::write_volatile(BAUDDIV as *mut u32, 16);
        core::ptr::write_volatile(CTRL as *mut u32, CTRL_TX_ENABLE);
    }
}

fn put(byte: u8) {
    // Safety: as in `init`.
    unsafe {
        while core::ptr::read_volatile(STATE as *const u32) & STATE_TX_FULL != 0
        {
        }
        core::ptr::write_volatile(DATA as *mut u32, u32::from(byte));
    }
}

struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(put);
        Ok(())
    }
}

/// Writes one line.
pub fn line(args: core::fmt::Arguments<'_>) {
    let _ = Uart.write_fmt(args);
    put(b'\n');
}

/// `klog!("...")`: a kernel log line, as the hosted kernel's.
macro_rules! klog {
    ($($arg:tt)*) => {
        $crate::console::line(format_args!("kernel: {}", format_args!($($arg)*)))
    };
}
pub(crate) use klog;
