//! Forged and stale forwarded leases. Each test says what the borrower
//! got, who (if anyone) was faulted, and what memory the platform was
//! asked to touch: a refused lease copies nothing.
//!
//! Written for issue 16: a planted bug in the forwarding link's `&&`
//! survived every earlier test.

use super::*;

#[test]
fn a_forward_in_the_name_of_a_live_task_that_no_longer_lends_is_defect() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    // Server 1 answers the client: the client is alive, same generation,
    // and its saved SEND arguments still describe the lease table.
    let b = ram_base(1);
    let client = id(&k, 2);
    call(&mut k, 1, Sysnum::Reply, [client, 0, b, 0, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::Runnable));
    // ...and then forwards the lease it no longer holds.
    let client = k.task_id(2);
    server_forwards(&mut k, ULease::forwarded(client, 0, READ, 0, 10));
    assert_eq!(faulted_with(&k, 1), None, "a dead forward is no mistake");
    k.platform.copies.clear();
    let rets = third_borrows(&mut k, Sysnum::BorrowRead, 0, 10);
    assert_eq!(rets[0], DEFECT);
    nothing_copied(&k);
    assert_eq!(&k.platform.ram[3][0x700..0x70A], &[0; 10]);
}

#[test]
fn a_forward_of_a_lease_lent_to_someone_else_is_defect() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // Client 2 lends DATA to server 3 (not to 1), and waits on 3.
    k.platform.ram[2][0x600..0x60A].copy_from_slice(DATA);
    put_lease(&mut k, 2, 0, ULease::new(READ, ram_base(2) + 0x600, 10));
    recv(&mut k, 3);
    send(&mut k, 2, 3, 1);
    let three = k.task_id(3);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::InReply(three)));
    // Server 1 forwards the client's lease 0 in its own name to 3: the
    // client waits, but not on 1.
    let client = k.task_id(2);
    server_forwards(&mut k, ULease::forwarded(client, 0, READ, 0, 10));
    k.platform.copies.clear();
    let rets = third_borrows(&mut k, Sysnum::BorrowRead, 0, 10);
    assert_eq!(rets[0], DEFECT);
    nothing_copied(&k);
    // 3 may still read the client's lease directly: the lease is fine,
    // the forward was not.
    let b = ram_base(3);
    let client = id(&k, 2);
    call(
        &mut k,
        3,
        Sysnum::BorrowRead,
        [client, 0, 0, b, 10, 0, 0, 0],
    );
    assert_eq!(&k.tasks[3].save.rets[..2], &[0, 10]);
    assert_eq!(&k.platform.ram[3][..10], DATA);
}

#[test]
fn a_forward_in_the_name_of_the_borrower_itself_is_defect() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    let borrower = k.task_id(3);
    server_forwards(&mut k, ULease::forwarded(borrower, 0, READ, 0, 10));
    k.platform.copies.clear();
    let rets = third_borrows(&mut k, Sysnum::BorrowRead, 0, 10);
    assert_eq!(rets[0], DEFECT);
    nothing_copied(&k);
}

/// A forward that is malformed when it is sent is the forwarder's fault
/// at once: its SEND faults it, nothing reaches the receiver, and the
/// client waiting on it gets the dead code.
fn forward_faults_the_forwarder_at_send(forward: ULease) {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    k.platform.copies.clear();
    server_forwards(&mut k, forward);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::BadLeaseForward)),
        "{forward:?}"
    );
    assert_eq!(k.tasks[3].sched(), Some(SchedState::InRecv(None)));
    assert!(k.platform.copies.is_empty(), "{:?}", k.platform.copies);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::Runnable));
    assert_eq!(
        k.tasks[2].save.rets[0],
        dead_response_code(Generation::new(1))
    );
    assert!(k.platform.refused.is_empty());
}

#[test]
fn a_forward_of_a_lease_index_past_the_lenders_count_faults_the_forwarder() {
    let client = TaskId::for_index_and_gen(2, Generation::ZERO);
    for index in [1, 2, 255] {
        forward_faults_the_forwarder_at_send(ULease::forwarded(
            client, index, READ, 0, 1,
        ));
    }
}

#[test]
fn a_forward_window_past_the_originals_end_faults_the_forwarder() {
    let client = TaskId::for_index_and_gen(2, Generation::ZERO);
    for (offset, length) in [(0, 11), (8, 3), (10, 1), (11, 0), (u32::MAX, 2)] {
        forward_faults_the_forwarder_at_send(ULease::forwarded(
            client, 0, READ, offset, length,
        ));
    }
}

#[test]
fn a_forward_with_rights_the_original_lacks_faults_the_forwarder() {
    let client = TaskId::for_index_and_gen(2, Generation::ZERO);
    for rights in [WRITE, READ | WRITE] {
        forward_faults_the_forwarder_at_send(ULease::forwarded(
            client, 0, rights, 0, 10,
        ));
    }
}

#[test]
fn a_lease_forwarded_from_the_forwarder_itself_faults_it() {
    let me = TaskId::for_index_and_gen(1, Generation::ZERO);
    forward_faults_the_forwarder_at_send(ULease::forwarded(me, 0, READ, 0, 1));
}

#[test]
fn a_forward_naming_no_task_faults_the_forwarder() {
    let nobody = TaskId::for_index_and_gen(4, Generation::ZERO);
    forward_faults_the_forwarder_at_send(ULease::forwarded(
        nobody, 0, READ, 0, 1,
    ));
}

#[test]
fn an_exact_forward_window_reads_and_writes_exactly_its_bytes() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ | WRITE);
    let client = k.task_id(2);
    // The last four bytes, read-write.
    server_forwards(&mut k, ULease::forwarded(client, 0, READ | WRITE, 6, 4));
    assert_eq!(faulted_with(&k, 1), None);
    let rets = third_borrows(&mut k, Sysnum::BorrowRead, 1, 16);
    assert_eq!(&rets[..2], &[0, 3]);
    assert_eq!(&k.platform.ram[3][0x700..0x703], b"789");
    k.platform.ram[3][0x700..0x704].copy_from_slice(b"WXYZ");
    let rets = third_borrows(&mut k, Sysnum::BorrowWrite, 2, 4);
    assert_eq!(&rets[..2], &[0, 2]);
    assert_eq!(&k.platform.ram[2][0x600..0x60A], b"01234567WX");
    // An offset at the window's end is empty, past it the borrower's
    // fault.
    let rets = third_borrows(&mut k, Sysnum::BorrowRead, 4, 16);
    assert_eq!(&rets[..2], &[0, 0]);
    third_borrows(&mut k, Sysnum::BorrowRead, 5, 16);
    assert_eq!(
        faulted_with(&k, 3),
        Some(FaultInfo::SyscallUsage(UsageError::OffsetOutOfRange))
    );
    assert_eq!(faulted_with(&k, 1), None);
    assert_eq!(faulted_with(&k, 2), None);
}

#[test]
fn borrow_info_describes_a_forward_as_its_forwarder_lent_it() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ | WRITE);
    let client = k.task_id(2);
    server_forwards(&mut k, ULease::forwarded(client, 0, READ, 3, 5));
    let rets = third_borrows(&mut k, Sysnum::BorrowInfo, 0, 0);
    assert_eq!(&rets[..3], &[0, READ.0, 5]);
    // A lease index past the forwarder's count is the borrower's fault.
    let b = ram_base(3);
    let forwarder = id(&k, 1);
    call(
        &mut k,
        3,
        Sysnum::BorrowInfo,
        [forwarder, 1, 0, b, 0, 0, 0, 0],
    );
    assert_eq!(
        faulted_with(&k, 3),
        Some(FaultInfo::SyscallUsage(UsageError::LeaseOutOfRange))
    );
}

#[test]
fn borrow_info_of_a_stale_or_idle_lender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    let stale = id(&k, 2);
    let b = ram_base(1);
    // Answered while the client waits.
    call(&mut k, 1, Sysnum::BorrowInfo, [stale, 0, 0, b, 0, 0, 0, 0]);
    assert_eq!(&k.tasks[1].save.rets[..3], &[0, READ.0, 10]);
    // A lender that stopped waiting: DEFECT; a dead one: the dead code.
    call(&mut k, 1, Sysnum::Reply, [stale, 0, b, 0, 0, 0, 0, 0]);
    call(&mut k, 1, Sysnum::BorrowInfo, [stale, 0, 0, b, 0, 0, 0, 0]);
    assert_eq!(k.tasks[1].save.rets[0], DEFECT);
    k.fault(2, FaultInfo::Panic);
    call(&mut k, 1, Sysnum::BorrowInfo, [stale, 0, 0, b, 0, 0, 0, 0]);
    assert_eq!(
        k.tasks[1].save.rets[0],
        dead_response_code(Generation::new(1))
    );
    assert_eq!(faulted_with(&k, 1), None);
}
