//! Task memory as the kernel sees it, and the platform half of the kernel
//! core ([`kern::Platform`]).
//!
//! Flash is the kernel's own copy of the task's text and read-only data
//! (the task cannot change its copy). RAM is a memfd the kernel maps into
//! its own address space and the task maps over its RAM range, so every
//! message or lease copy is one bounds-checked `memcpy` between two
//! kernel mappings, and a dead task's RAM is still there to inspect.
//!
//! Host calls are rustix's; `mmap` and `munmap` are `unsafe` there as
//! anywhere, because they make and end the kernel's view of the RAM.

use crate::devices::Devices;
use crate::log::klog;
use kern::{Location, MemoryError, PeripheralFault, Platform};
use std::sync::Arc;

pub use crate::ram::Ram;

/// The kernel's view of one task's memory.
pub struct TaskMemory {
    pub flash_base: u32,
    /// Shared, so that a hash engine transfer from flash keeps it.
    pub flash: Arc<[u8]>,
    pub ram_base: u32,
    pub ram: Ram,
}

/// Everything the kernel core asks of the platform.
pub struct HostPlatform {
    pub memory: Vec<TaskMemory>,
    pub devices: Devices,
    pub names: Vec<String>,
    pub boot: std::time::Instant,
    pub image_id: u64,
    pub shutdown: Option<u32>,
    /// For dumps and the probe: the image's identity.
    pub manifest: image_manifest::ImageManifest,
    pub dumps: crate::dump::DumpDir,
    /// What can be known of each task's registers.
    pub registers: crate::registers::Registry,
    /// Holds and breakpoints of debuggers on the probe.
    pub debug: crate::debug::Debugger,
}

impl HostPlatform {
    /// Writes a dump (named `name` in the dump directory, or the next
    /// automatic name); returns its path. Failures and skips are one-line
    /// reasons, also on the log.
    pub fn write_dump(
        &mut self,
        tasks: &[kern::Task],
        cause: crate::dump::Cause,
        name: Option<&str>,
        reason: &str,
    ) -> Result<std::path::PathBuf, String> {
        let header = debug_protocol::dump::DumpHeader {
            format: debug_protocol::dump::FORMAT.into(),
            name: self.manifest.name.clone(),
            image_id: format!("{:016x}", self.manifest.image_id),
            git_revision: self.manifest.git_revision.clone(),
            uptime_ms: crate::probe::requests::millis(self.boot.elapsed()),
            reason: reason.into(),
            tasks: crate::dump::task_rows(&self.manifest, tasks),
            registers: self.registers.all(&faulted(tasks)),
        };
        let rams: Vec<&[u8]> =
            self.memory.iter().map(|m| m.ram.bytes()).collect();
        let flashes: Vec<&[u8]> =
            self.memory.iter().map(|m| &m.flash[..]).collect();
        // An ELF core: GDB opens it with a task's ELF, humility reads
        // its Leasehold note (debug_protocol::coredump).
        let written = self.dumps.write(cause, name, |file| {
            let out = std::io::BufWriter::new(file);
            debug_protocol::coredump::write(out, &header, &rams, &flashes)?
                .into_inner()
                .map_err(|e| e.into_error())?;
            Ok(())
        });
        match &written {
            Ok(path) => {
                crate::trace::record(crate::trace::Trace::DumpWritten);
                klog!("wrote dump {} ({reason})", path.display());
            }
            Err(e) => klog!("no dump written: {e}"),
        }
        written
    }

    /// Reads task memory for the debugger: flash or RAM, even of a dead
    /// task.
    pub fn read_any(
        &self,
        task: usize,
        address: u32,
        length: u32,
    ) -> Result<Vec<u8>, String> {
        let (Some(t), Some(m)) =
            (self.manifest.tasks.get(task), self.memory.get(task))
        else {
            return Err(format!("no task {task}"));
        };
        let (a, l) = (u64::from(address), u64::from(length));
        let found = if t.ram.contains(a, l) {
            slice_at(m.ram.bytes(), t.ram.base, address, length)
        } else if t.flash.contains(a, l) {
            slice_at(&m.flash, t.flash.base, address, length)
        } else {
            None
        };
        found.map(<[u8]>::to_vec).ok_or_else(|| {
            format!(
                "{address:#x}+{length:#x} is outside task {}'s memory",
                t.name
            )
        })
    }

    /// Writes task RAM for the debugger.
    pub fn write_ram(
        &mut self,
        task: usize,
        address: u32,
        data: &[u8],
    ) -> Result<(), String> {
        let (Some(t), Some(m)) =
            (self.manifest.tasks.get(task), self.memory.get_mut(task))
        else {
            return Err(format!("no task {task}"));
        };
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let outside = || {
            format!(
                "{address:#x}+{:#x} is not in task {}'s RAM",
                data.len(),
                t.name
            )
        };
        if !t.ram.contains(u64::from(address), u64::from(len)) {
            return Err(outside());
        }
        let start = usize::try_from(address.wrapping_sub(t.ram.base))
            .map_err(|_| outside())?;
        let dst = m
            .ram
            .bytes_mut()
            .get_mut(start..)
            .and_then(|r| r.get_mut(..data.len()))
            .ok_or_else(outside)?;
        dst.copy_from_slice(data);
        Ok(())
    }

    /// Where `len` bytes at `at` are: in the task's RAM (the kernel's
    /// mapping), or in the kernel's copy of its flash. The core has
    /// checked the range, but we do not rely on it: anything else is an
    /// error, never an access.
    fn locate(&self, at: Location, len: usize) -> Result<Place, MemoryError> {
        let refused = MemoryError {
            task: at.task,
            address: at.address,
        };
        let memory = self.memory.get(at.task).ok_or(refused)?;
        let address = at.address as usize;
        let end = address.checked_add(len).ok_or(refused)?;
        let ram_base = memory.ram_base as usize;
        if address >= ram_base && end <= ram_base + memory.ram.len() {
            return Ok(Place::Ram(address - ram_base));
        }
        let flash_base = memory.flash_base as usize;
        if address >= flash_base && end <= flash_base + memory.flash.len() {
            return Ok(Place::Flash(address - flash_base));
        }
        Err(refused)
    }

    /// `len` readable bytes at `at`.
    fn readable(&self, at: Location, len: usize) -> Result<&[u8], MemoryError> {
        let refused = MemoryError {
            task: at.task,
            address: at.address,
        };
        let memory = self.memory.get(at.task).ok_or(refused)?;
        let bytes = match self.locate(at, len)? {
            Place::Ram(offset) => memory.ram.bytes().get(offset..offset + len),
            Place::Flash(offset) => memory.flash.get(offset..offset + len),
        };
        bytes.ok_or(refused)
    }

    /// A pointer to `len` writable bytes at `at`: task RAM only, never the
    /// kernel's copy of its flash (a task's flash is read-only, and the
    /// copy is behind a shared reference).
    fn writable(
        &self,
        at: Location,
        len: usize,
    ) -> Result<*mut u8, MemoryError> {
        let refused = MemoryError {
            task: at.task,
            address: at.address,
        };
        let memory = self.memory.get(at.task).ok_or(refused)?;
        match self.locate(at, len)? {
            // Safety: `offset + len` is within the mapping, as `locate`
            // checked; the pointer comes from the mapping's own `*mut u8`.
            Place::Ram(offset) => Ok(unsafe { memory.ram.ptr().add(offset) }),
            Place::Flash(_) => Err(refused),
        }
    }
}

impl HostPlatform {
    /// `len` bytes at `at` as a handle the worker thread can read after
    /// this call returns: it keeps the RAM mapping (or the flash copy)
    /// alive however the task fares meanwhile.
    fn shared(
        &self,
        at: Location,
        len: usize,
    ) -> Result<crate::engine::SharedBytes, MemoryError> {
        let refused = MemoryError {
            task: at.task,
            address: at.address,
        };
        let memory = self.memory.get(at.task).ok_or(refused)?;
        let shared = match self.locate(at, len)? {
            Place::Ram(offset) => crate::engine::SharedBytes::ram(
                memory.ram.mapping(),
                offset,
                len,
            ),
            Place::Flash(offset) => crate::engine::SharedBytes::flash(
                Arc::clone(&memory.flash),
                offset,
                len,
            ),
        };
        shared.ok_or(refused)
    }
}

/// Where a checked range lies in a task's memory: an offset into its RAM
/// or its flash.
enum Place {
    Ram(usize),
    Flash(usize),
}

impl Platform for HostPlatform {
    fn now(&self) -> u64 {
        self.boot.elapsed().as_millis() as u64
    }

    fn copy(
        &mut self,
        src: Location,
        dst: Location,
        len: usize,
    ) -> Result<(), MemoryError> {
        let d = self.writable(dst, len)?;
        let s = self.readable(src, len)?.as_ptr();
        // Safety: both ranges were just checked (`d` in writable RAM);
        // `copy` tolerates overlap (a task lending to itself).
        unsafe { std::ptr::copy(s, d, len) };
        Ok(())
    }

    fn read(&self, at: Location, out: &mut [u8]) -> Result<(), MemoryError> {
        out.copy_from_slice(self.readable(at, out.len())?);
        Ok(())
    }

    fn write(&mut self, at: Location, data: &[u8]) -> Result<(), MemoryError> {
        let d = self.writable(at, data.len())?;
        // Safety: checked writable range, distinct from `data` (a kernel
        // buffer).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), d, data.len()) };
        Ok(())
    }

    fn peripheral_io(
        &mut self,
        peripheral: u16,
        op: abi::PeripheralOp,
        register: u32,
        value: u32,
        memory: Option<(Location, usize)>,
    ) -> Result<u32, PeripheralFault> {
        let now_us = self.boot.elapsed().as_micros() as u64;
        // A hash engine's transfer runs on the worker thread, over a
        // handle to the memory rather than a borrow of it.
        if let (Some((at, len)), true) =
            (memory, self.devices.runs_elsewhere(peripheral as usize, op))
        {
            let bytes = self.shared(at, len).map_err(|_| PeripheralFault)?;
            let periph = peripheral as usize;
            return self.devices.start_elsewhere(periph, bytes).map(|()| 0);
        }
        let bulk = match (op, memory) {
            (_, None) => None,
            (abi::PeripheralOp::ReadIntoMemory, Some((at, len))) => {
                let p = self.writable(at, len).map_err(|_| PeripheralFault)?;
                // Safety: checked writable RAM range; the slice lives for
                // this call only and nothing else refers to it meanwhile.
                let slice = unsafe { std::slice::from_raw_parts_mut(p, len) };
                Some(crate::devices::Bulk::Into(slice))
            }
            (_, Some((at, len))) => {
                let bytes =
                    self.readable(at, len).map_err(|_| PeripheralFault)?;
                // The device reads the task's memory in place (no copy);
                // it is a separate field from the devices, so both can be
                // borrowed at once through a raw pointer only. Safety: the
                // range was checked, and the device only reads it.
                let (ptr, n) = (bytes.as_ptr(), bytes.len());
                Some(crate::devices::Bulk::From(unsafe {
                    std::slice::from_raw_parts(ptr, n)
                }))
            }
        };
        self.devices
            .io(peripheral as usize, op, register, value, bulk, now_us)
    }

    fn image_id(&self) -> u64 {
        self.image_id
    }

    fn console_write(&mut self, task: usize, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let name = self.names.get(task).map_or("?", String::as_str);
        crate::log::console(name, text.trim_end());
    }

    fn shutdown(&mut self, code: u32) {
        self.shutdown = Some(code);
    }

    fn dump(&mut self, tasks: &[kern::Task], culprit: usize) -> bool {
        let name = self.names.get(culprit).cloned().unwrap_or_default();
        let reason = format!("requested because of task {name}");
        let cause = crate::dump::Cause::Task(culprit);
        self.write_dump(tasks, cause, None, &reason).is_ok()
    }
}

/// Which tasks are faulted (their registers are those of the fault).
pub fn faulted(tasks: &[kern::Task]) -> Vec<bool> {
    tasks.iter().map(kern::Task::is_faulted).collect()
}

/// `length` bytes at `address` of a region starting at `base` whose
/// contents are `bytes`; `None` if any of it is outside.
fn slice_at(
    bytes: &[u8],
    base: u32,
    address: u32,
    length: u32,
) -> Option<&[u8]> {
    let start = usize::try_from(address.checked_sub(base)?).ok()?;
    let len = usize::try_from(length).ok()?;
    bytes.get(start..)?.get(..len)
}
