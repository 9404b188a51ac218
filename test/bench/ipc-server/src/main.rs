//! IPC benchmark server: op 0 replies at once (the null round trip); op 1
//! borrows all of lease 0 into its own 1 MiB buffer, then replies.

#![no_std]
#![no_main]

use userlib::*;

/// Where borrowed bytes land; a static so it lives in RAM, not the stack.
static mut SINK: [u8; 1 << 20] = [0; 1 << 20];

#[unsafe(export_name = "main")]
fn main() -> ! {
    // Safety: this task is single-threaded and only ever touches SINK here.
    let sink = unsafe { &mut *core::ptr::addr_of_mut!(SINK) };
    loop {
        let msg = sys_recv_open(&mut [], 0);
        let code = match msg.operation {
            0 => 0,
            1 => {
                let (rc, n) = sys_borrow_read(msg.sender, 0, 0, sink);
                if rc == 0 { n as u32 } else { rc }
            }
            _ => u32::MAX,
        };
        sys_reply(msg.sender, code, &[]);
    }
}
