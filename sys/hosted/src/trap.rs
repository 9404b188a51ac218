//! Traps: what the seccomp listener reports of a task, decoded, and the
//! answer that resumes the task.
//!
//! A task reaches the kernel by executing `syscall` with a number in the
//! kernel's private range and the address of its [`SyscallFrame`] (see
//! `abi::HOSTED_SYSCALL_BASE`). The listener reports that number and
//! address; the arguments are in the frame, in task RAM, read once and
//! whole through [`read_frame`] (checked like any pointer a task hands
//! us: a bad one faults the task). The results go back into the same
//! frame before the task is let go ([`Hosted::answer`]).
//!
//! Three other things reach the listener: a new process's `execveat` of
//! its task image, let through once; the task's one `mmap` of its RAM
//! memfd at start, let through by [`is_ram_mmap`]; and anything else the
//! first seccomp filter routes here (a second `execveat`, or any trap
//! before the first), which faults the task.
//!
//! One listener serves every task, so a trap names its process only by
//! pid: it belongs to the task whose *current* process has that pid, or
//! to nobody (a process already killed, whose pid cannot be reused until
//! we reap it), and is then ignored.
//!
//! The listener's `ioctl`s are in [`crate::seccomp`]; nothing here is
//! `unsafe`.

use crate::event_loop::Hosted;
use crate::memory::HostPlatform;
use crate::seccomp::{self, Notif};
use abi::{FaultInfo, FaultSource, SyscallFrame};
use image_manifest::{Region, TaskEntry};
use kern::Kernel;
use std::os::fd::AsFd;
use zerocopy::{FromBytes, IntoBytes};

/// The kernel's private syscall numbers: `HOSTED_SYSCALL_BASE ..` 256.
const KERNEL_CALLS: std::ops::Range<u32> = {
    let base = abi::HOSTED_SYSCALL_BASE as u32;
    base..base + 0x100
};

impl Hosted {
    /// A task trapped: one of the kernel's syscalls, its first
    /// `execveat`, the one `mmap` of its RAM, or something forbidden.
    ///
    /// Returns [`Handled::PlainIpc`] for a call that cannot have set or
    /// moved a deadline, after which the loop may skip the timer and
    /// device pass ([`Hosted::apply_after_ipc`]).
    pub fn on_trap(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        n: &Notif,
    ) -> Handled {
        let Some(i) = self.task_of_pid(n.pid as libc::pid_t) else {
            return Handled::Other; // killed: its successor starts afresh
        };
        if self.effects.stops(i) || self.effects.restarts(i) {
            // The core has already faulted or restarted this incarnation;
            // what its process asked for since is void (it is about to be
            // killed, and its successor starts from scratch).
            return Handled::Other;
        }
        let Some(slot) = self.slots[i].as_mut() else {
            return Handled::Other;
        };
        let nr = n.data.nr as u32;
        if !slot.exec_admitted && nr == seccomp::NR_EXECVEAT {
            // The spawn's own `execveat` of the task image (F2 is in
            // place and we trace it: see `process::spawn`).
            slot.exec_admitted = true;
            let _ = seccomp::respond(self.listener.as_fd(), n.id, true);
        } else if slot.exec_admitted && KERNEL_CALLS.contains(&nr) {
            return self.on_kernel_call(k, i, n);
        } else if slot.exec_admitted
            && nr == seccomp::NR_MMAP
            && !slot.ram_mapped
            && is_ram_mmap(&self.manifest.tasks[i], n)
        {
            self.on_ram_mmap(k, i, n.id);
        } else {
            let pc = u32::try_from(n.data.instruction_pointer).unwrap_or(0);
            crate::trace::record(crate::trace::Trace::ForbiddenTrap {
                task: i as u16,
                number: nr,
            });
            self.effects
                .merge(k.fault(i, FaultInfo::HostSyscall { number: nr, pc }));
        }
        Handled::Other
    }

    /// One of the kernel's syscalls: its frame's arguments go to the core,
    /// and the task waits for its answer.
    fn on_kernel_call(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        i: usize,
        n: &Notif,
    ) -> Handled {
        let frame = n.data.args[0];
        let ram = &self.manifest.tasks[i].ram;
        let Some(read) =
            read_frame(ram, k.platform.memory[i].ram.bytes(), frame)
        else {
            let f = FaultInfo::MemoryAccess {
                address: u32::try_from(frame).ok(),
                source: FaultSource::User,
            };
            self.effects.merge(k.fault(i, f));
            return Handled::Other;
        };
        if let Some(slot) = self.slots[i].as_mut() {
            slot.pending = Some(n.id);
            // In RAM, so below 4 GiB (checked by `read_frame`).
            slot.frame = frame as u32;
        }
        k.tasks.as_mut_slice()[i].save.args = read.args;
        let number = n.data.nr as u32 - KERNEL_CALLS.start;
        self.effects.merge(k.handle_syscall(i, number));
        if is_plain_ipc(number, &read.args) {
            Handled::PlainIpc
        } else {
            Handled::Other
        }
    }

    /// The task maps its RAM: it has not run its own code yet, so its
    /// breakpoints go in now, before it does.
    fn on_ram_mmap(
        &mut self,
        k: &mut Kernel<'_, HostPlatform>,
        i: usize,
        id: u64,
    ) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        slot.ram_mapped = true;
        k.platform.debug.started(i, slot.process.pid);
        // Fails only if the task died meanwhile (SIGCHLD says so).
        let _ = seccomp::respond(self.listener.as_fd(), id, true);
    }

    /// Answers task `i`'s pending syscall: its `save.rets` go into the
    /// frame it trapped with, then the task runs on.
    pub fn answer(&mut self, k: &mut Kernel<'_, HostPlatform>, i: usize) {
        let Some(slot) = self.slots[i].as_mut() else {
            return;
        };
        let Some(id) = slot.pending.take() else {
            return;
        };
        let rets = k.tasks.as_slice()[i].save.rets;
        let at = kern::Location {
            task: i,
            address: slot.frame
                + std::mem::offset_of!(SyscallFrame, rets) as u32,
        };
        if let Err(e) =
            kern::Platform::write(&mut k.platform, at, rets.as_bytes())
        {
            // The frame was checked to be in the task's RAM at the trap,
            // so this cannot happen; if it did, the task cannot be
            // answered and is faulted rather than left hanging.
            self.effects.merge(k.fault(i, e.fault()));
            return;
        }
        // ENOENT means the task died meanwhile, which SIGCHLD will tell
        // us about.
        let _ = seccomp::respond(self.listener.as_fd(), id, false);
    }
}

/// What a trap was, as far as the loop's next step is concerned.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    /// A kernel call that moves messages, leases or notifications between
    /// tasks and nothing else: it sets no timer, touches no device and
    /// changes no task's life (IPC's hot path).
    PlainIpc,
    /// Anything else.
    Other,
}

/// Whether kernel call `number` with `args` is [`Handled::PlainIpc`].
/// Every other call may set or move a task's or a device's deadline
/// (SET_TIMER, PERIPHERAL_IO, IRQ calls, any kipc), so the loop follows
/// it with the full timer and device pass. A plain IPC call that faults
/// its caller only clears a deadline, which at worst wakes the timer
/// once for nothing.
pub fn is_plain_ipc(number: u32, args: &[u32; 8]) -> bool {
    use abi::Sysnum;
    match Sysnum::try_from(number) {
        // SEND's target is the top half of its first word; SENDs to the
        // kernel are kipc.
        Ok(Sysnum::Send) => args[0] >> 16 != u32::from(abi::TaskId::KERNEL.0),
        Ok(
            Sysnum::Recv
            | Sysnum::Reply
            | Sysnum::ReplyRecv
            | Sysnum::BorrowRead
            | Sysnum::BorrowWrite
            | Sysnum::BorrowInfo
            | Sysnum::GetTimer
            | Sysnum::RefreshTaskId
            | Sysnum::Post,
        ) => true,
        _ => false,
    }
}

/// The [`SyscallFrame`] a task says is at `frame`, read from its RAM
/// (`ram_bytes`, mapped at `ram`), or `None` when that is not a
/// word-aligned frame wholly inside its RAM (the task faults: a syscall's
/// frame is a pointer like any other).
pub fn read_frame(
    ram: &Region,
    ram_bytes: &[u8],
    frame: u64,
) -> Option<SyscallFrame> {
    let size = std::mem::size_of::<SyscallFrame>();
    if !frame.is_multiple_of(4) || !ram.contains(frame, size as u64) {
        return None;
    }
    let off = usize::try_from(frame - u64::from(ram.base)).ok()?;
    let bytes = ram_bytes.get(off..off.checked_add(size)?)?;
    SyscallFrame::read_from_bytes(bytes).ok()
}

/// The one `mmap` a task may make: its RAM memfd over its RAM range,
/// read-write (`PROT_READ | PROT_WRITE`), shared and fixed
/// (`MAP_SHARED | MAP_FIXED`), from offset 0.
pub fn is_ram_mmap(t: &TaskEntry, n: &Notif) -> bool {
    let r = &t.ram;
    let args = [
        r.base as u64,
        r.size as u64,
        3,
        0x11,
        abi::HOSTED_RAM_FD as u64,
        0,
    ];
    n.data.args == args
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: Region = Region {
        base: 0x1000_0000,
        size: 0x100,
    };

    fn ram_bytes() -> Vec<u8> {
        (0..RAM.size).map(|b| b as u8).collect()
    }

    #[test]
    fn a_frame_inside_ram_is_read_whole() {
        let bytes = ram_bytes();
        let f = read_frame(&RAM, &bytes, u64::from(RAM.base) + 8).unwrap();
        assert_eq!(f.args[0], u32::from_le_bytes([8, 9, 10, 11]));
        assert_eq!(f.rets[7], u32::from_le_bytes([68, 69, 70, 71]));
        let last = u64::from(RAM.base + RAM.size) - 64;
        assert!(read_frame(&RAM, &bytes, last).is_some());
    }

    #[test]
    fn a_frame_a_task_could_abuse_is_refused() {
        let bytes = ram_bytes();
        let base = u64::from(RAM.base);
        let end = base + u64::from(RAM.size);
        for frame in [
            base + 2,                       // misaligned
            base - 4,                       // below RAM (the guard)
            end - 60,                       // runs past the end
            end,                            // just past
            0,                              // null
            u64::MAX - 3,                   // wraps
            u64::from(u32::MAX) + 1 + base, // above 4 GiB, aliasing RAM
        ] {
            assert!(read_frame(&RAM, &bytes, frame).is_none(), "{frame:#x}");
        }
    }

    #[test]
    fn only_calls_that_cannot_move_a_deadline_are_plain_ipc() {
        use abi::Sysnum;
        let to_task = [3 << 16 | 1, 0, 0, 0, 0, 0, 0, 0];
        let to_kernel = [0xFFFF << 16 | 1, 0, 0, 0, 0, 0, 0, 0];
        assert!(is_plain_ipc(Sysnum::Send as u32, &to_task));
        assert!(!is_plain_ipc(Sysnum::Send as u32, &to_kernel));
        for plain in [Sysnum::ReplyRecv, Sysnum::Recv, Sysnum::BorrowRead] {
            assert!(is_plain_ipc(plain as u32, &to_task), "{plain:?}");
        }
        for timed in [
            Sysnum::SetTimer,
            Sysnum::PeripheralIo,
            Sysnum::IrqControl,
            Sysnum::IrqStatus,
            Sysnum::Panic,
            Sysnum::ReplyFault,
        ] {
            assert!(!is_plain_ipc(timed as u32, &to_task), "{timed:?}");
        }
        assert!(!is_plain_ipc(0xFF, &to_task)); // no such call
    }

    #[test]
    fn a_ram_image_shorter_than_its_region_is_not_read_past() {
        let bytes = vec![0u8; 32];
        assert!(read_frame(&RAM, &bytes, u64::from(RAM.base)).is_none());
    }
}
