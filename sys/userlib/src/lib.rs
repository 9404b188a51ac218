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

pub use syscalls::*;
