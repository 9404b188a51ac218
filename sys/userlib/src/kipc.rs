//! Wrappers for kernel IPC (messages to `TaskId::KERNEL`).

use crate::sys_send;
use abi::*;

fn kipc(op: Kipcnum, args: &[u32], reply: &mut [u8]) -> (u32, usize) {
    let mut msg = [0u8; 16];
    for (chunk, a) in msg.chunks_exact_mut(4).zip(args) {
        chunk.copy_from_slice(&a.to_le_bytes());
    }
    sys_send(
        TaskId::KERNEL,
        op as u16,
        &msg[..args.len() * 4],
        reply,
        &[],
    )
}

fn reply_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

pub fn read_task_status(index: usize) -> TaskState {
    let mut r = [0; TASK_STATE_WIRE_SIZE];
    kipc(Kipcnum::ReadTaskStatus, &[index as u32], &mut r);
    // The kernel only ever sends well-formed states.
    TaskState::decode(&r).unwrap_or_default()
}

/// The first faulted task at or after `start`; `None` if none.
pub fn find_faulted_task(start: usize) -> Option<usize> {
    let mut r = [0; 4];
    kipc(Kipcnum::FindFaultedTask, &[start as u32], &mut r);
    match reply_u32(&r) {
        0 => None,
        i => Some(i as usize),
    }
}

pub fn reinit_task(index: usize, start: bool) {
    kipc(Kipcnum::ReinitTask, &[index as u32, start as u32], &mut []);
}

pub fn fault_task(index: usize) {
    kipc(Kipcnum::FaultTask, &[index as u32], &mut []);
}

pub fn software_irq(index: usize, mask: u32) {
    kipc(Kipcnum::SoftwareIrq, &[index as u32, mask], &mut []);
}

pub fn read_image_id() -> u64 {
    let mut r = [0; 8];
    kipc(Kipcnum::ReadImageId, &[], &mut r);
    u64::from_le_bytes(r)
}

/// Why `read_panic_message` gave nothing.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum PanicMessageError {
    TaskNotPanicked,
    BadPanicBuffer,
}

/// The panic message of task `index` (up to 128 bytes) into `buf`.
pub fn read_panic_message(
    index: usize,
    buf: &mut [u8; PANIC_MESSAGE_MAX],
) -> Result<&[u8], PanicMessageError> {
    let (rc, n) = kipc(Kipcnum::ReadPanicMessage, &[index as u32], buf);
    match rc {
        0 => Ok(&buf[..n.min(PANIC_MESSAGE_MAX)]),
        KIPC_TASK_NOT_PANICKED => Err(PanicMessageError::TaskNotPanicked),
        _ => Err(PanicMessageError::BadPanicBuffer),
    }
}

/// Arms (or with `nth == 0`, clears) an injection into task `index` at its
/// `nth` next syscall.
pub fn inject_at_syscall(index: usize, nth: u32, action: InjectionAction) {
    let args = [index as u32, nth, action as u32];
    kipc(Kipcnum::InjectAtSyscall, &args, &mut []);
}

/// Syscalls task `index` made since it last started.
pub fn read_syscall_count(index: usize) -> u32 {
    let mut r = [0; 4];
    kipc(Kipcnum::ReadSyscallCount, &[index as u32], &mut r);
    reply_u32(&r)
}

pub fn revoke_peripheral(peripheral: u16) {
    kipc(Kipcnum::RevokePeripheral, &[peripheral as u32], &mut []);
}

pub fn restore_peripheral(peripheral: u16) {
    kipc(Kipcnum::RestorePeripheral, &[peripheral as u32], &mut []);
}

/// Prints `line` on the kernel console (needs the `console_write` grant).
pub fn console_write(line: &[u8]) {
    let n = line.len().min(MAX_MESSAGE_LEN);
    sys_send(
        TaskId::KERNEL,
        Kipcnum::ConsoleWrite as u16,
        &line[..n],
        &mut [],
        &[],
    );
}

/// Ends the system with `code` as the kernel's exit status (needs the
/// `shutdown` grant, or to be the supervisor).
pub fn shutdown(code: u32) {
    kipc(Kipcnum::Shutdown, &[code], &mut []);
}

/// Asks the kernel to write a dump file because of task `index` (needs
/// the `dump_task` grant, or to be the supervisor); whether it worked.
pub fn dump_task(index: usize) -> bool {
    kipc(Kipcnum::DumpTask, &[index as u32], &mut []).0 == 0
}

/// Formats `args` into one console line (cut at the longest message the
/// kernel takes) and prints it; see [`crate::console!`].
pub fn console_fmt(args: core::fmt::Arguments<'_>) {
    let mut line = crate::fmt::FixedBuf::<MAX_MESSAGE_LEN>::new();
    // A line that does not fit is cut, not an error.
    let _ = core::fmt::write(&mut line, args);
    console_write(line.as_bytes());
}
