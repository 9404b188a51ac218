//! IPC benchmark server: op 0 replies at once (the null round trip); op 1
//! borrows all of lease 0 into its own buffer (1 MiB hosted, 64 KiB on
//! the Cortex-M board, whose RAM is 4 MiB in all), then replies; op 2
//! switches the loop from RECV + REPLY (three traps per round trip with
//! the client's SEND) to REPLY_RECV (two), so that one boot measures both.

#![no_std]
#![no_main]

use userlib::*;

/// Bytes a borrow moves (the client's `SOURCE_LEN`).
#[cfg(not(target_arch = "arm"))]
const SINK_LEN: usize = 1 << 20;
#[cfg(target_arch = "arm")]
const SINK_LEN: usize = 64 << 10;

/// Where borrowed bytes land; a static so it lives in RAM, not the stack.
static mut SINK: [u8; SINK_LEN] = [0; SINK_LEN];

#[unsafe(export_name = "main")]
fn main() -> ! {
    // Safety: this task is single-threaded and only ever touches SINK here.
    let sink = unsafe { &mut *core::ptr::addr_of_mut!(SINK) };
    let mut combined = false;
    // With REPLY_RECV, the answer to one message goes out with the next
    // receive.
    let mut pending: Option<Reply<'static>> = None;
    loop {
        let msg = if combined {
            match sys_reply_recv(pending.take(), &mut [], 0, None) {
                Ok(msg) => msg,
                // Only a closed receive can fail; ours is open.
                Err(_) => continue,
            }
        } else {
            sys_recv_open(&mut [], 0)
        };
        let code = match msg.operation {
            0 => 0,
            1 => {
                let (rc, n) = sys_borrow_read(msg.sender, 0, 0, sink);
                if rc == 0 { n as u32 } else { rc }
            }
            2 => {
                combined = true;
                0
            }
            _ => u32::MAX,
        };
        if combined {
            pending = Some(Reply {
                peer: msg.sender,
                code,
                message: &[],
            });
        } else {
            sys_reply(msg.sender, code, &[]);
        }
    }
}
