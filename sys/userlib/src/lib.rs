//! Task-side support for Leasehold tasks: the entry point, the syscall
//! stubs, task slots, the panic handler and kipc wrappers.
//!
//! A task is a `#![no_std]`, `#![no_main]` binary that provides
//! `#[unsafe(export_name = "main")] fn main() -> !`. On the hosted
//! platform it is a Linux process that can do nothing but trap into the
//! kernel: every function here that talks to the kernel ends in
//! [`arch::syscall`], and the kernel kills the task if it makes any other
//! host system call.

#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]

pub use abi::*;

mod arch;
pub mod hl;
pub mod kipc;
mod panic;
mod syscalls;
pub mod task_slot;

/// Raw traps for tests that feed the kernel garbage: any syscall number,
/// any arguments, even a bad frame address.
pub mod raw {
    use abi::{HOSTED_SYSCALL_BASE, SyscallFrame};

    /// Syscall `nr` (0-based, like `Sysnum`) with arbitrary arguments.
    pub fn syscall(nr: u32, args: [u32; 8]) -> [u32; 8] {
        let mut f = SyscallFrame { args, rets: [0; 8] };
        let p = &mut f as *mut SyscallFrame as u64;
        crate::arch::syscall_raw(HOSTED_SYSCALL_BASE + nr as u64, p);
        f.rets
    }

    /// Syscall `nr` whose frame pointer is `frame`, valid or not.
    pub fn syscall_with_frame(nr: u32, frame: u64) {
        crate::arch::syscall_raw(HOSTED_SYSCALL_BASE + nr as u64, frame);
    }
}

pub use syscalls::*;
