//! The portable Leasehold kernel core.
//!
//! This crate is the kernel's *semantics*: the task table, the syscalls,
//! kipc, leases, timers, notifications and faults, written against a
//! [`Platform`] trait that moves bytes and drives devices. It knows nothing
//! about Linux: the hosted platform (`sys/hosted`) traps a task's syscall,
//! loads its arguments into [`task::SavedState`], calls
//! [`Kernel::handle_syscall`], and then acts on the flags the core leaves on
//! each task (resume it, stop it, (re)start it). The same core would run on
//! a microcontroller behind a different platform, and runs under unit
//! tests with in-memory tasks.
//!
//! Design principles, as Hubris's: static configuration (the task table is
//! built once and never grows), simple algorithms over clever ones (a scan
//! of a small table beats an index), errors as values applied in one place
//! ([`err::UserError`]), and no `unsafe` at all: memory copies are the
//! platform's business, after this crate has checked every slice.
//!
//! Where Leasehold goes beyond Hubris (see ARCHITECTURE.md): SEND, kipc
//! and peripheral access are checked against capabilities from app.toml;
//! a fault bumps the generation and unblocks peers at once; peripheral
//! grants are revocable; leases can be forwarded along a chain and are
//! revoked when any link resumes or dies; faults and restarts can be
//! injected at a task's N-th syscall.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod err;
mod ipc;
mod kipc;
mod lease;
pub mod platform;
mod syscalls;
pub mod task;
pub mod time;

#[cfg(test)]
mod tests;

pub use platform::{Location, PeripheralFault, Platform};
pub use task::{MemoryRegion, Peripheral, Task, TaskDesc};

use abi::{FaultInfo, TaskId};

/// The whole kernel: the task table, the peripheral table and the
/// platform. There is exactly one, owned by the platform's event loop.
pub struct Kernel<'a, P: Platform> {
    pub tasks: &'a mut [Task],
    pub peripherals: &'a mut [Peripheral],
    pub platform: P,
}

impl<'a, P: Platform> Kernel<'a, P> {
    pub fn new(
        tasks: &'a mut [Task],
        peripherals: &'a mut [Peripheral],
        platform: P,
    ) -> Self {
        Self {
            tasks,
            peripherals,
            platform,
        }
    }

    /// Starts every task marked `start` in app.toml.
    pub fn boot(&mut self) {
        for t in self.tasks.iter_mut() {
            if t.desc.start {
                t.start();
            }
        }
    }

    /// The current `TaskId` of task `index`.
    pub fn task_id(&self, index: usize) -> TaskId {
        TaskId::for_index_and_gen(index, self.tasks[index].generation())
    }

    /// Records a fault the platform observed (a signal, a forbidden host
    /// syscall) or that the kernel decided on.
    pub fn fault(&mut self, index: usize, fault: FaultInfo) {
        task::force_fault(self.tasks, index, fault);
    }

    /// Raises IRQ `mask` (notification bits) of task `index`, as a device
    /// interrupt would.
    pub fn raise_irq(&mut self, index: usize, mask: u32) {
        task::raise_irq(self.tasks, index, mask);
    }
}

impl<P: Platform> Kernel<'_, P> {
    /// Fires due timers; returns the next deadline to wait for.
    pub fn tick(&mut self) -> Option<u64> {
        let now = self.platform.now();
        time::tick(self.tasks, now)
    }
}

impl<P: Platform> Kernel<'_, P> {
    // Every memory access goes through these three, which skip empty
    // ranges: an empty slice is valid at any address (as in Hubris), so it
    // need not lie in any region, and the platform must never see it.

    pub(crate) fn mem_read(&self, at: Location, out: &mut [u8]) {
        if !out.is_empty() {
            self.platform.read(at, out);
        }
    }

    pub(crate) fn mem_write(&mut self, at: Location, data: &[u8]) {
        if !data.is_empty() {
            self.platform.write(at, data);
        }
    }

    pub(crate) fn mem_copy(
        &mut self,
        src: Location,
        dst: Location,
        len: usize,
    ) {
        if len != 0 {
            self.platform.copy(src, dst, len);
        }
    }
}
