//! What every kernel test builds on: a system of four in-memory tasks
//! over [`FakePlatform`], the calls a test makes on their behalf, and
//! the invariants the property tests check after every step.

mod lending;
mod platform;

use super::*;
pub(crate) use lending::*;
pub(crate) use platform::*;

pub(crate) const FLASH: u32 = 0x1000_0000;
pub(crate) const RAM: u32 = 0x4000_0000;
pub(crate) const RAM_SIZE: u32 = 0x1000;
pub(crate) const FLASH_SIZE: u32 = 0x1000;
pub(crate) const STRIDE: u32 = 0x10_0000;

pub(crate) fn desc(i: usize, priority: u8, slots: &'static [u16]) -> TaskDesc {
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
pub(crate) fn system() -> (Vec<Task>, Vec<Peripheral>, FakePlatform) {
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

pub(crate) fn call(
    k: &mut Kernel<'_, FakePlatform>,
    t: usize,
    n: Sysnum,
    args: [u32; 8],
) -> Effects {
    k.tasks[t].save.args = args;
    k.handle_syscall(t, n as u32)
}

pub(crate) fn id(k: &Kernel<'_, FakePlatform>, i: usize) -> u32 {
    k.task_id(i).0 as u32
}

/// Client 2 sends `msg` (at RAM+0x100) to 1 with a reply buffer at
/// RAM+0x200 and `leases` lease entries at RAM+0x300.
pub(crate) fn send(
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

pub(crate) fn recv(k: &mut Kernel<'_, FakePlatform>, t: usize) -> Effects {
    let b = ram_base(t);
    call(k, t, Sysnum::Recv, [b + 0x400, 64, 0, 0, 0, 0, 0, 0])
}

pub(crate) fn put_lease(
    k: &mut Kernel<'_, FakePlatform>,
    t: usize,
    i: u32,
    l: ULease,
) {
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
pub(crate) fn kipc(
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

pub(crate) fn faulted_with(
    k: &Kernel<'_, FakePlatform>,
    t: usize,
) -> Option<FaultInfo> {
    match k.tasks[t].state() {
        TaskState::Faulted { fault, .. } => Some(fault),
        _ => None,
    }
}

/// No healthy task is blocked naming a stale or faulted peer.
pub(crate) fn no_one_blocked_on_the_dead(tasks: &[Task]) -> Result<(), String> {
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

/// Is `lender` blocked (through at most `depth` links) on `borrower`?
pub(crate) fn reaches(
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

/// Task `who` makes kipc `op` with `words`; its response buffer (at RAM
/// +0x200) holds `capacity` bytes. Returns `(code, length, response)`.
pub(crate) fn kipc_reply(
    k: &mut Kernel<'_, FakePlatform>,
    who: usize,
    op: Kipcnum,
    words: &[u32],
    capacity: u32,
) -> (u32, u32, Vec<u8>) {
    k.platform.ram[who][0x200..0x200 + 256].fill(0xEE);
    let b = ram_base(who);
    for (i, w) in words.iter().enumerate() {
        k.platform.ram[who][0x100 + 4 * i..0x104 + 4 * i]
            .copy_from_slice(&w.to_le_bytes());
    }
    let len = 4 * words.len() as u32;
    let target = (TaskId::KERNEL.0 as u32) << 16 | op as u32;
    let args = [target, b + 0x100, len, b + 0x200, capacity, b, 0, 0];
    call(k, who, Sysnum::Send, args);
    let rets = k.tasks[who].save.rets;
    let n = rets[1] as usize;
    (
        rets[0],
        rets[1],
        k.platform.ram[who][0x200..0x200 + n].to_vec(),
    )
}
