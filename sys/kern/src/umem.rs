//! Task memory: slices a task alleges, and every copy the kernel makes.
//!
//! A [`USlice`] is only an *allegation* by a task, as in Hubris: touching
//! it goes through the `Kernel` methods here, which check it against its
//! owner's memory regions (with the access needed) on every use, not only
//! when the syscall that named it arrived. A slice named at SEND is read
//! again at RECV or at a borrow, possibly much later, and the kernel does
//! not trust that nothing changed in between. The platform checks once
//! more and returns an error rather than touching memory outside a task;
//! the core turns that error into a fault of the task whose memory it was.

use crate::err::UserError;
use crate::task::{Task, TaskIndex};
use crate::{Kernel, Location, Platform};
use abi::{FaultInfo, FaultSource, UsageError};

/// An address and a length a task named.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq)]
pub struct USlice {
    pub base: u32,
    pub length: u32,
}

impl USlice {
    pub const fn new(base: u32, length: u32) -> Self {
        Self { base, length }
    }

    /// The slice's first `length` bytes (no more than it has).
    pub fn prefix(&self, length: u32) -> Self {
        Self::new(self.base, self.length.min(length))
    }
}

/// A memory access the core or the platform refused: `address` in task
/// `task`'s memory. Whoever owns that memory made the mistake.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct MemoryError {
    pub task: usize,
    pub address: u32,
}

impl MemoryError {
    /// The fault the owner of the memory takes.
    pub fn fault(&self) -> FaultInfo {
        FaultInfo::MemoryAccess {
            address: Some(self.address),
            source: FaultSource::User,
        }
    }
}

/// Checks a slice task `task` named: `InvalidSlice` if it wraps around the
/// address space, `MemoryAccess` if it is not in the task's memory with
/// the access needed.
pub(crate) fn check_slice(
    task: &Task,
    slice: USlice,
    write: bool,
) -> Result<(), UserError> {
    if slice.base.checked_add(slice.length).is_none() {
        return Err(UsageError::InvalidSlice.into());
    }
    if !task.desc.can_access(slice.base, slice.length, write) {
        return Err(crate::err::memory_fault(slice.base));
    }
    Ok(())
}

impl<P: Platform> Kernel<'_, P> {
    /// `slice` of task `owner`, checked for `write` access, as a
    /// location; empty slices are valid anywhere and never reach the
    /// platform.
    fn checked(
        &self,
        owner: TaskIndex,
        slice: USlice,
        write: bool,
    ) -> Result<Location, MemoryError> {
        let refused = MemoryError {
            task: owner.get(),
            address: slice.base,
        };
        check_slice(&self.tasks[owner], slice, write).map_err(|_| refused)?;
        Ok(Location {
            task: owner.get(),
            address: slice.base,
        })
    }

    /// Reads `out.len()` bytes at `address` of task `owner`.
    pub(crate) fn read_user(
        &self,
        owner: TaskIndex,
        address: u32,
        out: &mut [u8],
    ) -> Result<(), MemoryError> {
        if out.is_empty() {
            return Ok(());
        }
        let length = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let at = self.checked(owner, USlice::new(address, length), false)?;
        self.platform.read(at, out)
    }

    /// Writes `data` at `address` of task `owner`.
    pub(crate) fn write_user(
        &mut self,
        owner: TaskIndex,
        address: u32,
        data: &[u8],
    ) -> Result<(), MemoryError> {
        if data.is_empty() {
            return Ok(());
        }
        let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let at = self.checked(owner, USlice::new(address, length), true)?;
        self.platform.write(at, data)
    }

    /// Copies `length` bytes from `source` to `destination` (in different
    /// tasks, or the same one).
    pub(crate) fn copy_user(
        &mut self,
        source: (TaskIndex, u32),
        destination: (TaskIndex, u32),
        length: u32,
    ) -> Result<(), MemoryError> {
        if length == 0 {
            return Ok(());
        }
        let from =
            self.checked(source.0, USlice::new(source.1, length), false)?;
        let to = self.checked(
            destination.0,
            USlice::new(destination.1, length),
            true,
        )?;
        self.platform.copy(from, to, length as usize)
    }

    /// Faults the task whose memory an access was refused in: the side
    /// that made the mistake, as Hubris's `InteractFault` decides. `Ok`
    /// if that was someone else (the caller carries on), the caller's own
    /// fault otherwise.
    pub(crate) fn blame(
        &mut self,
        caller: TaskIndex,
        error: MemoryError,
    ) -> Result<(), UserError> {
        let fault = error.fault();
        match TaskIndex::new(&self.tasks, error.task) {
            Some(owner) if owner != caller => {
                crate::task::force_fault(&mut self.tasks, owner, fault);
                Ok(())
            }
            _ => Err(UserError::Unrecoverable(fault)),
        }
    }
}
