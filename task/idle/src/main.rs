//! The idle task: the least important task in every image.
//!
//! On a microcontroller it would sleep the CPU. Hosted, every task is a
//! process Linux schedules, so idle simply waits for a notification that
//! never comes, costing nothing.

#![no_std]
#![no_main]

#[unsafe(export_name = "main")]
fn main() -> ! {
    loop {
        userlib::sys_recv_notification(0);
    }
}
