//! The hosted (x86_64 Linux process) trap and entry point.
//!
//! Everything target-specific lives here, as in Hubris's `arch` modules: a
//! port to a microcontroller replaces this file and keeps the rest.

use abi::{HOSTED_SYSCALL_BASE, SyscallFrame, Sysnum};

/// Traps into the kernel with syscall `n`.
///
/// The kernel reads `frame.args` and writes `frame.rets` before it resumes
/// us; the `asm!` block is not `nomem`, so the compiler assumes the frame
/// may have changed.
///
/// The callee-saved `rbp`, `rbx`, `r12`, `r13` and `r14` are copied into
/// the unused argument registers `rsi`, `rdx`, `r10`, `r8` and `r9`: the
/// kernel ignores them, but Linux shows a task blocked in a syscall only
/// by its `rip`, `rsp` and argument registers (`/proc/<pid>/syscall`), and
/// a debugger needs the frame pointer to unwind a waiting task's stack.
#[inline(always)]
pub fn syscall(n: Sysnum, frame: &mut SyscallFrame) {
    let frame_ptr: *mut SyscallFrame = frame;
    // Safety: the private syscall numbers are handled by the kernel
    // process, which only reads and writes `*frame_ptr`; `rcx` and `r11`
    // are clobbered by the `syscall` instruction itself, and the copies
    // only write registers declared clobbered.
    unsafe {
        core::arch::asm!(
            "mov rsi, rbp",
            "mov rdx, rbx",
            "mov r10, r12",
            "mov r8, r13",
            "mov r9, r14",
            "syscall",
            inlateout("rax") HOSTED_SYSCALL_BASE + n as u64 => _,
            in("rdi") frame_ptr,
            out("rsi") _,
            out("rdx") _,
            out("r10") _,
            out("r8") _,
            out("r9") _,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
}

/// Traps with any syscall number and frame address, valid or not. Only
/// for tests that check the kernel survives garbage (`userlib::raw`).
#[inline(always)]
pub fn syscall_raw(nr: u64, frame: u64) {
    // Safety: as `syscall`; a bad number or frame only faults this task.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => _,
            in("rdi") frame,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
}

/// The process entry point.
///
/// Before anything can touch the stack or a static, RAM must exist: the
/// kernel hands us a memfd holding our initialised RAM image (`.data`
/// copied, `.bss` zeroed, as a loader or a Cortex-M reset handler would)
/// on fd 3, and we map it over our RAM range with the one `mmap` the kernel
/// admits. The kernel sees the same pages through its own mapping, which is
/// how it copies messages and leases in one `memcpy`.
#[cfg(target_os = "none")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.start")]
pub unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "lea rdi, [rip + __ram_base]",
        "lea rsi, [rip + __ram_end]",
        "sub rsi, rdi",
        "mov edx, 3",      // PROT_READ | PROT_WRITE
        "mov r10d, 0x11",  // MAP_SHARED | MAP_FIXED
        "mov r8d, 3",      // abi::HOSTED_RAM_FD
        "xor r9d, r9d",
        "mov eax, 9",      // mmap
        "syscall",
        "cmp rax, rdi",
        "jne 2f",
        "lea rsp, [rip + __stack_top]",
        "xor ebp, ebp",
        "call {start}",
        "2:",
        "ud2",
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
