//! The core's `Platform` on this board: task memory is physical memory,
//! so a copy is a `memcpy` after checking both ranges against the tasks'
//! regions (again: the core checked them already, but the kernel must not
//! be the one to fault if it ever got that wrong).

use abi::PeripheralOp;
use kern::{Location, MemoryError, PeripheralFault, Platform};

use crate::config::TASKS;
use crate::console;
use crate::devices::{Bulk, Devices};

pub struct Mps2 {
    /// Milliseconds since boot, counted by SysTick.
    pub ticks: u64,
    /// Set by kipc `shutdown`; the kernel exits once the event is done.
    pub shutdown: Option<u32>,
    pub devices: Devices,
}

impl Mps2 {
    pub fn new() -> Self {
        Self {
            ticks: 0,
            shutdown: None,
            devices: Devices::new(),
        }
    }

    /// Microseconds since boot, for the device models.
    pub fn now_us(&self) -> u64 {
        crate::arch::uptime_ns(self.ticks) / 1000
    }
}

/// The address of `[at.address, at.address + len)` if it lies in task
/// `at.task`'s RAM, or (for reads) its flash.
fn checked(
    at: Location,
    len: usize,
    write: bool,
) -> Result<usize, MemoryError> {
    let refused = MemoryError {
        task: at.task,
        address: at.address,
    };
    let task = TASKS.get(at.task).ok_or(refused)?;
    let len = u32::try_from(len).map_err(|_| refused)?;
    let inside = |(base, size): (u32, u32)| {
        let end = u64::from(at.address) + u64::from(len);
        at.address >= base && end <= u64::from(base) + u64::from(size)
    };
    if inside(task.ram) {
        Ok(at.address as usize)
    } else if inside(task.flash) {
        if write {
            Err(refused)
        } else {
            Ok(at.address as usize)
        }
    } else {
        Err(refused)
    }
}

impl Platform for Mps2 {
    fn now(&self) -> u64 {
        self.ticks
    }

    fn copy(
        &mut self,
        src: Location,
        dst: Location,
        len: usize,
    ) -> Result<(), MemoryError> {
        let from = checked(src, len, false)?;
        let to = checked(dst, len, true)?;
        // Safety: both ranges lie wholly in a task's memory (checked on
        // the lines above), which the kernel may read and write through
        // the privileged default map; `copy` allows overlap.
        unsafe {
            core::ptr::copy(from as *const u8, to as *mut u8, len);
        }
        Ok(())
    }

    fn read(&self, at: Location, out: &mut [u8]) -> Result<(), MemoryError> {
        let from = checked(at, out.len(), false)?;
        // Safety: as in `copy`; `out` is kernel memory, never task memory.
        unsafe {
            core::ptr::copy_nonoverlapping(
                from as *const u8,
                out.as_mut_ptr(),
                out.len(),
            );
        }
        Ok(())
    }

    fn write(&mut self, at: Location, data: &[u8]) -> Result<(), MemoryError> {
        let to = checked(at, data.len(), true)?;
        // Safety: as in `read`.
        unsafe {
            core::ptr::copy_nonoverlapping(
                data.as_ptr(),
                to as *mut u8,
                data.len(),
            );
        }
        Ok(())
    }

    fn peripheral_io(
        &mut self,
        peripheral: u16,
        op: PeripheralOp,
        register: u32,
        value: u32,
        memory: Option<(Location, usize)>,
    ) -> Result<u32, PeripheralFault> {
        let now_us = self.now_us();
        let bulk = match (op, memory) {
            (_, None) => None,
            (PeripheralOp::ReadIntoMemory, Some((at, len))) => {
                let p = checked(at, len, true).map_err(|_| PeripheralFault)?;
                // Safety: task RAM (checked writable just above), which
                // no one else touches while the kernel runs; the slice
                // lives for this call only.
                Some(Bulk::Into(unsafe {
                    core::slice::from_raw_parts_mut(p as *mut u8, len)
                }))
            }
            (_, Some((at, len))) => {
                let p = checked(at, len, false).map_err(|_| PeripheralFault)?;
                // Safety: task memory (checked just above) that the
                // device only reads, in place, for this call.
                Some(Bulk::From(unsafe {
                    core::slice::from_raw_parts(p as *const u8, len)
                }))
            }
        };
        self.devices.io(
            usize::from(peripheral),
            op,
            register,
            value,
            bulk,
            now_us,
        )
    }

    fn image_id(&self) -> u64 {
        crate::config::IMAGE_ID
    }

    fn console_write(&mut self, task: usize, line: &[u8]) {
        let name = TASKS.get(task).map_or("?", |t| t.name);
        let line = line.trim_ascii_end();
        console::line(format_args!("[{name}] {}", Printable(line)));
    }

    fn shutdown(&mut self, code: u32) {
        self.shutdown = Some(code);
    }

    fn dump(&mut self, _tasks: &[kern::Task], _culprit: usize) -> bool {
        // Dumps are files on the hosted board; here a debugger reads the
        // board's RAM through QEMU's GDB stub instead.
        false
    }
}

/// A task's bytes, shown safely (see `console::bytes`).
struct Printable<'a>(&'a [u8]);

impl core::fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            let c = if b == b'\t' || (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            };
            core::fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}
