//! Pong: answers every message with the same bytes, and counts.

#![no_std]
#![no_main]

use userlib::*;

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut buf = [0u8; 64];
    loop {
        let msg = sys_recv_open(&mut buf, 0);
        let n = (msg.message_len as usize).min(buf.len());
        sys_reply(msg.sender, 0, &buf[..n]);
    }
}
