//! Forged and stale forwarded leases, and every path by which a device
//! reads a lease (PERIPHERAL_IO's `WriteFromLease`) or a task's own
//! memory. Each test says what the borrower got, who (if anyone) was
//! faulted, and what memory or device the platform was asked to touch:
//! a refused lease copies nothing and reaches no device.
//!
//! Written for issue 16: a planted bug in each of these checks (the
//! peripheral window compare, the forwarding link's `&&`) survived every
//! earlier test.

use super::*;

const READ: LeaseAttributes = LeaseAttributes::READ;
const WRITE: LeaseAttributes = LeaseAttributes::WRITE;
const DATA: &[u8; 10] = b"0123456789";

/// Client 2 lends `DATA` (at its RAM+0x600) to server 1 as lease 0 with
/// `rights`; server 1 has received the call.
fn client_lends(k: &mut Kernel<'_, FakePlatform>, rights: LeaseAttributes) {
    k.platform.ram[2][0x600..0x60A].copy_from_slice(DATA);
    put_lease(k, 2, 0, ULease::new(rights, ram_base(2) + 0x600, 10));
    recv(k, 1);
    send(k, 2, 1, 1);
    assert_eq!(faulted_with(k, 2), None);
    let server = k.task_id(1);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::InReply(server)));
}

/// Server 1 sends `forward` as its lease 0 to server 3, which receives it.
fn server_forwards(k: &mut Kernel<'_, FakePlatform>, forward: ULease) {
    put_lease(k, 1, 0, forward);
    recv(k, 3);
    send(k, 1, 3, 1);
}

/// Server 3 borrows (`nr`) `len` bytes at `offset` of server 1's lease 0
/// into / from its RAM at 0x700.
fn third_borrows(
    k: &mut Kernel<'_, FakePlatform>,
    nr: Sysnum,
    offset: u32,
    len: u32,
) -> [u32; 8] {
    let b = ram_base(3);
    let lender = id(k, 1);
    call(k, 3, nr, [lender, 0, offset, b + 0x700, len, 0, 0, 0]);
    k.tasks[3].save.rets
}

/// Nobody faulted, and the platform copied nothing and refused nothing
/// since `copies` was last cleared.
fn nothing_copied(k: &Kernel<'_, FakePlatform>) {
    for t in 0..4 {
        assert_eq!(faulted_with(k, t), None, "task {t} faulted");
    }
    assert!(k.platform.copies.is_empty(), "{:?}", k.platform.copies);
    assert!(k.platform.refused.is_empty(), "{:?}", k.platform.refused);
}

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

// ---- PERIPHERAL_IO ----------------------------------------------------

/// Task `t` asks for `op` on peripheral 0 with `operands`.
fn device(
    k: &mut Kernel<'_, FakePlatform>,
    t: usize,
    op: PeripheralOp,
    operands: [u32; 4],
) -> [u32; 8] {
    let [a, b, c, d] = operands;
    call(k, t, Sysnum::PeripheralIo, [0, op as u32, a, b, c, d, 0, 0]);
    k.tasks[t].save.rets
}

fn usage(e: UsageError) -> Option<FaultInfo> {
    Some(FaultInfo::SyscallUsage(e))
}

#[test]
fn write_from_lease_hands_the_device_exactly_the_window() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    let client = id(&k, 2);
    let op = PeripheralOp::WriteFromLease;
    for (offset, length) in [(0, 10), (3, 7), (9, 1), (2, 5)] {
        k.platform.device.clear();
        let rets = device(&mut k, 1, op, [client, 0, offset, length]);
        assert_eq!(&rets[..2], &[0, 0]);
        let at = Location {
            task: 2,
            address: ram_base(2) + 0x600 + offset,
        };
        assert_eq!(
            k.platform.device,
            vec![DeviceCall {
                peripheral: 0,
                op,
                register: client,
                value: 0,
                memory: Some((at, length as usize)),
            }]
        );
    }
    assert_eq!(faulted_with(&k, 1), None);
}

#[test]
fn write_from_lease_past_the_window_faults_the_caller_and_reaches_no_device() {
    // Past the end from every offset, by one byte and by a lot.
    for (offset, length) in [(0, 11), (3, 8), (9, 2), (10, 1), (5, u32::MAX)] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        client_lends(&mut k, READ);
        let client = id(&k, 2);
        let op = PeripheralOp::WriteFromLease;
        device(&mut k, 1, op, [client, 0, offset, length]);
        assert_eq!(
            faulted_with(&k, 1),
            usage(UsageError::OffsetOutOfRange),
            "offset {offset}, length {length}"
        );
        assert!(k.platform.device.is_empty(), "{:?}", k.platform.device);
        assert_eq!(faulted_with(&k, 2), None, "the client did nothing wrong");
    }
}

#[test]
fn write_from_lease_with_an_offset_past_the_lease_faults_the_caller() {
    for offset in [11, 0x1000, u32::MAX] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        client_lends(&mut k, READ);
        let client = id(&k, 2);
        device(
            &mut k,
            1,
            PeripheralOp::WriteFromLease,
            [client, 0, offset, 0],
        );
        assert_eq!(faulted_with(&k, 1), usage(UsageError::OffsetOutOfRange));
        assert!(k.platform.device.is_empty());
    }
}

#[test]
fn an_empty_write_from_lease_at_its_end_reaches_no_device() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    let client = id(&k, 2);
    let rets =
        device(&mut k, 1, PeripheralOp::WriteFromLease, [client, 0, 10, 0]);
    assert_eq!(&rets[..2], &[0, 0]);
    assert!(k.platform.device.is_empty());
    assert_eq!(faulted_with(&k, 1), None);
}

#[test]
fn write_from_lease_of_a_lease_without_read_is_defect() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, WRITE);
    let client = id(&k, 2);
    let rets =
        device(&mut k, 1, PeripheralOp::WriteFromLease, [client, 0, 0, 4]);
    assert_eq!(rets[0], DEFECT);
    assert!(k.platform.device.is_empty());
    assert_eq!(faulted_with(&k, 1), None);
    assert_eq!(faulted_with(&k, 2), None);
}

#[test]
fn write_from_lease_of_a_lender_that_is_not_waiting_or_dead() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    let client = id(&k, 2);
    let op = PeripheralOp::WriteFromLease;
    let b = ram_base(1);
    call(&mut k, 1, Sysnum::Reply, [client, 0, b, 0, 0, 0, 0, 0]);
    let rets = device(&mut k, 1, op, [client, 0, 0, 4]);
    assert_eq!(rets[0], DEFECT, "alive, but no longer lending");
    k.reinit(2, true);
    let rets = device(&mut k, 1, op, [client, 0, 0, 4]);
    assert_eq!(rets[0], dead_response_code(Generation::new(1)));
    assert!(k.platform.device.is_empty());
    assert_eq!(faulted_with(&k, 1), None);
}

#[test]
fn write_from_lease_of_a_lease_index_past_the_count_faults_the_caller() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_lends(&mut k, READ);
    let client = id(&k, 2);
    device(&mut k, 1, PeripheralOp::WriteFromLease, [client, 1, 0, 4]);
    assert_eq!(faulted_with(&k, 1), usage(UsageError::LeaseOutOfRange));
    assert!(k.platform.device.is_empty());
}

#[test]
fn write_from_a_forwarded_lease_reads_the_original_in_place() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.tasks[3].desc.uses = &[0];
    client_lends(&mut k, READ);
    let client = k.task_id(2);
    server_forwards(&mut k, ULease::forwarded(client, 0, READ, 2, 6));
    let forwarder = id(&k, 1);
    let op = PeripheralOp::WriteFromLease;
    let rets = device(&mut k, 3, op, [forwarder, 0, 1, 5]);
    assert_eq!(&rets[..2], &[0, 0]);
    let at = Location {
        task: 2,
        address: ram_base(2) + 0x600 + 3,
    };
    assert_eq!(k.platform.device.last().unwrap().memory, Some((at, 5)));
    // One byte more than the forward's window is past it.
    k.platform.device.clear();
    device(&mut k, 3, op, [forwarder, 0, 1, 6]);
    assert_eq!(faulted_with(&k, 3), usage(UsageError::OffsetOutOfRange));
    assert!(k.platform.device.is_empty());
}

#[test]
fn write_from_a_forwarded_lease_whose_client_died_is_defect() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.tasks[3].desc.uses = &[0];
    client_lends(&mut k, READ);
    let client = k.task_id(2);
    server_forwards(&mut k, ULease::forwarded(client, 0, READ, 0, 10));
    k.fault(2, FaultInfo::Panic);
    let forwarder = id(&k, 1);
    let rets = device(
        &mut k,
        3,
        PeripheralOp::WriteFromLease,
        [forwarder, 0, 0, 1],
    );
    assert_eq!(rets[0], DEFECT);
    assert!(k.platform.device.is_empty());
    assert_eq!(faulted_with(&k, 3), None);
}

#[test]
fn bulk_transfers_from_own_memory_check_the_access_they_need() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let ram = ram_base(2) + 0x800;
    let flash = flash_base(2);
    // Reading own RAM or flash into the device is fine; the device gets
    // exactly that memory.
    for (at, len) in [(ram, 16), (flash, 8), (ram_base(2), RAM_SIZE)] {
        k.platform.device.clear();
        let rets =
            device(&mut k, 2, PeripheralOp::WriteFromMemory, [at, len, 0, 0]);
        assert_eq!(&rets[..2], &[0, 0]);
        let want = Location {
            task: 2,
            address: at,
        };
        let memory = k.platform.device[0].memory;
        assert_eq!(memory, Some((want, len as usize)));
    }
    let rets = device(&mut k, 2, PeripheralOp::ReadIntoMemory, [ram, 16, 0, 0]);
    assert_eq!(&rets[..2], &[0, 0]);
    assert_eq!(
        k.platform.device.last().unwrap().op,
        PeripheralOp::ReadIntoMemory
    );
    // The device may not write into flash, nor either way past RAM.
    let bad = [
        (PeripheralOp::ReadIntoMemory, flash, 8),
        (PeripheralOp::WriteFromMemory, ram_base(2) + RAM_SIZE - 4, 5),
        (PeripheralOp::ReadIntoMemory, ram_base(3), 4),
    ];
    for (op, at, len) in bad {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        device(&mut k, 2, op, [at, len, 0, 0]);
        assert!(faulted_with(&k, 2).is_some(), "{op:?} {at:#x} {len}");
        assert!(k.platform.device.is_empty());
    }
}

#[test]
fn register_access_reaches_the_device_with_its_operands() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let rets = device(&mut k, 2, PeripheralOp::WriteRegister, [5, 0xAB, 0, 0]);
    assert_eq!(&rets[..2], &[0, 0]);
    let rets = device(&mut k, 2, PeripheralOp::ReadRegister, [6, 0, 0, 0]);
    assert_eq!(&rets[..2], &[0, 42]);
    let calls: Vec<_> = k
        .platform
        .device
        .iter()
        .map(|c| (c.peripheral, c.op, c.register, c.value, c.memory))
        .collect();
    assert_eq!(
        calls,
        vec![
            (0, PeripheralOp::WriteRegister, 5, 0xAB, None),
            (0, PeripheralOp::ReadRegister, 6, 0, None),
        ]
    );
}

#[test]
fn a_peripheral_outside_the_grant_or_an_unknown_op_faults_the_caller() {
    let cases = [
        // (peripheral, op, uses, expected)
        (
            1,
            PeripheralOp::ReadRegister as u32,
            &[0u16][..],
            UsageError::NoPeripheralGrant,
        ),
        (0, 99, &[0][..], UsageError::BadPeripheralRequest),
        (
            0,
            PeripheralOp::ReadRegister as u32,
            &[][..],
            UsageError::NoPeripheralGrant,
        ),
        // Granted in app.toml but past the peripheral table.
        (
            7,
            PeripheralOp::ReadRegister as u32,
            &[7][..],
            UsageError::PeripheralGrantRevoked,
        ),
    ];
    for (peripheral, op, uses, expected) in cases {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        k.tasks[2].desc.uses = uses;
        call(
            &mut k,
            2,
            Sysnum::PeripheralIo,
            [peripheral, op, 0, 0, 0, 0, 0, 0],
        );
        assert_eq!(faulted_with(&k, 2), usage(expected), "{peripheral} {op}");
        assert!(k.platform.device.is_empty());
    }
}

#[test]
fn a_device_that_refuses_the_memory_faults_the_caller() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // The platform knows less RAM than the core: its refusal is the
    // caller's fault, not the kernel's.
    k.platform.ram[2].truncate(0x100);
    let at = ram_base(2) + 0x800;
    device(&mut k, 2, PeripheralOp::WriteFromMemory, [at, 4, 0, 0]);
    assert_eq!(faulted_with(&k, 2), usage(UsageError::BadPeripheralRequest));
}
