//! SEND, RECV, REPLY and BORROW on their ordinary paths: delivery, stale
//! and dead peers, slots, rights and offsets, forwarding, POST and
//! REFRESH_TASK_ID.

use super::*;

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
