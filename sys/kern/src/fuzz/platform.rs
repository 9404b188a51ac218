//! The fuzzed system's memory: every task's RAM and flash as arrays, with
//! the first access the core should never have asked for kept aside.

use super::{FLASH_BASE, MEMORY, RAM_BASE, STRIDE, TASKS};
use crate::task::Task;
use crate::{Location, MemoryError, PeripheralFault};
use abi::PeripheralOp;

/// The address of byte `offset` of task `task`'s RAM.
pub fn ram_address(task: usize, offset: u32) -> u32 {
    let task = u32::try_from(task).unwrap_or(0);
    RAM_BASE
        .wrapping_add(task.wrapping_mul(STRIDE))
        .wrapping_add(offset)
}

pub(super) fn flash_address(task: usize, offset: u32) -> u32 {
    let task = u32::try_from(task).unwrap_or(0);
    FLASH_BASE
        .wrapping_add(task.wrapping_mul(STRIDE))
        .wrapping_add(offset)
}

/// Every task's memory, and the first access the core should not have
/// asked for.
pub struct MemoryPlatform {
    pub(super) ram: [[u8; MEMORY]; TASKS],
    pub(super) flash: [[u8; MEMORY]; TASKS],
    pub(super) now: u64,
    pub(super) refused: core::cell::Cell<Option<MemoryError>>,
}

impl Default for MemoryPlatform {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryPlatform {
    pub fn new() -> Self {
        Self {
            ram: [[0; MEMORY]; TASKS],
            flash: [[0xA5; MEMORY]; TASKS],
            now: 0,
            refused: core::cell::Cell::new(None),
        }
    }

    /// The offset of `[at, at + length)` in the task's RAM or flash.
    fn find(
        &self,
        at: Location,
        length: usize,
        write: bool,
    ) -> Option<(bool, usize)> {
        let inside = |base: u32| {
            let offset = usize::try_from(at.address.checked_sub(base)?).ok()?;
            (offset.checked_add(length)? <= MEMORY).then_some(offset)
        };
        if at.task >= TASKS {
            return None;
        }
        if let Some(offset) = inside(ram_address(at.task, 0)) {
            return Some((true, offset));
        }
        let offset = inside(flash_address(at.task, 0))?;
        (!write).then_some((false, offset))
    }

    /// The first access the platform refused, if any.
    pub fn first_refusal(&self) -> Option<MemoryError> {
        self.refused.get()
    }

    fn refuse(&self, at: Location) -> MemoryError {
        let error = MemoryError {
            task: at.task,
            address: at.address,
        };
        if self.refused.get().is_none() {
            self.refused.set(Some(error));
        }
        error
    }

    fn bytes(&self, at: Location, length: usize) -> Option<&[u8]> {
        let (ram, offset) = self.find(at, length, false)?;
        let memory = if ram {
            self.ram.get(at.task)?
        } else {
            self.flash.get(at.task)?
        };
        memory.get(offset..offset.checked_add(length)?)
    }

    fn bytes_mut(&mut self, at: Location, length: usize) -> Option<&mut [u8]> {
        let (_, offset) = self.find(at, length, true)?;
        self.ram
            .get_mut(at.task)?
            .get_mut(offset..offset.checked_add(length)?)
    }
}

impl crate::Platform for MemoryPlatform {
    fn now(&self) -> u64 {
        self.now
    }

    fn copy(
        &mut self,
        src: Location,
        dst: Location,
        len: usize,
    ) -> Result<(), MemoryError> {
        let mut buffer = [0u8; MEMORY];
        let Some(staging) = buffer.get_mut(..len) else {
            return Err(self.refuse(src));
        };
        match self.bytes(src, len) {
            Some(bytes) => staging.copy_from_slice(bytes),
            None => return Err(self.refuse(src)),
        }
        match self.bytes_mut(dst, len) {
            Some(bytes) => bytes.copy_from_slice(staging),
            None => return Err(self.refuse(dst)),
        }
        Ok(())
    }

    fn read(&self, at: Location, out: &mut [u8]) -> Result<(), MemoryError> {
        match self.bytes(at, out.len()) {
            Some(bytes) => {
                out.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(self.refuse(at)),
        }
    }

    fn write(&mut self, at: Location, data: &[u8]) -> Result<(), MemoryError> {
        match self.bytes_mut(at, data.len()) {
            Some(bytes) => {
                bytes.copy_from_slice(data);
                Ok(())
            }
            None => Err(self.refuse(at)),
        }
    }

    fn peripheral_io(
        &mut self,
        _peripheral: u16,
        op: PeripheralOp,
        _register: u32,
        _value: u32,
        memory: Option<(Location, usize)>,
    ) -> Result<u32, PeripheralFault> {
        if let Some((at, length)) = memory {
            let fine = match op {
                PeripheralOp::ReadIntoMemory => {
                    self.bytes_mut(at, length).is_some()
                }
                _ => self.bytes(at, length).is_some(),
            };
            if !fine {
                self.refuse(at);
                return Err(PeripheralFault);
            }
        }
        Ok(0)
    }

    fn image_id(&self) -> u64 {
        0
    }

    fn console_write(&mut self, _task: usize, _line: &[u8]) {}

    fn shutdown(&mut self, _code: u32) {}

    fn dump(&mut self, _tasks: &[Task], _culprit: usize) -> bool {
        true
    }
}
