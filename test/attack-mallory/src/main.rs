//! Mallory: the attack image's attacker. It parks in a SEND of
//! [`MalloryOp::Ready`] to the suite; the reply is its next [`Job`], an
//! attack most of which get it faulted (which is the point: the suite
//! checks the exact fault). A job it survives ends with a
//! [`MalloryOp::Report`] of what it saw.

#![no_std]
#![no_main]

use attack_api::*;
use userlib::*;

task_slot!(SUITE, suite);
task_slot!(SRV, srv);

/// Data in our flash (`.rodata`), for leases and buffers that must not be
/// writable.
static FLASH_DATA: [u8; 16] = *b"mallory's flash!";

unsafe extern "C" {
    /// The start of our RAM; the guard page is just below (link script).
    static __ram_base: u8;
}

fn flash_address() -> u32 {
    core::hint::black_box(&FLASH_DATA).as_ptr() as usize as u32
}

fn ram_base() -> u32 {
    (&raw const __ram_base) as usize as u32
}

fn address<T>(p: *const T) -> u32 {
    p as usize as u32
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    loop {
        let Some((job, arg)) = next_job() else {
            continue;
        };
        let report = attack(job, arg);
        let mut msg = [0u8; 16];
        let msg = words(&mut msg, &report);
        sys_send(
            SUITE.get_task_id(),
            MalloryOp::Report as u16,
            msg,
            &mut [],
            &[],
        );
    }
}

/// The suite's reply to our `Ready`; `None` if the suite died meanwhile.
fn next_job() -> Option<(Job, u32)> {
    let mut job = [0u8; 8];
    let suite = SUITE.get_task_id();
    let (rc, _) = sys_send(suite, MalloryOp::Ready as u16, &[], &mut job, &[]);
    if rc != 0 {
        hl::sleep_for(1);
        return None;
    }
    Some((Job::try_from(word(&job, 0)).ok()?, word(&job, 1)))
}

/// A raw SEND to `srv` with any lease table: `(response code, first
/// reply word)`.
fn send_srv(
    message: &[u32],
    reply_to: (u32, u32),
    table: (u32, u32),
) -> [u32; 2] {
    let mut bytes = [0u8; 48];
    let out = words(&mut bytes, message);
    let target = u32::from(SRV.get_task_id().0) << 16 | ServerOp::Puppet as u32;
    let args = [
        target,
        address(out.as_ptr()),
        out.len() as u32,
        reply_to.0,
        reply_to.1,
        table.0,
        table.1,
        0,
    ];
    let rets = raw::syscall(Sysnum::Send as u32, args);
    [rets[0], rets[1]]
}

/// Sends `message` to `srv` lending `data` read-only; returns the codes.
fn lend_read(message: &[u32], data: &[u8]) -> [u32; 4] {
    let table = entry_words(ULease::new(
        LeaseAttributes::READ,
        address(data.as_ptr()),
        data.len() as u32,
    ));
    let mut reply = [0u8; 8];
    let reply_to = (address(reply.as_mut_ptr()), 8);
    let [rc, _] = send_srv(message, reply_to, (address(table.as_ptr()), 1));
    core::hint::black_box(&table);
    [rc, word(&reply, 0), word(&reply, 1), 0]
}

fn attack(job: Job, arg: u32) -> [u32; 4] {
    let me = sys_refresh_task_id(TaskId::for_index_and_gen(
        test_api::tasks::THIS_TASK,
        Generation::ZERO,
    ));
    let data = [0x5Au8; 16];
    match job {
        Job::Describe => [flash_address(), ram_base(), u32::from(me.0), 0],
        Job::RewriteOwnTable => rewrite_own_table(arg, &data),
        Job::SendBadLease => send_bad_lease(arg),
        Job::ForwardedRewrite => {
            let f = entry_words(forward_of(me, RW, 0, 16));
            let inner = [
                Action::RewriteThenBorrow as u32,
                1,
                0,
                0,
                16,
                0,
                f[0],
                f[1],
                f[2],
            ];
            let mut message = [
                Action::Forward as u32,
                LeaseAttributes::READ.0,
                0,
                16,
                1,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ];
            message[5..].copy_from_slice(&inner);
            lend_read(&message, &data)
        }
        Job::ForwardWider => {
            let (rights, offset) = if arg == 0 {
                (RW.0, 0)
            } else {
                (LeaseAttributes::READ.0, 8)
            };
            let message = [
                Action::Forward as u32,
                rights,
                offset,
                16,
                0,
                Action::BorrowAt as u32,
                0,
                0,
                16,
            ];
            lend_read(&message, &data)
        }
        Job::Post => {
            let target = sys_refresh_task_id(TaskId::for_index_and_gen(
                (arg & 0xFFFF) as usize,
                Generation::ZERO,
            ));
            [sys_post(target, 1 << (arg >> 16)), 0, 0, 0]
        }
        Job::ReinitSupervisor => {
            kipc::reinit_task(0, true);
            [0; 4]
        }
        Job::BadKipc => {
            let (op, message): (u32, &[u8]) = match arg {
                0 => (1, &[]),
                1 => (1, &[0xE7, 3, 0, 0]),
                _ => (200, &[0, 0, 0, 0]),
            };
            let mut reply = [0u8; 16];
            let target = u32::from(TaskId::KERNEL.0) << 16 | op;
            let args = [
                target,
                address(message.as_ptr()),
                message.len() as u32,
                address(reply.as_mut_ptr()),
                16,
                0,
                0,
                0,
            ];
            let rets = raw::syscall(Sysnum::Send as u32, args);
            [rets[0], 0, 0, 0]
        }
        Job::RecvIntoFlash => {
            let rets = raw::syscall(
                Sysnum::Recv as u32,
                [flash_address(), 16, 0, 0, 0, 0, 0, 0],
            );
            [rets[0], 0, 0, 0]
        }
        Job::ReplyIntoFlash => {
            let ping = [0u8; 4];
            let target =
                u32::from(SRV.get_task_id().0) << 16 | ServerOp::Ping as u32;
            let args = [
                target,
                address(ping.as_ptr()),
                4,
                flash_address(),
                4,
                0,
                0,
                0,
            ];
            let rets = raw::syscall(Sysnum::Send as u32, args);
            [rets[0], 0, 0, 0]
        }
        Job::BadSyscallNumber => {
            let number = if arg == 0 { 99 } else { arg };
            let rets = raw::syscall(number, [0; 8]);
            [rets[0], 0, 0, 0]
        }
        Job::FrameInFlash => {
            raw::syscall_with_frame(
                Sysnum::GetTimer as u32,
                u64::from(flash_address()),
            );
            [0; 4]
        }
        Job::HugeOffset => {
            lend_read(&[Action::BorrowAt as u32, 0, u32::MAX, 4], &data)
        }
        Job::OversizedReply => {
            let mut reply = [0u8; 4];
            let reply_to = (address(reply.as_mut_ptr()), 4);
            let [rc, _] =
                send_srv(&[Action::ReplyTooBig as u32], reply_to, (0, 0));
            [rc, 0, 0, 0]
        }
        Job::PeripheralPastWindow => {
            lend_read(&[Action::PeripheralFromLease as u32, 17], &data)
        }
        Job::HashPastWindow => {
            lend_read(&[Action::HashFromLease as u32, 0, 17], &data)
        }
        Job::HashNoGrant => {
            let status = sys_read_register(HASH_DEVICE, 0x04);
            [status, 0, 0, 0]
        }
        Job::HashTwice => lend_read(&[Action::HashTwice as u32], &data),
        Job::HashLenderDies => {
            let big = address(BIG.as_ptr().cast::<u8>());
            let table =
                entry_words(ULease::new(LeaseAttributes::READ, big, BIG_LEASE));
            let mut reply = [0u8; 8];
            let reply_to = (address(reply.as_mut_ptr()), 8);
            let message = [Action::HashStart as u32];
            send_srv(&message, reply_to, (address(table.as_ptr()), 1));
            core::hint::black_box(&table);
            // The engine may still be reading our RAM: die now, so the
            // kernel restarts us (fresh RAM) under its feet.
            sys_panic(b"lender dies while the hash engine reads");
        }
        Job::HashData => {
            lend_read(&[Action::HashFromLease as u32, 0, 16], &data)
        }
    }
}

/// RAM we lend the hash engine in [`Job::HashLenderDies`]: atomics, so
/// that it is writable memory (`.bss`), not flash.
static BIG: [core::sync::atomic::AtomicU32; BIG_LEASE as usize / 4] =
    [const { core::sync::atomic::AtomicU32::new(0) }; BIG_LEASE as usize / 4];

/// Lends `srv` our own lease table, writable, as lease 0, and `data` as
/// lease 1; `srv` rewrites entry 1 to the forged entry and borrows
/// through it (writing when the forgery aims at our flash).
fn rewrite_own_table(kind: u32, data: &[u8]) -> [u32; 4] {
    let mut table = [0u32; 6];
    let table_address = address(table.as_ptr());
    table[..3].copy_from_slice(&entry_words(ULease::new(
        RW,
        table_address,
        24,
    )));
    let lent = ULease::new(
        LeaseAttributes::READ,
        address(data.as_ptr()),
        data.len() as u32,
    );
    table[3..].copy_from_slice(&entry_words(lent));
    let forged = entry_words(forged_entry(kind, flash_address(), ram_base()));
    let write = u32::from(kind == forged::INTO_FLASH);
    let message = [
        Action::RewriteThenBorrow as u32,
        0,
        12,
        1,
        16,
        write,
        forged[0],
        forged[1],
        forged[2],
    ];
    let mut reply = [0u8; 8];
    let reply_to = (address(reply.as_mut_ptr()), 8);
    let [rc, _] = send_srv(&message, reply_to, (table_address, 2));
    core::hint::black_box(&mut table);
    [rc, word(&reply, 0), word(&reply, 1), 0]
}

/// SENDs `srv` a lease that is bad at SEND time.
fn send_bad_lease(kind: u32) -> [u32; 4] {
    let mut raw_table = [0u32; 4];
    let entry = match kind {
        bad_lease::WRAPPING => {
            ULease::new(LeaseAttributes::READ, 0xFFFF_FFF0, 0x20)
        }
        bad_lease::GUARD => {
            ULease::new(LeaseAttributes::READ, ram_base() - GUARD_OFFSET, 16)
        }
        bad_lease::WRITE_TO_FLASH => {
            ULease::new(LeaseAttributes::WRITE, flash_address(), 16)
        }
        bad_lease::UNDEFINED_BITS => ULease {
            attributes: 0x10,
            base_address: ram_base(),
            length: 4,
        },
        _ => ULease::new(LeaseAttributes::READ, ram_base(), 4),
    };
    raw_table[..3].copy_from_slice(&entry_words(entry));
    let mut table_address = address(raw_table.as_ptr());
    if kind == bad_lease::MISALIGNED_TABLE {
        table_address += 1;
    }
    let mut reply = [0u8; 8];
    let reply_to = (address(reply.as_mut_ptr()), 8);
    let [rc, _] = send_srv(
        &[Action::BorrowAt as u32, 0, 0, 4],
        reply_to,
        (table_address, 1),
    );
    core::hint::black_box(&mut raw_table);
    [rc, 0, 0, 0]
}
