//! Unit and property tests of the core with in-memory tasks.

// Tests check the effects an event returns where they are the point.
#![allow(unused_must_use)]

use crate::task::{MemoryRegion, Task, TaskDesc};
use crate::{
    Effects, Kernel, Location, MemoryError, Peripheral, PeripheralFault,
    Platform,
};
use abi::*;
use proptest::prelude::*;

mod attacks;
mod fuzz_corpus;
mod grants;
mod ipc_edges;
mod ipc_property;
mod lease_info;
mod leases;
mod reply_recv;

const FLASH: u32 = 0x1000_0000;
const RAM: u32 = 0x4000_0000;
const RAM_SIZE: u32 = 0x1000;
const FLASH_SIZE: u32 = 0x1000;
const STRIDE: u32 = 0x10_0000;

/// Memory as plain vectors, with the regions `desc` gives each task;
/// records every copy so tests can check who was touched, and refuses
/// (and records) any access outside a task's RAM, which the core must
/// never ask for.
#[derive(Default)]
struct FakePlatform {
    ram: Vec<Vec<u8>>,
    /// Each task's flash: readable, never writable.
    flash: Vec<Vec<u8>>,
    now: u64,
    copies: Vec<(Location, Location)>,
    console: Vec<(usize, Vec<u8>)>,
    dumps: Vec<usize>,
    refused: Vec<(Location, usize)>,
    /// Every device access the core asked for, in order.
    device: Vec<DeviceCall>,
    /// The codes `shutdown` was called with.
    shutdowns: Vec<u32>,
}

/// One `Platform::peripheral_io` call, as the core made it.
#[derive(Clone, Debug, PartialEq)]
struct DeviceCall {
    peripheral: u16,
    op: PeripheralOp,
    register: u32,
    value: u32,
    memory: Option<(Location, usize)>,
}

/// Where a range lies: RAM or flash, and the offset there.
#[derive(Copy, Clone)]
enum Place {
    Ram(usize),
    Flash(usize),
}

impl FakePlatform {
    /// Where `[at, at + len)` is in its task's memory, if it is there.
    fn at(&self, l: Location, len: usize) -> Result<Place, MemoryError> {
        let err = MemoryError {
            task: l.task,
            address: l.address,
        };
        let inside = |base: u32, size: usize| {
            let off = (l.address as usize).checked_sub(base as usize)?;
            (off + len <= size).then_some(off)
        };
        if let Some(off) = self
            .ram
            .get(l.task)
            .and_then(|r| inside(ram_base(l.task), r.len()))
        {
            return Ok(Place::Ram(off));
        }
        if let Some(off) = self
            .flash
            .get(l.task)
            .and_then(|f| inside(flash_base(l.task), f.len()))
        {
            return Ok(Place::Flash(off));
        }
        Err(err)
    }

    /// The RAM offset of a range the core wants to write, recording a
    /// refusal (the core should never ask).
    fn writable(
        &mut self,
        l: Location,
        len: usize,
    ) -> Result<usize, MemoryError> {
        match self.at(l, len) {
            Ok(Place::Ram(off)) => Ok(off),
            _ => {
                self.refused.push((l, len));
                Err(MemoryError {
                    task: l.task,
                    address: l.address,
                })
            }
        }
    }

    fn readable(
        &self,
        l: Location,
        len: usize,
    ) -> Result<Vec<u8>, MemoryError> {
        Ok(match self.at(l, len)? {
            Place::Ram(o) => self.ram[l.task][o..o + len].to_vec(),
            Place::Flash(o) => self.flash[l.task][o..o + len].to_vec(),
        })
    }
}

fn flash_base(i: usize) -> u32 {
    FLASH + i as u32 * STRIDE
}

fn ram_base(i: usize) -> u32 {
    RAM + i as u32 * STRIDE
}

impl Platform for FakePlatform {
    fn now(&self) -> u64 {
        self.now
    }
    fn copy(
        &mut self,
        src: Location,
        dst: Location,
        len: usize,
    ) -> Result<(), MemoryError> {
        self.copies.push((src, dst));
        let bytes = match self.readable(src, len) {
            Ok(b) => b,
            Err(e) => {
                self.refused.push((src, len));
                return Err(e);
            }
        };
        let d = self.writable(dst, len)?;
        self.ram[dst.task][d..d + len].copy_from_slice(&bytes);
        Ok(())
    }
    fn read(&self, at: Location, out: &mut [u8]) -> Result<(), MemoryError> {
        out.copy_from_slice(&self.readable(at, out.len())?);
        Ok(())
    }
    fn write(&mut self, at: Location, data: &[u8]) -> Result<(), MemoryError> {
        let o = self.writable(at, data.len())?;
        self.ram[at.task][o..o + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn peripheral_io(
        &mut self,
        p: u16,
        op: PeripheralOp,
        r: u32,
        v: u32,
        m: Option<(Location, usize)>,
    ) -> Result<u32, PeripheralFault> {
        self.device.push(DeviceCall {
            peripheral: p,
            op,
            register: r,
            value: v,
            memory: m,
        });
        if let Some((at, len)) = m {
            let ok = match op {
                PeripheralOp::ReadIntoMemory => self.writable(at, len).is_ok(),
                _ => self.readable(at, len).is_ok(),
            };
            if !ok {
                self.refused.push((at, len));
                return Err(PeripheralFault);
            }
        }
        match op {
            PeripheralOp::ReadRegister => Ok(42),
            _ => Ok(0),
        }
    }
    fn image_id(&self) -> u64 {
        7
    }
    fn console_write(&mut self, task: usize, line: &[u8]) {
        self.console.push((task, line.to_vec()));
    }
    fn shutdown(&mut self, code: u32) {
        self.shutdowns.push(code);
    }
    fn dump(&mut self, _tasks: &[Task], culprit: usize) -> bool {
        self.dumps.push(culprit);
        true
    }
}

fn desc(i: usize, priority: u8, slots: &'static [u16]) -> TaskDesc {
    TaskDesc {
        priority,
        start: true,
        regions: [
            MemoryRegion {
                base: flash_base(i),
                size: FLASH_SIZE,
                writable: false,
            },
            MemoryRegion {
                base: ram_base(i),
                size: RAM_SIZE,
                writable: true,
            },
        ],
        slots,
        post_to: &[],
        uses: &[0],
        irqs: &[crate::task::IrqRoute {
            peripheral: 0,
            mask: 1 << 3,
        }],
        kipc_grants: 0,
        kernel_notifications: (1 << 3) | INTERNAL_TIMER_NOTIFICATION,
    }
}

/// Supervisor (0), server (1), client (2), second server (3).
fn system() -> (Vec<Task>, Vec<Peripheral>, FakePlatform) {
    let tasks = vec![
        Task::new(desc(0, 0, &[])),
        Task::new(desc(1, 2, &[3])),
        Task::new(desc(2, 3, &[1, 3])),
        Task::new(desc(3, 1, &[])),
    ];
    let p = FakePlatform {
        ram: vec![vec![0; RAM_SIZE as usize]; 4],
        flash: (0..4)
            .map(|i| vec![0xF0 | i as u8; FLASH_SIZE as usize])
            .collect(),
        ..Default::default()
    };
    (
        tasks,
        vec![Peripheral {
            managed_by: Some(1),
            revoked: false,
        }],
        p,
    )
}

fn call(
    k: &mut Kernel<'_, FakePlatform>,
    t: usize,
    n: Sysnum,
    args: [u32; 8],
) -> Effects {
    k.tasks[t].save.args = args;
    k.handle_syscall(t, n as u32)
}

fn id(k: &Kernel<'_, FakePlatform>, i: usize) -> u32 {
    k.task_id(i).0 as u32
}

/// Client 2 sends `msg` (at RAM+0x100) to 1 with a reply buffer at
/// RAM+0x200 and `leases` lease entries at RAM+0x300.
fn send(
    k: &mut Kernel<'_, FakePlatform>,
    from: usize,
    to: usize,
    leases: u32,
) -> Effects {
    let b = ram_base(from);
    let target = id(k, to) << 16 | 7;
    call(
        k,
        from,
        Sysnum::Send,
        [target, b + 0x100, 4, b + 0x200, 16, b + 0x300, leases, 0],
    )
}

fn recv(k: &mut Kernel<'_, FakePlatform>, t: usize) -> Effects {
    let b = ram_base(t);
    call(k, t, Sysnum::Recv, [b + 0x400, 64, 0, 0, 0, 0, 0, 0])
}

fn put_lease(k: &mut Kernel<'_, FakePlatform>, t: usize, i: u32, l: ULease) {
    let at = Location {
        task: t,
        address: ram_base(t) + 0x300 + 12 * i,
    };
    let mut raw = [0u8; 12];
    raw[..4].copy_from_slice(&l.attributes.to_le_bytes());
    raw[4..8].copy_from_slice(&l.base_address.to_le_bytes());
    raw[8..].copy_from_slice(&l.length.to_le_bytes());
    k.platform.write(at, &raw).unwrap();
}

/// Task `who` makes kipc `op` with argument `words` (message at its RAM
/// +0x100, a 16-byte response buffer at +0x200).
fn kipc(
    k: &mut Kernel<'_, FakePlatform>,
    who: usize,
    op: Kipcnum,
    words: &[u32],
) -> Effects {
    let b = ram_base(who);
    for (i, w) in words.iter().enumerate() {
        k.platform.ram[who][0x100 + 4 * i..0x104 + 4 * i]
            .copy_from_slice(&w.to_le_bytes());
    }
    let len = 4 * words.len() as u32;
    let target = (TaskId::KERNEL.0 as u32) << 16 | op as u32;
    let args = [target, b + 0x100, len, b + 0x200, 16, b, 0, 0];
    call(k, who, Sysnum::Send, args)
}

fn faulted_with(k: &Kernel<'_, FakePlatform>, t: usize) -> Option<FaultInfo> {
    match k.tasks[t].state() {
        TaskState::Faulted { fault, .. } => Some(fault),
        _ => None,
    }
}

#[test]
fn send_to_waiting_receiver_delivers_and_blocks_for_reply() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    k.platform.ram[2][0x100..0x104].copy_from_slice(b"ping");
    let effects = send(&mut k, 2, 1, 0);
    assert!(effects.resumes(1) && !effects.resumes(2));
    assert_eq!(&k.platform.ram[1][0x400..0x404], b"ping");
    let r = k.tasks[1].save.rets;
    assert_eq!((r[1], r[2], r[3], r[4]), (id(&k, 2), 7, 4, 16));
    let me = k.task_id(1);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::InReply(me)));
    // Reply "pong".
    k.platform.ram[1][0x500..0x504].copy_from_slice(b"pong");
    let b = ram_base(1);
    let a = [id(&k, 2), 5, b + 0x500, 4, 0, 0, 0, 0];
    let effects = call(&mut k, 1, Sysnum::Reply, a);
    assert_eq!(&k.platform.ram[2][0x200..0x204], b"pong");
    assert_eq!(&k.tasks[2].save.rets[..2], &[5, 4]);
    assert!(effects.resumes(2) && effects.resumes(1));
}

#[test]
fn send_to_stale_generation_returns_dead_code() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let stale = id(&k, 1);
    k.reinit(1, true);
    let b = ram_base(2);
    let effects =
        call(&mut k, 2, Sysnum::Send, [stale << 16, b, 0, b, 0, b, 0, 0]);
    assert_eq!(
        k.tasks[2].save.rets[0],
        dead_response_code(Generation::new(1))
    );
    assert!(effects.resumes(2));
}

#[test]
fn send_outside_task_slots_faults_the_sender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    send(&mut k, 1, 2, 0); // 1 may only call 3
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::NotInTaskSlots))
    );
    assert!(k.tasks[0].notifications() & FAULT_NOTIFICATION != 0);
}

#[test]
fn server_fault_unblocks_its_client_at_once_with_the_new_generation() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    send(&mut k, 2, 1, 0);
    let effects = k.fault(1, FaultInfo::Panic);
    assert!(effects.resumes(2) && effects.stops(1) && !effects.restarts(1));
    assert_eq!(
        k.tasks[2].save.rets[0],
        dead_response_code(Generation::new(1))
    );
    // Restarting the held task does not bump the generation again.
    k.reinit(1, true);
    assert_eq!(k.tasks[1].generation(), Generation::new(1));
}

#[test]
fn borrow_without_peer_waiting_returns_defect_without_fault() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let b = ram_base(1);
    let a = [id(&k, 2), 0, 0, b, 4, 0, 0, 0];
    call(&mut k, 1, Sysnum::BorrowRead, a);
    assert_eq!(k.tasks[1].save.rets[0], DEFECT);
    assert!(!k.tasks[1].is_faulted());
}

fn lend_read(k: &mut Kernel<'_, FakePlatform>, data: &[u8]) {
    let b = ram_base(2);
    k.platform.ram[2][0x600..0x600 + data.len()].copy_from_slice(data);
    let l = ULease::new(LeaseAttributes::READ, b + 0x600, data.len() as u32);
    put_lease(k, 2, 0, l);
    recv(k, 1);
    send(k, 2, 1, 1);
}

#[test]
fn borrow_read_copies_and_checks_rights_and_offsets() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    lend_read(&mut k, b"abcdef");
    let b = ram_base(1);
    let a = [id(&k, 2), 0, 2, b + 0x700, 16, 0, 0, 0];
    call(&mut k, 1, Sysnum::BorrowRead, a);
    assert_eq!(&k.tasks[1].save.rets[..2], &[0, 4]);
    assert_eq!(&k.platform.ram[1][0x700..0x704], b"cdef");
    // Writing a read lease is a defect, not a fault.
    let a = [id(&k, 2), 0, 0, b + 0x700, 1, 0, 0, 0];
    call(&mut k, 1, Sysnum::BorrowWrite, a);
    assert_eq!(k.tasks[1].save.rets[0], DEFECT);
    // Offset past the end faults the borrower.
    let a = [id(&k, 2), 0, 7, b + 0x700, 1, 0, 0, 0];
    call(&mut k, 1, Sysnum::BorrowRead, a);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::OffsetOutOfRange))
    );
}

#[test]
fn forwarded_lease_reads_through_and_is_revoked_when_the_client_dies() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    lend_read(&mut k, b"0123456789");
    // Server 1 forwards bytes 2..6 of client 2's lease 0 to server 3.
    let client = k.task_id(2);
    put_lease(
        &mut k,
        1,
        0,
        ULease::forwarded(client, 0, LeaseAttributes::READ, 2, 4),
    );
    recv(&mut k, 3);
    send(&mut k, 1, 3, 1);
    let b = ram_base(3);
    let a = [id(&k, 1), 0, 0, b + 0x700, 16, 0, 0, 0];
    call(&mut k, 3, Sysnum::BorrowRead, a);
    assert_eq!(&k.tasks[3].save.rets[..2], &[0, 4]);
    assert_eq!(&k.platform.ram[3][0x700..0x704], b"2345");
    // The client dies: the forwarded lease is dead at once.
    k.fault(2, FaultInfo::Panic);
    let a = [id(&k, 1), 0, 0, b + 0x700, 16, 0, 0, 0];
    call(&mut k, 3, Sysnum::BorrowRead, a);
    assert_eq!(k.tasks[3].save.rets[0], DEFECT);
    assert!(!k.tasks[3].is_faulted());
}

#[test]
fn forwarding_with_wider_rights_faults_the_forwarder() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    lend_read(&mut k, b"0123456789");
    let client = k.task_id(2);
    let rw = LeaseAttributes::READ | LeaseAttributes::WRITE;
    put_lease(&mut k, 1, 0, ULease::forwarded(client, 0, rw, 0, 4));
    recv(&mut k, 3);
    send(&mut k, 1, 3, 1);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::BadLeaseForward))
    );
}

#[test]
fn injection_fires_at_exactly_the_nth_syscall() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.arm_injection(2, 3, InjectionAction::Fault, TaskId::KERNEL);
    for _ in 0..2 {
        call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
        assert!(!k.tasks[2].is_faulted());
    }
    call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::Injected(TaskId::KERNEL))
    );
    assert_eq!(k.tasks[2].syscall_count(), 3);
}

#[test]
fn revoked_peripheral_faults_its_user() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    call(&mut k, 2, Sysnum::PeripheralIo, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].save.rets[1], 42);
    k.peripherals[0].revoked = true;
    call(&mut k, 2, Sysnum::PeripheralIo, [0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::PeripheralGrantRevoked))
    );
}

#[test]
fn past_timer_fires_at_once_and_notifies_a_receiver() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.platform.now = 100;
    call(&mut k, 2, Sysnum::SetTimer, [1, 50, 0, 1 << 4, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].notifications(), 1 << 4);
    let b = ram_base(2);
    let effects = call(&mut k, 2, Sysnum::Recv, [b, 0, 1 << 4, 0, 0, 0, 0, 0]);
    assert!(effects.resumes(2));
    assert_eq!(k.tasks[2].save.rets[1], TaskId::KERNEL.0 as u32);
    assert_eq!(k.tasks[2].save.rets[2], 1 << 4);
}

/// A future timer: a tick before its deadline fires nothing and names
/// the earliest pending deadline as the next to wait for; the tick at the
/// deadline wakes the task blocked in RECV on the timer's bit, and the
/// later timer is then the next.
#[test]
fn tick_fires_a_timer_at_its_deadline_and_names_the_next() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.platform.now = 100;
    call(&mut k, 1, Sysnum::SetTimer, [1, 400, 0, 1 << 2, 0, 0, 0, 0]);
    call(&mut k, 2, Sysnum::SetTimer, [1, 150, 0, 1 << 4, 0, 0, 0, 0]);
    let b = ram_base(2);
    let effects = call(&mut k, 2, Sysnum::Recv, [b, 0, 1 << 4, 0, 0, 0, 0, 0]);
    assert!(!effects.resumes(2), "nothing pending yet");
    k.platform.now = 149;
    let (effects, next) = k.tick();
    assert!(!effects.resumes(2));
    assert_eq!(next, Some(150));
    assert_eq!(k.tasks[2].notifications(), 0);
    k.platform.now = 150;
    let (effects, next) = k.tick();
    assert!(effects.resumes(2), "the timer woke its receiver");
    assert_eq!(k.tasks[2].save.rets[1], TaskId::KERNEL.0 as u32);
    assert_eq!(k.tasks[2].save.rets[2], 1 << 4);
    assert_eq!(next, Some(400));
    assert_eq!(k.tasks[1].notifications(), 0);
    k.platform.now = 1_000;
    let (_, next) = k.tick();
    assert_eq!(next, None, "no timer left");
    assert_eq!(k.tasks[1].notifications(), 1 << 2);
}

/// A lease table that runs off the end of the sender's RAM is refused
/// whole at SEND, blamed on its first byte, before any entry is read.
#[test]
fn lease_table_past_the_end_of_ram_faults_at_its_base() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let b = ram_base(2);
    let table = b + RAM_SIZE - 12;
    let target = id(&k, 1) << 16 | 7;
    call(&mut k, 2, Sysnum::Send, [target, b, 0, b, 0, table, 2, 0]);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::MemoryAccess {
            address: Some(table),
            source: FaultSource::User,
        })
    );
}

/// GET_TIMER answers 64-bit times as low and high words: the time now
/// and the armed deadline, both past 2^32 ms, and the timer's bits.
#[test]
fn get_timer_answers_both_halves_of_now_and_the_deadline() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.platform.now = 0x1_0000_0005;
    call(&mut k, 2, Sysnum::SetTimer, [1, 7, 2, 1 << 4, 0, 0, 0, 0]);
    call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
    assert_eq!(&k.tasks[2].save.rets[..6], &[5, 1, 1, 7, 2, 1 << 4]);
}

/// REFRESH_TASK_ID names a task's current generation, whatever the
/// generation it was asked about; the kernel's own id is out of range.
#[test]
fn refresh_task_id_answers_the_current_generation() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.fault(3, FaultInfo::Panic);
    let current = k.task_id(3);
    assert_ne!(current.generation(), Generation::ZERO);
    let stale = TaskId::for_index_and_gen(3, Generation::ZERO);
    call(
        &mut k,
        2,
        Sysnum::RefreshTaskId,
        [stale.0 as u32, 0, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(k.tasks[2].save.rets[0], current.0 as u32);
    let kernel = TaskId::KERNEL.0 as u32;
    call(
        &mut k,
        2,
        Sysnum::RefreshTaskId,
        [kernel, 0, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::TaskOutOfRange))
    );
}

/// A faulted task can still be posted to under its current name (its
/// supervisor may want it to find the bits when it restarts), but not
/// under the name it had before it died: that poster gets the dead code.
#[test]
fn post_to_a_faulted_task_needs_its_current_name() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let old = k.task_id(3);
    k.fault(3, FaultInfo::Panic);
    let current = k.task_id(3);
    call(
        &mut k,
        0,
        Sysnum::Post,
        [old.0 as u32, 1 << 5, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        k.tasks[0].save.rets[0],
        dead_response_code(current.generation())
    );
    assert_eq!(k.tasks[3].notifications(), 0);
    call(
        &mut k,
        0,
        Sysnum::Post,
        [current.0 as u32, 1 << 5, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(k.tasks[0].save.rets[0], 0);
    assert_eq!(k.tasks[3].notifications(), 1 << 5);
}

/// What a debugger's dump shows of a task's timer: the armed deadline
/// and its bits, and nothing once disarmed; and the table's size.
#[test]
fn a_task_reports_its_timer_and_the_table_its_size() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    call(&mut k, 2, Sysnum::SetTimer, [1, 300, 0, 1 << 4, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].timer(), (Some(300), 1 << 4));
    call(&mut k, 2, Sysnum::SetTimer, [0, 0, 0, 1 << 5, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].timer(), (None, 1 << 5));
    assert_eq!((k.tasks.len(), k.tasks.is_empty()), (4, false));
}

#[test]
fn irq_fires_once_then_stays_pending_until_reenabled() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let enable = IrqControlFlags::ENABLED.0;
    call(
        &mut k,
        2,
        Sysnum::IrqControl,
        [1 << 3, enable, 0, 0, 0, 0, 0, 0],
    );
    k.raise_irq(2, 1 << 3);
    assert_eq!(k.tasks[2].notifications(), 1 << 3);
    k.raise_irq(2, 1 << 3);
    call(&mut k, 2, Sysnum::IrqStatus, [1 << 3, 0, 0, 0, 0, 0, 0, 0]);
    let s = IrqStatus(k.tasks[2].save.rets[0]);
    assert!(s.contains(IrqStatus::PENDING) && !s.contains(IrqStatus::ENABLED));
    // An IRQ the task does not own is a usage fault.
    call(
        &mut k,
        2,
        Sysnum::IrqControl,
        [1 << 5, enable, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::NoIrq))
    );
}

// ---- Property tests: random interleavings, garbage arguments ----------

#[derive(Clone, Debug)]
enum Step {
    Syscall {
        task: usize,
        nr: u32,
        args: [u32; 8],
    },
    Fault {
        task: usize,
    },
    Reinit {
        task: usize,
        start: bool,
    },
    Tick {
        ms: u64,
    },
}

/// Arguments that are sometimes sensible (ids, in-RAM addresses, small
/// lengths) and sometimes garbage.
fn arg() -> impl Strategy<Value = u32> {
    prop_oneof![
        (0u32..4).prop_map(|i| i << 16 | 1),
        (0u32..4, 0u32..RAM_SIZE).prop_map(|(i, o)| ram_base(i as usize) + o),
        0u32..64,
        any::<u32>(),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (1usize..4, 0u32..16, prop::array::uniform8(arg()))
            .prop_map(|(task, nr, args)| Step::Syscall { task, nr, args }),
        1 => (1usize..4).prop_map(|task| Step::Fault { task }),
        1 => (1usize..4, any::<bool>()).prop_map(|(task, start)| Step::Reinit { task, start }),
        1 => (0u64..100).prop_map(|ms| Step::Tick { ms }),
    ]
}

/// No healthy task is blocked naming a stale or faulted peer.
fn no_one_blocked_on_the_dead(tasks: &[Task]) -> Result<(), String> {
    for (i, t) in tasks.iter().enumerate() {
        let named = match t.sched() {
            Some(SchedState::InSend(p) | SchedState::InReply(p)) => p,
            Some(SchedState::InRecv(Some(p))) if p != TaskId::KERNEL => p,
            _ => continue,
        };
        if named.index() >= tasks.len() {
            return Err(format!("task {i} blocked on impossible {named:?}"));
        }
        let peer = &tasks[named.index()];
        if peer.generation() != named.generation() || peer.is_faulted() {
            return Err(format!("task {i} blocked on dead {named:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_syscalls_faults_and_restarts_keep_the_invariants(
        steps in prop::collection::vec(step(), 1..200)
    ) {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        let mut generations: Vec<Generation> =
            k.tasks.iter().map(|t| t.generation()).collect();
        for s in steps {
            k.platform.copies.clear();
            let mut borrower = None;
            match s {
                Step::Syscall { task, nr, args } => {
                    if !k.tasks[task].is_faulted() {
                        if matches!(nr, 4 | 5) { borrower = Some(task); }
                        k.tasks[task].save.args = args;
                        k.handle_syscall(task, nr);
                    }
                }
                Step::Fault { task } => { k.fault(task, FaultInfo::Panic); }
                Step::Reinit { task, start } => { k.reinit(task, start); }
                Step::Tick { ms } => { k.platform.now += ms; k.tick(); }
            }
            // Generations only move forward, by one per death.
            for (i, g) in generations.iter_mut().enumerate() {
                let now = k.tasks[i].generation();
                prop_assert!(now == *g || now == g.next(), "task {i} gen jumped");
                *g = now;
            }
            no_one_blocked_on_the_dead(k.tasks.as_slice()).map_err(TestCaseError::fail)?;
            // The core never asked the platform for memory outside a task.
            prop_assert!(k.platform.refused.is_empty(), "{:?}", k.platform.refused);
            // A borrow only ever touched a lender blocked on the borrower
            // (directly, or through a chain of forwarders).
            if let Some(b) = borrower {
                for (src, dst) in k.platform.copies.clone() {
                    for other in [src.task, dst.task] {
                        if other != b {
                            prop_assert!(reaches(k.tasks.as_slice(), other, b, 8),
                                "borrow by {b} touched {other}, which is not lending to it");
                        }
                    }
                }
            }
        }
    }
}

/// Is `lender` blocked (through at most `depth` links) on `borrower`?
fn reaches(
    tasks: &[Task],
    lender: usize,
    borrower: usize,
    depth: usize,
) -> bool {
    match tasks[lender].sched() {
        Some(SchedState::InReply(p)) if depth > 0 => {
            p.index() == borrower
                || reaches(tasks, p.index(), borrower, depth - 1)
        }
        _ => false,
    }
}

#[test]
fn dump_task_kipc_needs_a_grant_and_reaches_the_platform() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let kipc = |op: Kipcnum| (TaskId::KERNEL.0 as u32) << 16 | op as u32;
    for who in [2, 0] {
        let b = ram_base(who);
        k.platform.ram[who][0x100..0x104].copy_from_slice(&2u32.to_le_bytes());
        let args =
            [kipc(Kipcnum::DumpTask), b + 0x100, 4, b + 0x200, 0, b, 0, 0];
        call(&mut k, who, Sysnum::Send, args);
    }
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::KipcNotGranted))
    );
    assert_eq!(k.platform.dumps, vec![2], "only the supervisor's request");
    assert_eq!(k.tasks[0].save.rets[0], 0);
}
