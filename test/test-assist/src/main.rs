//! The test assistant: serves [`AssistOp`]s for the suite, with raw
//! syscalls so that every kernel answer is visible.
//!
//! Operations that fault us do so *before* replying, so the suite is
//! still blocked on us when we die and must be released by the kernel
//! with the dead code (Leasehold improvement 2), which also means the
//! suite finds us faulted the moment its SEND returns, whatever order the
//! host runs the two processes in.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use test_api::*;
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));

task_slot!(FORWARD, forward);

// test-api's masks must name our notifications as kernel.toml orders them.
const _: () = assert!(notifications::POST_MASK == ASSIST_POST_MASK);
const _: () = assert!(notifications::POKE_MASK == ASSIST_POKE_MASK);

/// What `Store` keeps; lives in `.bss`, so a restart must zero it.
static STORED: AtomicU32 = AtomicU32::new(0);

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut buf = [0u8; 64];
    loop {
        let m = sys_recv_open(&mut buf, 0);
        let n = (m.message_len as usize).min(buf.len());
        serve(&m, &buf[..n]);
    }
}

fn serve(m: &RecvMessage, data: &[u8]) {
    let Some(op) = AssistOp::try_from(m.operation).ok() else {
        sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
        return;
    };
    let arg = word(data, 0);
    match op {
        AssistOp::JustReply => reply_u32(m, !arg),
        AssistOp::BadMemory => {
            let p = arg as usize as *mut u32;
            // Safety: none; faulting here is the point of the operation.
            unsafe { p.write_volatile(0) };
            reply_u32(m, 0);
        }
        AssistOp::Panic => {
            reply_u32(m, 0);
            panic!("{ASSIST_PANIC_MESSAGE}");
        }
        AssistOp::FastPanic => panic!("{ASSIST_PANIC_MESSAGE}"),
        AssistOp::Store => {
            reply_u32(m, STORED.swap(arg, Ordering::Relaxed));
        }
        AssistOp::DivZero => reply_u32(m, divide(1, arg)),
        AssistOp::StackOverflow => reply_u32(m, recurse(0)),
        AssistOp::ExecData => {
            exec_data();
            reply_u32(m, 0);
        }
        AssistOp::IllegalInstruction => {
            illegal_instruction();
            reply_u32(m, 0);
        }
        AssistOp::ReadTaskStatus => {
            let _ = kipc::read_task_status(arg as usize);
            reply_u32(m, 0);
        }
        AssistOp::FaultTask => {
            kipc::fault_task(arg as usize);
            reply_u32(m, 0);
        }
        AssistOp::RestartTask => {
            kipc::reinit_task(arg as usize, true);
            reply_u32(m, 0);
        }
        AssistOp::RefreshTaskIdOffByOne => {
            refresh_index(tasks::NUM_TASKS);
            reply_u32(m, 0);
        }
        AssistOp::RefreshTaskIdOffByMany => {
            refresh_index(tasks::NUM_TASKS + 100);
            reply_u32(m, 0);
        }
        AssistOp::ReadNotifications => {
            let mask = notifications::ALL_MASK & !ASSIST_POKE_MASK;
            reply_u32(m, poll_notifications(mask, ASSIST_POKE_MASK));
        }
        #[cfg(target_arch = "x86_64")]
        AssistOp::HostSyscall => {
            // Safety: never returns; the kernel kills us on the syscall.
            unsafe { forbidden_getpid() }
        }
        #[cfg(target_arch = "x86_64")]
        AssistOp::HostSyscallPc => {
            let pc = forbidden_getpid_end as *const () as usize;
            reply_u32(m, pc as u32);
        }
        #[cfg(not(target_arch = "x86_64"))]
        AssistOp::HostSyscall | AssistOp::HostSyscallPc => {
            sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
        }
        AssistOp::SendOutsideSlots => {
            let target =
                TaskId::for_index_and_gen(arg as usize, Generation::ZERO);
            let (rc, _) = sys_send(target, 0, &[], &mut [], &[]);
            reply_u32(m, rc);
        }
        AssistOp::PeripheralRead => {
            reply_u32(m, sys_read_register(arg as u16, word(data, 1)));
        }
        AssistOp::PeripheralWrite => {
            sys_write_register(arg as u16, word(data, 1), word(data, 2));
            reply_u32(m, 0);
        }
        AssistOp::ForwardRead => forward_read(m, arg, word(data, 1)),
        AssistOp::ForwardWiden => forward_widened(m),
        AssistOp::ForwardHold => forward_hold(m),
        AssistOp::CountSyscalls => {
            for _ in 0..arg {
                sys_get_timer();
            }
            reply_u32(m, arg);
        }
        AssistOp::PanicLater => {
            reply_u32(m, 0);
            hl::sleep_for(u64::from(arg));
            panic!("{ASSIST_PANIC_MESSAGE}");
        }
        AssistOp::StreamFromLease => {
            let rc = sys_write_bulk_from_lease(
                arg as u16,
                named_lender(m, word(data, 1)),
                word(data, 2) as usize,
                word(data, 3),
                word(data, 4),
            );
            reply_u32(m, rc);
        }
        AssistOp::ForwardForged => forward_forged(m, data),
    }
}

/// The task [`lender`] `which` names, for a message from `m.sender`.
fn named_lender(m: &RecvMessage, which: u32) -> TaskId {
    match which {
        lender::CALLER => task_id(tasks::CALLER),
        lender::ITSELF => my_task_id(),
        lender::SENDER_WRONG_GENERATION => TaskId::for_index_and_gen(
            m.sender.index(),
            m.sender.generation().next(),
        ),
        _ => m.sender,
    }
}

/// Forwards whatever lease the suite names (see [`lender`]) to `forward`
/// and passes its answer back: the kernel must follow only a forward
/// whose source really lends it to us, within what was lent.
fn forward_forged(m: &RecvMessage, data: &[u8]) {
    let source = named_lender(m, word(data, 0));
    let lease = Lease::forwarded(
        source,
        word(data, 1) as u8,
        LeaseAttributes::READ,
        word(data, 2),
        word(data, 3),
    );
    let mut answer = [0u8; 8 + 64];
    let op = ForwardOp::Read as u16;
    let fwd = FORWARD.get_task_id();
    let (rc, n) = sys_send(fwd, op, &[], &mut answer, &[lease]);
    reply(m, rc, &answer[..n.min(answer.len())]);
}

/// Replies one word, or faults the client if it left no room for it (a
/// reply that does not fit would fault us instead).
fn reply_u32(m: &RecvMessage, x: u32) {
    reply(m, 0, &x.to_le_bytes());
}

fn reply(m: &RecvMessage, code: u32, data: &[u8]) {
    if (m.response_capacity as usize) < data.len() {
        sys_reply_fault(m.sender, ReplyFaultReason::ReplyBufferTooSmall);
    } else {
        sys_reply(m.sender, code, data);
    }
}

fn refresh_index(index: usize) {
    let _ =
        sys_refresh_task_id(TaskId::for_index_and_gen(index, Generation::ZERO));
}

/// Code in RAM: a return instruction (`ret` on x86_64, `bx lr` on
/// Thumb), which would simply come back if RAM were executable.
/// It is written at run time, as injected code would be: a static that
/// is never stored to may be promoted to read-only data, which lies in
/// (executable) flash. A `u32`, so it is aligned for Thumb.
static DATA_CODE: AtomicU32 = AtomicU32::new(0);

/// Calls [`DATA_CODE`]: an instruction fetch from RAM, which faults.
fn exec_data() {
    DATA_CODE.store(
        u32::from_le_bytes([0xC3, 0x47, 0x70, 0x47]),
        Ordering::SeqCst,
    );
    let at = DATA_CODE.as_ptr() as usize;
    // Thumb code is called with the low bit set; on x86_64 `ret` is the
    // first byte.
    let at = if cfg!(target_arch = "arm") {
        (at + 2) | 1
    } else {
        at
    };
    // Safety: none; the fetch faulting is the point. Were it to run, both
    // encodings return at once.
    let f: extern "C" fn() = unsafe { core::mem::transmute(at) };
    f();
}

/// An undefined instruction: `ud2` (#UD) on x86_64, `udf` (a UsageFault,
/// UNDEFINSTR) on Cortex-M.
fn illegal_instruction() {
    // Safety: the instruction traps; it has no other effect.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::asm!("ud2", options(nomem, nostack))
    };
    // Safety: as above.
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!("udf #0", options(nomem, nostack))
    };
}

/// `a / b` with the CPU's divide instruction: Rust's `/` checks for zero
/// itself and would panic instead of letting the CPU trap.
#[cfg(target_arch = "x86_64")]
fn divide(a: u32, b: u32) -> u32 {
    let q: u32;
    // Safety: `div` only reads and writes the named registers; a zero
    // divisor raises #DE, which is what we want.
    unsafe {
        core::arch::asm!(
            "div {b:e}",
            b = in(reg) b,
            inlateout("eax") a => q,
            inlateout("edx") 0u32 => _,
            options(nomem, nostack),
        );
    }
    q
}

/// `a / b` with `udiv`, which traps on a zero divisor because the kernel
/// sets CCR.DIV_0_TRP (a UsageFault, DIVBYZERO).
#[cfg(target_arch = "arm")]
fn divide(a: u32, b: u32) -> u32 {
    let q: u32;
    // Safety: `udiv` only reads and writes the named registers.
    unsafe {
        core::arch::asm!(
            "udiv {q}, {a}, {b}",
            q = lateout(reg) q,
            a = in(reg) a,
            b = in(reg) b,
            options(nomem, nostack),
        );
    }
    q
}

/// Recurses until the stack runs into the guard below it. The frame is
/// kept large and live so the compiler can neither shrink nor loop it.
#[inline(never)]
fn recurse(depth: u32) -> u32 {
    let mut frame = [0u8; 512];
    frame[depth as usize % 512] = depth as u8;
    core::hint::black_box(&mut frame);
    if depth == u32::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[7] as u32)
}

// A Linux syscall the hosted kernel must refuse: `getpid` (39). The label
// after it is the `pc` the kernel reports (`FaultInfo::HostSyscall`).
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".pushsection .text.forbidden_getpid,\"ax\",@progbits",
    ".globl forbidden_getpid",
    ".globl forbidden_getpid_end",
    "forbidden_getpid:",
    "    mov eax, 39",
    "    syscall",
    "forbidden_getpid_end:",
    "    ud2",
    ".popsection",
);

#[cfg(target_arch = "x86_64")]
unsafe extern "C" {
    fn forbidden_getpid() -> !;
    fn forbidden_getpid_end();
}

/// Forwards `len` bytes at `offset` of the client's lease 0 to `forward`
/// and passes its answer back unchanged.
fn forward_read(m: &RecvMessage, offset: u32, len: u32) {
    if m.lease_count < 1 {
        sys_reply_fault(m.sender, ReplyFaultReason::BadLeases);
        return;
    }
    let lease =
        Lease::forwarded(m.sender, 0, LeaseAttributes::READ, offset, len);
    let mut answer = [0u8; 8 + 64];
    let op = ForwardOp::Read as u16;
    let fwd = FORWARD.get_task_id();
    let (rc, n) = sys_send(fwd, op, &[], &mut answer, &[lease]);
    reply(m, rc, &answer[..n.min(answer.len())]);
}

/// Forwards the client's read-only lease 0 with READ | WRITE: a widening
/// the kernel must refuse by faulting us.
fn forward_widened(m: &RecvMessage) {
    let len = lease_len(m);
    let rights = LeaseAttributes::READ | LeaseAttributes::WRITE;
    let lease = Lease::forwarded(m.sender, 0, rights, 0, len);
    let fwd = FORWARD.get_task_id();
    let (rc, _) = sys_send(fwd, ForwardOp::Read as u16, &[], &mut [], &[lease]);
    reply_u32(m, rc);
}

/// Forwards the client's lease 0 whole to `forward`, which holds on to it
/// (and so keeps us, and our client, blocked) until the suite says go.
fn forward_hold(m: &RecvMessage) {
    let len = lease_len(m);
    let lease = Lease::forwarded(m.sender, 0, LeaseAttributes::READ, 0, len);
    let fwd = FORWARD.get_task_id();
    let (rc, _) = sys_send(fwd, ForwardOp::Hold as u16, &[], &mut [], &[lease]);
    reply_u32(m, rc);
}

/// The length of the client's lease 0 (0 if it lent none).
fn lease_len(m: &RecvMessage) -> u32 {
    if m.lease_count < 1 {
        return 0;
    }
    sys_borrow_info(m.sender, 0).map_or(0, |i| i.len as u32)
}
