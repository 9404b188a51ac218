//! PERIPHERAL_IO: every path by which a device reads a lease
//! (`WriteFromLease`) or a task's own memory, register access, grants
//! and revocation. A refused access reaches no device.
//!
//! Written for issue 16: a planted bug in the peripheral window compare
//! survived every earlier test.

use super::*;

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

#[test]
fn peripheral_write_from_lease_past_the_window_faults_the_driver() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.tasks[1].desc.uses = &[0];
    let read = LeaseAttributes::READ;
    put_lease(&mut k, 2, 0, ULease::new(read, ram_base(2) + 0x600, 8));
    let client = client_sends_leases(&mut k, 1);
    let op = PeripheralOp::WriteFromLease as u32;
    call(
        &mut k,
        1,
        Sysnum::PeripheralIo,
        [0, op, client, 0, 4, 4, 0, 0],
    );
    // Exactly the window is fine (a faulted caller keeps its old rets,
    // so the state is what shows it).
    assert_eq!(faulted_with(&k, 1), None, "exactly the window is fine");
    assert_eq!(k.tasks[1].save.rets[..2], [0, 0]);
    call(
        &mut k,
        1,
        Sysnum::PeripheralIo,
        [0, op, client, 0, 4, 5, 0, 0],
    );
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::OffsetOutOfRange))
    );
    assert!(k.platform.refused.is_empty());
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
