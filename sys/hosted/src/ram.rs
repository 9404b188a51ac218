//! One task incarnation's RAM as the kernel holds it: a memfd, which the
//! task maps over its RAM range, and the kernel's own mapping of it.
//!
//! The mapping is shared ([`Mapping`] behind an `Arc`) so that a reader
//! outside the event loop, the hash engine's worker thread
//! ([`crate::engine`]), keeps it mapped after the incarnation is gone.
//!
//! Host calls are rustix's; `mmap` and `munmap` are `unsafe` there as
//! anywhere, because they make and end the kernel's view of the RAM.

use std::os::fd::OwnedFd;
use std::sync::Arc;

/// The kernel's mapping of one incarnation's RAM, unmapped when the last
/// holder lets go: the [`Ram`] of the task, and any hash engine transfer
/// still reading it on the worker thread ([`crate::engine`]), so a task
/// restarted mid-transfer never leaves the worker reading unmapped memory.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// Safety: the mapping is plain shared memory, valid until `Drop`; its
// bytes may change under any reader (the task writes them through its own
// mapping), which every reader accepts: bytes are bytes.
unsafe impl Send for Mapping {}
// Safety: as for `Send`; `&Mapping` gives only its pointer and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// The first byte.
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Safety: unmapping our own mapping once, when its last holder
        // drops it; nothing borrows it past that.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len.max(1)) };
    }
}

/// One incarnation's RAM: a memfd and the kernel's mapping of it.
pub struct Ram {
    pub fd: OwnedFd,
    map: Arc<Mapping>,
}

impl Ram {
    /// A fresh memfd holding `init`.
    pub fn new(name: &str, init: &[u8]) -> std::io::Result<Self> {
        use rustix::mm::{MapFlags, ProtFlags};
        let cname = std::ffi::CString::new(name).unwrap_or_default();
        let flags = rustix::fs::MemfdFlags::CLOEXEC;
        let fd = rustix::fs::memfd_create(cname.as_c_str(), flags)?;
        let len = init.len();
        rustix::fs::ftruncate(&fd, len as u64)?;
        // Safety: a new shared mapping of our own memfd, placed by the
        // host (no address given), so it overlaps nothing of ours.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len.max(1),
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        let map = Arc::new(Mapping {
            ptr: ptr.cast::<u8>(),
            len,
        });
        // Safety: the mapping is `len` bytes long and ours.
        unsafe { std::ptr::copy_nonoverlapping(init.as_ptr(), map.ptr, len) };
        Ok(Self { fd, map })
    }

    /// The mapping, for a reader that may outlive this incarnation.
    pub fn mapping(&self) -> Arc<Mapping> {
        Arc::clone(&self.map)
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.map.len
    }

    /// The kernel's pointer to its first byte.
    pub fn ptr(&self) -> *mut u8 {
        self.map.ptr
    }

    pub fn bytes(&self) -> &[u8] {
        // Safety: the mapping lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.map.ptr, self.map.len) }
    }

    /// The RAM, writable. The task may write it at the same time through
    /// its own mapping: for the debugger's writes that is the point, and
    /// bytes are bytes (no invariant of ours lives in task RAM).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // Safety: the mapping lives as long as `self`, and `&mut self`
        // makes this the kernel's only view of it for the borrow.
        unsafe { std::slice::from_raw_parts_mut(self.map.ptr, self.map.len) }
    }
}
