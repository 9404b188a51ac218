//! The kernel core under a fuzzer: [`run`] turns arbitrary bytes into a
//! sequence of syscalls, faults, restarts, timer ticks, interrupts and
//! writes into task memory (lease tables inside lent buffers, forwarded
//! leases, garbage), applied to four tasks over an in-memory platform, and
//! checks after every step that:
//!
//! - the core never asked the platform for memory outside a task, or to
//!   write a task's flash (no access left its owner's regions);
//! - no healthy task is blocked on a dead or faulted one;
//! - generations only move forward, one step per death.
//!
//! A panic anywhere in the core is a crash the fuzzer reports by itself.
//! `fuzz/fuzz_targets/kernel_core.rs` calls this; so does a unit test that
//! replays the checked-in corpus on stable Rust (`cargo xtask test`). It
//! is compiled only for tests and for the `fuzzing` feature, and uses no
//! allocation, like the rest of the core.

use crate::task::{IrqRoute, MemoryRegion, Task, TaskDesc};
use crate::{Kernel, Location, Peripheral};
use abi::{Generation, LeaseAttributes, SchedState, TaskId};

/// Tasks in the fuzzed system: supervisor, two servers, a client.
pub const TASKS: usize = 4;
/// Bytes of RAM and of flash per task.
pub const MEMORY: usize = 1024;
const RAM_BASE: u32 = 0x4000_0000;
const FLASH_BASE: u32 = 0x1000_0000;
const STRIDE: u32 = 0x10_0000;

mod platform;
use platform::flash_address;
pub use platform::{MemoryPlatform, ram_address};
/// Steps one input may take; more are ignored.
const MAX_STEPS: usize = 256;

/// What a run found wrong.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Violation {
    /// The core asked for an access outside a task (or into its flash).
    AccessOutsideRegions { task: usize, address: u32 },
    /// A healthy task waits on a dead or faulted peer.
    BlockedOnTheDead { task: usize },
    /// A generation moved by more than one, or backwards.
    GenerationJumped { task: usize },
    /// The effects asked to resume a task that is not runnable, or to
    /// stop one that neither faulted nor restarts.
    InconsistentEffects { task: usize },
}

const SLOTS: [&[u16]; TASKS] = [&[], &[3], &[1, 3], &[]];
const IRQS: &[IrqRoute] = &[IrqRoute {
    peripheral: 0,
    mask: 1 << 3,
}];

fn desc(index: usize) -> TaskDesc {
    TaskDesc {
        priority: [0, 2, 3, 1].get(index).copied().unwrap_or(4),
        start: true,
        regions: [
            MemoryRegion {
                base: flash_address(index, 0),
                size: MEMORY as u32,
                writable: false,
            },
            MemoryRegion {
                base: ram_address(index, 0),
                size: MEMORY as u32,
                writable: true,
            },
        ],
        slots: SLOTS.get(index).copied().unwrap_or(&[]),
        post_to: if index == 3 { &[2] } else { &[] },
        uses: &[0],
        irqs: IRQS,
        kipc_grants: if index == 1 { u64::MAX } else { 0 },
        kernel_notifications: (1 << 3) | abi::INTERNAL_TIMER_NOTIFICATION,
    }
}

/// Reads the fuzzer's bytes one value at a time; zeros once they run out.
struct Input<'a> {
    bytes: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&first, rest)) => {
                self.bytes = rest;
                first
            }
            None => 0,
        }
    }

    fn word(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn task(&mut self) -> usize {
        usize::from(self.byte()) % TASKS
    }

    /// A syscall argument: often something meaningful (a task id, an
    /// address in some task's memory, a small length), sometimes raw.
    fn argument(&mut self, tasks: &[Task]) -> u32 {
        let selector = self.byte();
        let small = u32::from(self.byte());
        match selector % 8 {
            0 => small,
            1 | 2 => {
                let task = self.task();
                ram_address(task, small.wrapping_mul(4))
            }
            3 => {
                let task = self.task();
                let generation =
                    tasks.get(task).map_or(Generation::ZERO, Task::generation);
                let id = TaskId::for_index_and_gen(task, generation);
                u32::from(id.0) << (if self.byte() & 1 == 0 { 0 } else { 16 })
                    | small
            }
            4 => flash_address(self.task(), small),
            5 => small.wrapping_mul(16),
            6 => u32::from(TaskId::KERNEL.0) << 16 | small,
            _ => self.word(),
        }
    }

    /// A lease entry: ordinary (over RAM or flash) or forwarded.
    fn lease(&mut self, tasks: &[Task]) -> [u8; 12] {
        let rights = u32::from(self.byte() & 3);
        let (attributes, base, length) = if self.byte() & 1 == 0 {
            let base = self.argument(tasks);
            (rights, base, u32::from(self.byte()))
        } else {
            let task = self.task();
            let generation =
                tasks.get(task).map_or(Generation::ZERO, Task::generation);
            let lender = TaskId::for_index_and_gen(task, generation);
            let index = self.byte() & 3;
            let forwarded = abi::ULease::forwarded(
                lender,
                index,
                LeaseAttributes(rights),
                u32::from(self.byte()),
                u32::from(self.byte()),
            );
            (
                forwarded.attributes,
                forwarded.base_address,
                forwarded.length,
            )
        };
        let mut raw = [0u8; 12];
        for (chunk, word) in
            raw.chunks_exact_mut(4).zip([attributes, base, length])
        {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        raw
    }
}

/// One step of a run; what the core said the platform must do.
fn step(
    kernel: &mut Kernel<'_, MemoryPlatform>,
    input: &mut Input<'_>,
) -> crate::Effects {
    let task = input.task();
    match input.byte() % 8 {
        0..=3 => {
            // Every syscall (0..=15) and one number past the last.
            let nr = u32::from(input.byte() % 17);
            let mut args = [0u32; 8];
            for arg in &mut args {
                *arg = input.argument(kernel.tasks.as_slice());
            }
            if let Some(t) = kernel.tasks.as_mut_slice().get_mut(task) {
                t.save.args = args;
            }
            kernel.handle_syscall(task, nr)
        }
        4 => {
            // A lease entry (or any 12 bytes) written into RAM, as the
            // task itself or a borrower of its memory could.
            let offset = u32::from(input.byte() % 64).wrapping_mul(12);
            let raw = input.lease(kernel.tasks.as_slice());
            let at = Location {
                task,
                address: ram_address(task, offset),
            };
            let _ = crate::Platform::write(&mut kernel.platform, at, &raw);
            crate::Effects::default()
        }
        5 => kernel.fault(task, abi::FaultInfo::Panic),
        6 => kernel.reinit(task, input.byte() & 1 == 0),
        _ => {
            kernel.platform.now =
                kernel.platform.now.wrapping_add(u64::from(input.byte()));
            let (mut effects, _) = kernel.tick();
            effects.merge(kernel.raise_irq(task, 1 << 3));
            effects
        }
    }
}

/// A resumed task is runnable; a stopped one faulted or restarts.
fn check_effects(
    tasks: &[Task],
    effects: &crate::Effects,
) -> Result<(), Violation> {
    for task in effects.resumed() {
        let runnable = tasks
            .get(task)
            .is_some_and(|t| t.sched() == Some(SchedState::Runnable));
        if !runnable {
            return Err(Violation::InconsistentEffects { task });
        }
    }
    for task in effects.stopped() {
        let faulted = tasks.get(task).is_some_and(Task::is_faulted);
        if !faulted && !effects.restarts(task) {
            return Err(Violation::InconsistentEffects { task });
        }
    }
    Ok(())
}

/// No healthy task is blocked naming a stale or faulted peer.
fn check_blocked(tasks: &[Task]) -> Result<(), Violation> {
    for (index, task) in tasks.iter().enumerate() {
        let peer = match task.sched() {
            Some(SchedState::InSend(p) | SchedState::InReply(p)) => p,
            Some(SchedState::InRecv(Some(p))) if p != TaskId::KERNEL => p,
            _ => continue,
        };
        let alive = tasks.get(peer.index()).is_some_and(|t| {
            t.generation() == peer.generation() && !t.is_faulted()
        });
        if !alive {
            return Err(Violation::BlockedOnTheDead { task: index });
        }
    }
    Ok(())
}

/// Runs the system on `data`; returns every task's final state, or names
/// the first broken invariant.
///
/// # Errors
///
/// The [`Violation`] found.
pub fn run(data: &[u8]) -> Result<[abi::TaskState; TASKS], Violation> {
    let mut tasks = [desc(0), desc(1), desc(2), desc(3)].map(Task::new);
    let mut peripherals = [Peripheral {
        managed_by: Some(1),
        revoked: false,
    }];
    let mut kernel =
        Kernel::new(&mut tasks, &mut peripherals, MemoryPlatform::new());
    let booted = kernel.boot();
    check_effects(kernel.tasks.as_slice(), &booted)?;
    let mut generations = [Generation::ZERO; TASKS];
    let mut input = Input { bytes: data };
    for _ in 0..MAX_STEPS {
        if input.bytes.is_empty() {
            break;
        }
        let effects = step(&mut kernel, &mut input);
        check_effects(kernel.tasks.as_slice(), &effects)?;
        if let Some(error) = kernel.platform.refused.get() {
            return Err(Violation::AccessOutsideRegions {
                task: error.task,
                address: error.address,
            });
        }
        check_blocked(kernel.tasks.as_slice())?;
        for ((index, task), seen) in
            kernel.tasks.iter().enumerate().zip(&mut generations)
        {
            let now = task.generation();
            if now != *seen && now != seen.next() {
                return Err(Violation::GenerationJumped { task: index });
            }
            *seen = now;
        }
    }
    let mut states = [abi::TaskState::default(); TASKS];
    for (state, task) in states.iter_mut().zip(kernel.tasks.iter()) {
        *state = task.state();
    }
    Ok(states)
}
