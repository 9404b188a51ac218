//! hiffy: the debug agent, which makes IPC calls on the debugger's behalf.
//!
//! `humility hiffy -c Iface.op -a k=v` cannot send a message itself: only
//! a task can SEND. So humility writes a request into this task's memory
//! through the kernel's debug probe, bumps a counter, and waits for hiffy
//! to perform the call and write back the result. Hubris's hiffy runs a
//! small bytecode interpreter (HIF); we need one call per request, so the
//! request is simply "send this message to that task".
//!
//! The layout of the statics the debugger reads and writes, and how a call
//! goes, are in [`protocol`].
//!
//! # Why polling
//!
//! A timer poll costs hiffy a wakeup every [`POLL_MS`], and lets the
//! debugger drive it with nothing but memory writes, which work whatever
//! state the rest of the system is in. A debugger streaming an image
//! (`humility fpga load`) makes one call per chunk, back to back; so
//! after a call hiffy looks every [`BUSY_POLL_MS`] for [`BUSY_FOR_MS`],
//! and a stream waits about a millisecond per chunk instead of ten. hiffy is the least important task
//! but idle (it must call more important tasks), so a busy system can
//! starve it; that is why jefe's external controls do not go through it.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU32, Ordering};
use ringbuf::{StaticCell, ringbuf, ringbuf_entry};
use userlib::*;

mod protocol;
use protocol::{
    BUSY_FOR_MS, BUSY_POLL_MS, MAX_LEASES, MESSAGE_MAX, MESSAGE_WORDS,
    NO_LEASE, Outcome, POLL_MS, Request, Status, VERSION, ZERO,
};

include!(concat!(env!("OUT_DIR"), "/hiffy_config.rs"));

// `no_mangle` is the only unsafe thing here: these names must be unique
// in the image's symbol table, which they are (one hiffy per image).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static HIFFY_READY: AtomicU32 = AtomicU32::new(0);

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static HIFFY_KICK: AtomicU32 = AtomicU32::new(0);

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static HIFFY_REQUEST: Request = Request {
    target: ZERO,
    operation: ZERO,
    reply_capacity: ZERO,
    lease_count: ZERO,
    args_length: ZERO,
    leases: [NO_LEASE; MAX_LEASES],
    args: [ZERO; MESSAGE_WORDS],
};

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static HIFFY_RESULT: Outcome = Outcome {
    done: ZERO,
    status: ZERO,
    rc: ZERO,
    reply_length: ZERO,
    reply: [ZERO; MESSAGE_WORDS],
};

/// The lease buffer. hiffy borrows it once, for good, and never reads or
/// writes it itself: only the kernel (copying to or from the callee) and
/// the debugger (through the probe) touch its bytes.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static HIFFY_DATA: StaticCell<[u8; DATA_SIZE]> =
    StaticCell::new([0; DATA_SIZE]);

/// What hiffy did, for `humility ringbuf hiffy`.
#[derive(Copy, Clone, Debug, PartialEq)]
enum Trace {
    None,
    Call { task: TaskId, operation: u16 },
    Refused(Status),
    Replied { rc: u32, length: u32 },
}

ringbuf!(Trace, 16, Trace::None);

// The entry point userlib's `_start` calls; the only other unsafe
// attribute allowed here.
#[allow(unsafe_code)]
#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut data = HIFFY_DATA.borrow_mut();
    HIFFY_READY.store(VERSION, Ordering::Release);
    let mut seen = HIFFY_KICK.load(Ordering::Acquire);
    // Until when we poll every BUSY_POLL_MS (kernel time).
    let mut busy_until = 0;
    loop {
        let now = sys_get_timer().now;
        hl::sleep_for(if now < busy_until {
            BUSY_POLL_MS
        } else {
            POLL_MS
        });
        let kick = HIFFY_KICK.load(Ordering::Acquire);
        if kick == seen {
            continue;
        }
        seen = kick;
        let mut reply = [0u8; MESSAGE_MAX];
        let (status, rc, length) = match call(&mut data[..], &mut reply) {
            Ok((rc, length)) => (Status::Sent, rc, length),
            Err(status) => {
                ringbuf_entry!(Trace::Refused(status));
                (status, 0, 0)
            }
        };
        publish(kick, status, rc, &reply[..length]);
        busy_until = sys_get_timer().now + BUSY_FOR_MS;
    }
}

/// Checks the request and performs the SEND: `(rc, reply length)`.
fn call(
    data: &mut [u8],
    reply: &mut [u8; MESSAGE_MAX],
) -> Result<(u32, usize), Status> {
    let r = &HIFFY_REQUEST;
    let word = |w: &AtomicU32| w.load(Ordering::Relaxed);
    let target =
        u16::try_from(word(&r.target)).map_err(|_| Status::NotCallable)?;
    if !CALLABLE.contains(&target) {
        return Err(Status::NotCallable);
    }
    let operation =
        u16::try_from(word(&r.operation)).map_err(|_| Status::BadRequest)?;
    let capacity = word(&r.reply_capacity) as usize;
    let args_length = word(&r.args_length) as usize;
    let count = word(&r.lease_count) as usize;
    if capacity > MESSAGE_MAX || args_length > MESSAGE_MAX || count > MAX_LEASES
    {
        return Err(Status::BadRequest);
    }
    let mut args = [0u8; MESSAGE_MAX];
    for (chunk, w) in args.chunks_exact_mut(4).zip(&r.args) {
        chunk.copy_from_slice(&word(w).to_le_bytes());
    }
    let mut table = [Lease::read_only(&[]); MAX_LEASES];
    // What is left of the buffer, and where it starts in it: each lease
    // is cut from the front of the rest, so no two overlap.
    let mut rest = data;
    let mut at = 0usize;
    for (slot, l) in table.iter_mut().zip(&r.leases).take(count) {
        let offset = word(&l.offset) as usize;
        let length = word(&l.length) as usize;
        let skip = offset.checked_sub(at).ok_or(Status::BadRequest)?;
        let end = skip.checked_add(length).ok_or(Status::BadRequest)?;
        if end > rest.len() {
            return Err(Status::BadRequest);
        }
        let (lent, tail) = core::mem::take(&mut rest).split_at_mut(end);
        let lent = &mut lent[skip..];
        rest = tail;
        at = offset + length;
        *slot = match word(&l.kind) {
            1 => Lease::read_only(lent),
            2 => Lease::write_only(lent),
            3 => Lease::read_write(lent),
            _ => return Err(Status::BadRequest),
        };
    }
    // The callee may have restarted since the last call; a refresh costs
    // one syscall and saves a dead code round trip.
    let task = sys_refresh_task_id(TaskId::for_index_and_gen(
        usize::from(target),
        Generation::ZERO,
    ));
    ringbuf_entry!(Trace::Call { task, operation });
    let (rc, length) = sys_send(
        task,
        operation,
        &args[..args_length],
        &mut reply[..capacity],
        &table[..count],
    );
    let length = length.min(capacity);
    ringbuf_entry!(Trace::Replied {
        rc,
        length: length as u32
    });
    Ok((rc, length))
}

/// Fills `HIFFY_RESULT`, `done` last so the debugger never sees a half
/// written result as finished.
fn publish(kick: u32, status: Status, rc: u32, reply: &[u8]) {
    let out = &HIFFY_RESULT;
    for (w, chunk) in out.reply.iter().zip(reply.chunks(4)) {
        let mut bytes = [0u8; 4];
        bytes[..chunk.len()].copy_from_slice(chunk);
        w.store(u32::from_le_bytes(bytes), Ordering::Relaxed);
    }
    out.rc.store(rc, Ordering::Relaxed);
    out.reply_length
        .store(reply.len() as u32, Ordering::Relaxed);
    out.status.store(status as u32, Ordering::Relaxed);
    out.done.store(kick, Ordering::Release);
}
