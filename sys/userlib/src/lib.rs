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
pub mod fmt;
pub mod hl;
pub mod kipc;
mod panic;
mod syscalls;
pub mod task_slot;

/// Raw traps for tests that feed the kernel garbage: any syscall number,
/// any arguments, even a bad frame address.
pub mod raw {
    use abi::SyscallFrame;

    /// Syscall `nr` (0-based, like `Sysnum`) with arbitrary arguments.
    pub fn syscall(nr: u32, args: [u32; 8]) -> [u32; 8] {
        let mut f = SyscallFrame { args, rets: [0; 8] };
        let p = &mut f as *mut SyscallFrame as u64;
        syscall_with_frame(nr, p);
        f.rets
    }

    /// Syscall `nr` whose frame pointer is `frame`, valid or not.
    #[cfg(not(target_arch = "arm"))]
    pub fn syscall_with_frame(nr: u32, frame: u64) {
        crate::arch::syscall_raw(abi::HOSTED_SYSCALL_BASE + nr as u64, frame);
    }

    /// Syscall `nr` whose frame pointer is `frame`, valid or not (an
    /// address past 32 bits is truncated, as the hosted kernel would
    /// refuse it).
    #[cfg(target_arch = "arm")]
    pub fn syscall_with_frame(nr: u32, frame: u64) {
        crate::arch::syscall_raw(nr, frame as u32);
    }
}

pub use syscalls::*;

/// A blob from app.toml's `[blobs]`, linked into this task's flash because
/// its `blobs = [...]` names it: `let image: &'static [u8] = blob!(ice40);`.
///
/// A task that names a blob its app.toml entry does not list fails to
/// link, with an undefined `__blob_<name>_start`.
#[macro_export]
macro_rules! blob {
    ($name:ident) => {{
        unsafe extern "C" {
            #[link_name = concat!("__blob_", stringify!($name), "_start")]
            static START: u8;
            #[link_name = concat!("__blob_", stringify!($name), "_end")]
            static END: u8;
        }
        let start = &raw const START;
        let end = &raw const END;
        // Safety: the build brackets exactly the blob's bytes, in flash,
        // with these two symbols; flash never changes.
        unsafe {
            core::slice::from_raw_parts(
                start,
                (end as usize).saturating_sub(start as usize),
            )
        }
    }};
}

/// Prints a formatted line on the kernel console (needs the
/// `console_write` grant): `console!("loaded {} bytes", n)`.
#[macro_export]
macro_rules! console {
    ($($arg:tt)*) => {
        $crate::kipc::console_fmt(core::format_args!($($arg)*))
    };
}
