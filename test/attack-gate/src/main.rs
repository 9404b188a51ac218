//! The gate: waits for ever. The host side faults it through the debug
//! probe when its cases are done, which tells the runner to stop.

#![no_std]
#![no_main]

#[unsafe(export_name = "main")]
fn main() -> ! {
    loop {
        userlib::sys_recv_notification(0);
    }
}
