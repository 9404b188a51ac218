//! The portable Leasehold kernel core.
//!
//! This crate is the kernel's *semantics*: the task table, the syscalls,
//! kipc, leases, timers, notifications and faults, written against a
//! [`Platform`] trait that moves bytes and drives devices. It knows nothing
//! about Linux: the hosted platform (`sys/hosted`) traps a task's syscall,
//! loads its arguments into [`task::SavedState`], calls
//! [`Kernel::handle_syscall`], and carries out the [`Effects`] it returns
//! (stop these tasks, restart those, answer these). The same core would run on
//! a microcontroller behind a different platform, and runs under unit
//! tests with in-memory tasks.
//!
//! Design principles, as Hubris's: static configuration (the task table is
//! built once and never grows), simple algorithms over clever ones (a scan
//! of a small table beats an index), errors as values applied in one place
//! ([`err::UserError`]), and no `unsafe` at all: memory copies are the
//! platform's business, after this crate has checked every slice.
//!
//! Nothing a task, the platform or a file hands this crate can make it
//! panic: the clippy lints that find panics, unchecked indexing and
//! overflowing arithmetic are denied below, and the task table is indexed
//! only by [`task::TaskIndex`], which is checked when it is made. Every
//! slice a task names is an allegation checked on each use (see `umem`
//! and, for leases, `lease`).
//!
//! Where Leasehold goes beyond Hubris (see ARCHITECTURE.md): SEND, kipc
//! and peripheral access are checked against capabilities from app.toml;
//! a fault bumps the generation and unblocks peers at once; peripheral
//! grants are revocable; leases can be forwarded along a chain and are
//! revoked when any link resumes or dies; faults and restarts can be
//! injected at a task's N-th syscall.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
// Unit tests may panic: that is how they fail.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod args;
pub mod effects;
pub mod err;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
mod ipc;
mod kipc;
mod lease;
mod peripheral;
pub mod platform;
mod syscalls;
pub mod task;
pub mod time;
pub mod umem;

#[cfg(test)]
mod tests;

pub use effects::Effects;
pub use platform::{Location, MemoryError, PeripheralFault, Platform};
pub use task::{
    MemoryRegion, Peripheral, Task, TaskDesc, TaskIndex, TaskTable,
};

use abi::{FaultInfo, TaskId};

/// The whole kernel: the task table, the peripheral table and the
/// platform. There is exactly one, owned by the platform's event loop.
pub struct Kernel<'a, P: Platform> {
    pub tasks: TaskTable<'a>,
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
            tasks: TaskTable::new(tasks),
            peripherals,
            platform,
        }
    }

    /// Starts every task marked `start` in app.toml.
    pub fn boot(&mut self) -> Effects {
        for task in TaskIndex::all(&self.tasks) {
            if self.tasks[task].desc.start {
                self.tasks.start(task);
            }
        }
        self.tasks.take_effects()
    }

    /// The current `TaskId` of task `index` (`TaskId::KERNEL` for an index
    /// past the table).
    pub fn task_id(&self, index: usize) -> TaskId {
        TaskIndex::new(&self.tasks, index)
            .map_or(TaskId::KERNEL, |index| self.task_id_of(index))
    }

    /// The current `TaskId` of task `index`.
    pub(crate) fn task_id_of(&self, index: TaskIndex) -> TaskId {
        self.tasks[index].id_at(index)
    }

    /// Records a fault the platform observed (a signal, a forbidden host
    /// syscall) or that the kernel decided on. An index past the table is
    /// ignored.
    pub fn fault(&mut self, index: usize, fault: FaultInfo) -> Effects {
        if let Some(index) = TaskIndex::new(&self.tasks, index) {
            task::force_fault(&mut self.tasks, index, fault);
        }
        self.tasks.take_effects()
    }

    /// Raises IRQ `mask` (notification bits) of task `index`, as a device
    /// interrupt would.
    pub fn raise_irq(&mut self, index: usize, mask: u32) -> Effects {
        if let Some(index) = TaskIndex::new(&self.tasks, index) {
            task::raise_irq(&mut self.tasks, index, mask);
        }
        self.tasks.take_effects()
    }

    /// Reinitialises task `index` (as kipc `reinit_task`).
    pub fn reinit(&mut self, index: usize, start: bool) -> Effects {
        if let Some(index) = TaskIndex::new(&self.tasks, index) {
            task::reinit(&mut self.tasks, index, start);
        }
        self.tasks.take_effects()
    }

    /// Fires due timers: what that woke, and the next deadline to wait for.
    pub fn tick(&mut self) -> (Effects, Option<u64>) {
        let now = self.platform.now();
        let next = time::tick(&mut self.tasks, now);
        (self.tasks.take_effects(), next)
    }
}
