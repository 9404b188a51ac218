//! The Leasehold kernel on an ARMv7-M microcontroller (board
//! `mps2-an386`, QEMU's Cortex-M4F).
//!
//! This crate is a *platform*: the semantics (syscalls, IPC, leases,
//! faults, timers) are the portable core's, `kern`, unchanged. What lives
//! here is what the hosted board does with Linux, done with the
//! processor instead:
//!
//! - a task is an unprivileged thread on its own stack (PSP); it enters
//!   the kernel with `svc`, its arguments in r4–r10 and the syscall
//!   number in r11, and is answered in r4–r11 (Hubris's convention);
//! - every kernel entry (SVC, PendSV, SysTick, a fault) runs at one
//!   exception priority, so the kernel is never re-entered: it saves the
//!   current task's callee-saved registers (and, only if the task used
//!   the FPU, s16–s31, which also makes the hardware's lazy save of
//!   s0–s15 happen), runs the core, applies the [`kern::Effects`] it
//!   returns, picks the most important runnable task and returns into it;
//! - SysTick counts milliseconds for the core's timers; an interrupt that
//!   wakes a task pends PendSV, which switches;
//! - the MPU gives the running task exactly its flash (read, execute)
//!   and RAM (read, write, never execute); anything else faults it, and
//!   the fault status registers become the same `FaultInfo` the hosted
//!   board reports;
//! - peripherals are the hosted board's device models (`sim-devices`),
//!   run here on a small heap, and their interrupts notify tasks;
//! - a restarted task's RAM is zeroed and its `.data` copied from the
//!   image, then it starts at its entry point on a fresh stack.
//!
//! The task table comes from `kconfig.rs`, generated per image by
//! `cargo xtask dist` (see `config`).

#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

mod arch;
mod board;
mod config;
mod console;
mod devices;
mod faults;
mod mpu;
mod platform;
mod semihosting;

/// The image id, where a debugger finds it: humility reads it through
/// QEMU's GDB stub and refuses to decode the board's memory with an
/// archive of another build (`humility --qemu`). The task table itself
/// it finds as `board::BOARD`, by its DWARF, as Humility does on Hubris.
#[used]
#[unsafe(no_mangle)]
pub static LEASEHOLD_IMAGE_ID: u64 = config::IMAGE_ID;

/// The heap the device models allocate from (their peripheral table,
/// interrupt lists, transfer scratch); initialised by `boot` before the
/// board is built.
#[global_allocator]
static HEAP: kernel_heap::LockedHeap = kernel_heap::LockedHeap::empty();

/// The heap's memory: most of what the kernel's 512 KiB of RAM leaves
/// after its stack.
const HEAP_SIZE: usize = 256 * 1024;

/// Gives the heap its memory. Called once, by `boot`.
fn init_heap() {
    static mut MEMORY: [u8; HEAP_SIZE] = [0; HEAP_SIZE];
    // Safety: called once; nothing else refers to MEMORY.
    unsafe { HEAP.init((&raw mut MEMORY).cast(), HEAP_SIZE) };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    console::line(format_args!("kernel panic: {info}"));
    semihosting::exit(101)
}
