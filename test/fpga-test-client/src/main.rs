//! A second client of the FPGA manager, for the cases where a client
//! other than the suite holds a lock or dies in the middle of a load
//! (`test_lock_holder_dies`, `test_client_dies_mid_load`).
//!
//! It serves [`ClientOp`]s from the suite and answers each at once, doing
//! the work (a load) afterwards, so that the suite is free to watch it
//! and fault it while the manager serves it. It uses the raw client, not
//! the lock guards: it holds locks across messages on purpose.

#![no_std]
#![no_main]

use drv_fpga_api::FpgaManager;
use fpga_test_api::*;
use userlib::*;

task_slot!(FPGA_MGR, fpga_mgr);

/// The iCE40 image behind the driver's SLOW magic: copied at start.
static mut SLOW: [u8; 16 + 32 * 1024] = [0; 16 + 32 * 1024];

fn code(r: Result<(), drv_fpga_api::FpgaError>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(e) => e as u32,
    }
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let ice40: &'static [u8] = blob!(ice40_blinky);
    let xc7: &'static [u8] = blob!(xc7_blinky);
    // Safety: the only reference to SLOW, taken once, before anything
    // else runs in this single-threaded task.
    let slow: &'static mut [u8; 16 + 32 * 1024] =
        unsafe { &mut *core::ptr::addr_of_mut!(SLOW) };
    let slow_len = 16 + ice40.len().min(slow.len() - 16);
    slow[..16].copy_from_slice(&magic::SLOW);
    slow[16..slow_len].copy_from_slice(&ice40[..slow_len - 16]);
    let slow: &[u8] = &slow[..slow_len];

    let mgr = FpgaManager::from(FPGA_MGR.get_task_id());
    let mut last = NO_RESULT;
    let mut held = [false; 2];
    let mut buf = [0u8; 16];
    loop {
        let m = sys_recv_open(&mut buf, 0);
        let data = &buf[..(m.message_len as usize).min(buf.len())];
        let Some(op) = ClientOp::try_from(m.operation).ok() else {
            sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
            continue;
        };
        let device = word(data, 0) as u8;
        let slot = usize::from(device).min(1);
        match op {
            ClientOp::Lock => {
                let r = code(mgr.lock(device));
                held[slot] |= r == 0;
                sys_reply(m.sender, 0, &r.to_le_bytes());
            }
            ClientOp::Release => {
                let r = code(mgr.release(device));
                held[slot] = false;
                sys_reply(m.sender, 0, &r.to_le_bytes());
            }
            ClientOp::Result => sys_reply(m.sender, 0, &last.to_le_bytes()),
            ClientOp::BridgeGet => {
                let r = code(mgr.bridge_get(device));
                sys_reply(m.sender, 0, &r.to_le_bytes());
            }
            ClientOp::BridgePut => {
                let r = code(mgr.bridge_put(device));
                sys_reply(m.sender, 0, &r.to_le_bytes());
            }
            ClientOp::Load => {
                sys_reply(m.sender, 0, &0u32.to_le_bytes());
                let image = match ClientImage::try_from(word(data, 1)).ok() {
                    Some(ClientImage::Ice40) => ice40,
                    Some(ClientImage::Xc7) => xc7,
                    Some(ClientImage::Ice40Slow) => slow,
                    None => &[],
                };
                if !held[slot] {
                    let r = code(mgr.lock(device));
                    held[slot] = r == 0;
                }
                let (flags, timeout) = (word(data, 2), word(data, 3));
                last = code(mgr.load(device, flags, timeout, image));
            }
            ClientOp::LoadByName => {
                sys_reply(m.sender, 0, &0u32.to_le_bytes());
                let name = NamedImage::try_from(word(data, 1))
                    .ok()
                    .map_or("", NamedImage::name);
                if !held[slot] {
                    let r = code(mgr.lock(device));
                    held[slot] = r == 0;
                }
                let (flags, timeout) = (word(data, 2), word(data, 3));
                last = code(mgr.load_by_name(
                    device,
                    flags,
                    timeout,
                    name.as_bytes(),
                ));
            }
        }
    }
}
