//! The victim: a server whose death the supervision tests watch.
//!
//! [`VictimOp::Panic`] panics before replying, so the caller is blocked
//! on us when we die and learns of it only through the kernel's dead code.

#![no_std]
#![no_main]

use super_api::{VICTIM_PANIC_MESSAGE, VictimOp};
use userlib::*;

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut buf = [0u8; 4];
    loop {
        let m = sys_recv_open(&mut buf, 0);
        match VictimOp::try_from(m.operation).ok() {
            Some(VictimOp::Ping) => {
                let arg = u32::from_le_bytes(buf);
                sys_reply(m.sender, 0, &arg.wrapping_add(1).to_le_bytes());
            }
            Some(VictimOp::Panic) => panic!("{VICTIM_PANIC_MESSAGE}"),
            None => {
                sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
            }
        }
    }
}
