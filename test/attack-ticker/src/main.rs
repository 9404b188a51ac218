//! A task whose timer fires every 2 ms, for ever: its syscall count, in
//! the kernel's task table, shows that timers keep firing while attackers
//! do their worst.

#![no_std]
#![no_main]

#[unsafe(export_name = "main")]
fn main() -> ! {
    loop {
        userlib::hl::sleep_for(2);
    }
}
