//! What the kernel core needs from a platform.

use abi::PeripheralOp;

pub use crate::umem::MemoryError;

/// A byte address in a task's address space. Only ever constructed by the
/// core after checking the slice against the task's regions.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Location {
    pub task: usize,
    pub address: u32,
}

/// A device refused an access (bad register, unsupported operation, or
/// memory the platform would not hand it).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct PeripheralFault;

/// Memory, time and devices, as the platform provides them.
///
/// Every `Location` handed to these methods has been checked by the core
/// against the owning task's memory regions, with the access the method
/// needs. Implementations check again all the same and return an error
/// rather than touch memory outside a task (or write to its flash): the
/// kernel process must not die of a mistake in the core's checks.
pub trait Platform {
    /// Milliseconds since boot.
    fn now(&self) -> u64;

    /// Copies `len` bytes from `src` to `dst` (`dst` writable).
    ///
    /// # Errors
    ///
    /// The side whose range is not in its task's memory.
    fn copy(
        &mut self,
        src: Location,
        dst: Location,
        len: usize,
    ) -> Result<(), MemoryError>;

    /// Reads task memory into a kernel buffer.
    ///
    /// # Errors
    ///
    /// If the range is not in the task's memory.
    fn read(&self, at: Location, out: &mut [u8]) -> Result<(), MemoryError>;

    /// Writes a kernel buffer into task memory (RAM only).
    ///
    /// # Errors
    ///
    /// If the range is not in the task's writable memory.
    fn write(&mut self, at: Location, data: &[u8]) -> Result<(), MemoryError>;

    /// Performs a peripheral access for a task whose grant has been checked.
    /// `memory` is the checked task memory the operation names (the caller's
    /// own buffer, or a resolved lease) for the bulk operations: the device
    /// reads it for `WriteFromMemory`/`WriteFromLease` and writes it for
    /// `ReadIntoMemory`. Returns the value for `ReadRegister`.
    fn peripheral_io(
        &mut self,
        peripheral: u16,
        op: PeripheralOp,
        register: u32,
        value: u32,
        memory: Option<(Location, usize)>,
    ) -> Result<u32, PeripheralFault>;

    /// Identifies the running image (kipc `read_image_id`).
    fn image_id(&self) -> u64;

    /// Prints a line from task `task` on the console (kipc
    /// `console_write`).
    fn console_write(&mut self, task: usize, line: &[u8]);

    /// Stops the system with `code` (kipc `shutdown`).
    fn shutdown(&mut self, code: u32);

    /// Records every task's memory and `tasks` for later inspection,
    /// because of task `culprit` (kipc `dump_task`); whether it worked.
    fn dump(&mut self, tasks: &[crate::Task], culprit: usize) -> bool;
}
