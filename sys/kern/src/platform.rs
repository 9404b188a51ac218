//! What the kernel core needs from a platform.

use abi::PeripheralOp;

/// A byte address in a task's address space. Only ever constructed by the
/// core after checking the slice against the task's regions.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Location {
    pub task: usize,
    pub address: u32,
}

/// A device refused an access (bad register, unsupported operation).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct PeripheralFault;

/// Memory, time and devices, as the platform provides them.
///
/// Every `Location` handed to these methods has been checked by the core
/// against the owning task's memory regions, so implementations copy
/// without further checks and cannot fail.
pub trait Platform {
    /// Milliseconds since boot.
    fn now(&self) -> u64;

    /// Copies `len` bytes from `src` to `dst` (different tasks).
    fn copy(&mut self, src: Location, dst: Location, len: usize);

    /// Reads task memory into a kernel buffer.
    fn read(&self, at: Location, out: &mut [u8]);

    /// Writes a kernel buffer into task memory.
    fn write(&mut self, at: Location, data: &[u8]);

    /// Performs a peripheral access for a task whose grant has been checked.
    /// `memory` is the checked task memory the operation names (the caller's
    /// own buffer, or a resolved lease) for the bulk operations. Returns the
    /// value for `ReadRegister`.
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
