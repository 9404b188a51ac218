//! A puppet server for the attack image: it does to a client's leases
//! exactly what the client's message says ([`Action`]), so the suite can
//! play a malicious (or careless) server on demand, and it remembers the
//! response codes it got so the suite can check them. Two tasks run this
//! crate: `srv` (which may forward to `far`) and `far`.

#![no_std]
#![no_main]

use attack_api::*;
use userlib::*;

/// The peripheral `PeripheralFromLease` streams to: the image's only one,
/// which `srv` uses.
const DEVICE: u16 = 0;

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut last = [0u32; 2];
    let mut buf = [0u8; 64];
    loop {
        let m = sys_recv_open(&mut buf, 0);
        let n = (m.message_len as usize).min(buf.len());
        let msg = &buf[..n];
        match ServerOp::try_from(m.operation).ok() {
            Some(ServerOp::Puppet) => {
                let Some(result) = puppet(m.sender, msg, &m) else {
                    continue;
                };
                last = result;
                let mut out = [0u8; 8];
                sys_reply(m.sender, 0, words(&mut out, &last));
            }
            Some(ServerOp::LastResult) => {
                let mut out = [0u8; 8];
                sys_reply(m.sender, 0, words(&mut out, &last));
            }
            Some(ServerOp::Ping) => {
                let x = !word(msg, 0);
                sys_reply(m.sender, 0, &x.to_le_bytes());
            }
            None => {
                sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation)
            }
        }
    }
}

/// Does the action; `None` if it already replied (or must not).
fn puppet(client: TaskId, msg: &[u8], m: &RecvMessage) -> Option<[u32; 2]> {
    let w = |i| word(msg, i);
    match Action::try_from(w(0)).ok()? {
        Action::RewriteThenBorrow => {
            let mut forged = [0u8; 12];
            words(&mut forged, &[w(6), w(7), w(8)]);
            let (rc1, _) =
                sys_borrow_write(client, w(1) as usize, w(2) as usize, &forged);
            let mut data = [0u8; 16];
            let len = (w(4) as usize).min(data.len());
            let (rc2, _) = if w(5) != 0 {
                sys_borrow_write(client, w(3) as usize, 0, &data[..len])
            } else {
                sys_borrow_read(client, w(3) as usize, 0, &mut data[..len])
            };
            Some([rc1, rc2])
        }
        Action::BorrowAt => {
            let mut data = [0u8; 16];
            let len = (w(3) as usize).min(data.len());
            let (rc, n) = sys_borrow_read(
                client,
                w(1) as usize,
                w(2) as usize,
                &mut data[..len],
            );
            Some([rc, n as u32])
        }
        #[cfg(feature = "forwarder")]
        Action::Forward => Some(forward(client, msg)),
        #[cfg(not(feature = "forwarder"))]
        Action::Forward => Some([u32::MAX, 0]),
        Action::ReplyTooBig => {
            sys_reply(client, 0, &[0xAA; 64]);
            None
        }
        Action::PeripheralFromLease => {
            let _ = m;
            let rc = sys_write_bulk_from_lease(DEVICE, client, 0, 0, w(1));
            Some([rc, 0])
        }
        Action::HashFromLease => {
            sys_write_register(HASH_DEVICE, hash::CTRL, hash::CTRL_INIT);
            let rc =
                sys_write_bulk_from_lease(HASH_DEVICE, client, 0, w(1), w(2));
            if rc != 0 {
                return Some([rc, u32::MAX]);
            }
            hash_idle();
            let d0 = sys_read_register(HASH_DEVICE, hash::DIGEST0);
            let d1 = sys_read_register(HASH_DEVICE, hash::DIGEST0 + 4);
            Some([d0, d1])
        }
        Action::HashTwice => {
            sys_write_register(HASH_DEVICE, hash::CTRL, hash::CTRL_INIT);
            let len = lease_len(client);
            sys_write_bulk_from_lease(HASH_DEVICE, client, 0, 0, len);
            // DONE (or BUSY) is still set: the engine refuses, we fault.
            let rc = sys_write_bulk_from_lease(HASH_DEVICE, client, 0, 0, len);
            Some([rc, 0])
        }
        Action::HashStart => {
            sys_write_register(HASH_DEVICE, hash::CTRL, hash::CTRL_INIT);
            let len = lease_len(client);
            let rc = sys_write_bulk_from_lease(HASH_DEVICE, client, 0, 0, len);
            Some([rc, sys_read_register(HASH_DEVICE, hash::STATUS)])
        }
        Action::HashReport => {
            let status = hash_idle();
            Some([status, sys_read_register(HASH_DEVICE, hash::COUNT)])
        }
    }
}

/// The hash engine's registers (`drv_board_io::regs::sha256_engine`).
mod hash {
    pub use drv_board_io::regs::sha256_engine::*;
}

/// Lease 0's length, or 0 if there is none.
fn lease_len(client: TaskId) -> u32 {
    sys_borrow_info(client, 0).map_or(0, |i| i.len as u32)
}

/// Waits (polling every millisecond, at most 10 s) until the hash engine
/// is not busy; returns its STATUS.
fn hash_idle() -> u32 {
    let mut status = sys_read_register(HASH_DEVICE, hash::STATUS);
    for _ in 0..10_000 {
        if status & hash::STATUS_BUSY == 0 {
            break;
        }
        hl::sleep_for(1);
        status = sys_read_register(HASH_DEVICE, hash::STATUS);
    }
    status
}

/// Forwards part of the client's lease 0 to `far` with the inner action;
/// if asked, lends `far` our own lease table too (writable), which is our
/// mistake to make. Returns `far`'s response code and its first word.
#[cfg(feature = "forwarder")]
fn forward(client: TaskId, msg: &[u8]) -> [u32; 2] {
    let w = |i| word(msg, i);
    let rights = LeaseAttributes(w(1));
    let entry = forward_of(client, rights, w(2), w(3));
    let lend_table = w(4) != 0;
    // The table as raw words, so that it can lend itself.
    let mut table = [0u32; 6];
    table[..3].copy_from_slice(&entry_words(entry));
    let table_address = table.as_ptr() as usize as u32;
    let own = ULease::new(RW, table_address, 24);
    table[3..].copy_from_slice(&entry_words(own));
    let inner = msg.get(20..).unwrap_or(&[]);
    let mut reply = [0u8; 8];
    let far = FAR.get_task_id();
    let rets = raw::syscall(
        Sysnum::Send as u32,
        [
            (far.0 as u32) << 16 | ServerOp::Puppet as u32,
            inner.as_ptr() as usize as u32,
            inner.len() as u32,
            reply.as_mut_ptr() as usize as u32,
            reply.len() as u32,
            table_address,
            if lend_table { 2 } else { 1 },
            0,
        ],
    );
    // Keep the table alive (and its writes visible) across the call.
    core::hint::black_box(&mut table);
    [rets[0], word(&reply, 1)]
}

#[cfg(feature = "forwarder")]
task_slot!(FAR, far);
