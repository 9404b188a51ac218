//! The ARMv7-M (Cortex-M) trap and entry point.
//!
//! Hubris's register convention: a task makes syscall `n` with `svc #0`,
//! its arguments in r4–r10 and the number in r11; the kernel answers in
//! r4–r11. r4–r11 are callee-saved, so the stub saves them around the
//! trap, and it loads and stores them through the frame, so that the
//! compiler never has to hand us r6, r7 or r11 (which `asm!` may not
//! name on Thumb).

use abi::{SyscallFrame, Sysnum};

/// Traps into the kernel with syscall `n`.
#[inline(always)]
pub fn syscall(n: Sysnum, frame: &mut SyscallFrame) {
    syscall_raw(n as u32, frame as *mut SyscallFrame as u32);
}

/// Traps with any syscall number and frame address, valid or not. A frame
/// outside our memory faults us (MemManage) before the trap: that is the
/// Cortex-M meaning of a bad frame.
#[inline(always)]
pub fn syscall_raw(nr: u32, frame: u32) {
    // Safety: the kernel reads r4-r11 and writes them back; we save and
    // restore them ourselves, and touch only `frame`'s 16 words (the asm
    // is not `nomem`, so the compiler assumes they changed).
    unsafe {
        core::arch::asm!(
            "push {{r4-r11}}",
            "ldm r0, {{r4-r10}}",
            "mov r11, r1",
            "svc #0",
            "add r0, r0, #32",
            "stm r0, {{r4-r11}}",
            "pop {{r4-r11}}",
            inout("r0") frame => _,
            in("r1") nr,
        );
    }
}

/// The task entry point. The kernel starts us on our stack with our RAM
/// already initialised from the image (`.data` copied, the rest zeroed,
/// as it does on every restart), so all that is left is to call `main`.
#[cfg(target_os = "none")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.start")]
pub unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "movs r0, #0",
        "mov lr, r0",
        "bl {start}",
        "udf #0",
        start = sym start_task,
    )
}

#[cfg(target_os = "none")]
unsafe extern "Rust" {
    /// The task's own entry point.
    fn main() -> !;
}

#[cfg(target_os = "none")]
extern "C" fn start_task() -> ! {
    // Safety: `main` is the task's entry point; calling it once, on a
    // fresh stack, is the contract.
    unsafe { main() }
}
