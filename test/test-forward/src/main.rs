//! The far end of forwarded leases ([`ForwardOp`]): the assistant lends
//! us part of a lease its client lent it, and we borrow through the chain.
//!
//! We are also the task without a peripheral grant: `PeripheralRead` must
//! fault us.

#![no_std]
#![no_main]

use test_api::*;
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));

// test-api's mask must name our notification as kernel.toml orders it.
const _: () = assert!(notifications::GO_MASK == FORWARD_GO_MASK);

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut buf = [0u8; 16];
    let mut report = HoldReport::default();
    loop {
        let m = sys_recv_open(&mut buf, 0);
        let n = (m.message_len as usize).min(buf.len());
        let data = &buf[..n];
        match ForwardOp::try_from(m.operation).ok() {
            Some(ForwardOp::Read) => read(&m),
            Some(ForwardOp::Hold) => report = hold(&m),
            Some(ForwardOp::Report) => reply(&m, 0, &report.to_bytes()),
            Some(ForwardOp::PeripheralRead) => {
                let v = sys_read_register(word(data, 0) as u16, word(data, 1));
                reply(&m, 0, &v.to_le_bytes());
            }
            None => {
                sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation)
            }
        }
    }
}

fn reply(m: &RecvMessage, code: u32, data: &[u8]) {
    if (m.response_capacity as usize) < data.len() {
        sys_reply_fault(m.sender, ReplyFaultReason::ReplyBufferTooSmall);
    } else {
        sys_reply(m.sender, code, data);
    }
}

/// Replies `(attributes, length)` of lease 0 and its bytes, with the
/// BORROW_READ response code; `DEFECT` and nothing if the lease is gone.
fn read(m: &RecvMessage) {
    if m.lease_count < 1 {
        sys_reply_fault(m.sender, ReplyFaultReason::BadLeases);
        return;
    }
    let Some(info) = sys_borrow_info(m.sender, 0) else {
        reply(m, DEFECT, &[]);
        return;
    };
    let mut out = [0u8; 8 + 64];
    out[..4].copy_from_slice(&info.attributes.0.to_le_bytes());
    out[4..8].copy_from_slice(&(info.len as u32).to_le_bytes());
    let want = info.len.min(64);
    let (rc, n) = sys_borrow_read(m.sender, 0, 0, &mut out[8..8 + want]);
    reply(m, rc, &out[..8 + n.min(want)]);
}

/// Borrows lease 0, waits for the suite's go (it kills the original
/// lender meanwhile), borrows again, and answers the assistant.
fn hold(m: &RecvMessage) -> HoldReport {
    let mut r = HoldReport::default();
    if m.lease_count < 1 {
        sys_reply_fault(m.sender, ReplyFaultReason::BadLeases);
        return r;
    }
    let (rc, n) = sys_borrow_read(m.sender, 0, 0, &mut r.data);
    r.before = (rc, n as u32);
    sys_recv_notification(FORWARD_GO_MASK);
    let mut again = [0u8; 16];
    let (rc, n) = sys_borrow_read(m.sender, 0, 0, &mut again);
    r.after = (rc, n as u32);
    r.info_after = sys_borrow_info(m.sender, 0).is_some();
    sys_reply(m.sender, 0, &[]);
    r
}
