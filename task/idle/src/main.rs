//! The idle task: the least important task in every image.
//!
//! On a microcontroller it sleeps the CPU until the next interrupt, as
//! Hubris's does: it must always be runnable, since the kernel runs it
//! when nothing else can run. Hosted, every task is a process Linux
//! schedules, so idle simply waits for a notification that never comes,
//! costing nothing.

#![no_std]
#![no_main]

// userlib's panic handler and `_start`, on both boards.
use userlib as _;

#[unsafe(export_name = "main")]
fn main() -> ! {
    loop {
        #[cfg(target_arch = "arm")]
        // Safety: `wfi` waits for an interrupt; it touches no memory.
        unsafe {
            core::arch::asm!("wfi", options(nomem, nostack))
        };
        #[cfg(not(target_arch = "arm"))]
        userlib::sys_recv_notification(0);
    }
}
