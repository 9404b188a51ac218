//! One test per hole an attacking task could use: each was open before
//! leases were checked on every use and POST became a capability. The
//! victim is faulted only for its own mistakes, the kernel never touches
//! memory outside a task (the fake platform records any attempt), and the
//! attacker is faulted or refused with the exact outcome.

use super::*;

const LEASES: u32 = 0x300;
const RW: LeaseAttributes = LeaseAttributes(3);

/// Client 2 waits in a SEND to server 1 with `count` leases at RAM+0x300
/// (written beforehand with `put_lease`); returns the client's id.
fn client_lends(k: &mut Kernel<'_, FakePlatform>, count: u32) -> u32 {
    recv(k, 1);
    send(k, 2, 1, count);
    assert_eq!(faulted_with(k, 2), None, "the SEND itself was accepted");
    id(k, 2)
}

/// Server 1 borrows (`nr`) `len` bytes at `offset` of `lender`'s lease
/// `index` into/from its RAM at 0x700.
fn borrow(
    k: &mut Kernel<'_, FakePlatform>,
    nr: Sysnum,
    lender: u32,
    index: u32,
    offset: u32,
    len: u32,
) -> [u32; 8] {
    let b = ram_base(1);
    call(k, 1, nr, [lender, index, offset, b + 0x700, len, 0, 0, 0]);
    k.tasks[1].save.rets
}

/// The lender faulted for its table, the borrower answered `DEFECT`, and
/// the platform never saw an access outside a task.
fn lender_blamed(k: &Kernel<'_, FakePlatform>, rets: [u32; 8], f: FaultInfo) {
    assert_eq!(faulted_with(k, 2), Some(f), "lender faulted for its table");
    assert_eq!(rets[0], DEFECT, "borrower told DEFECT");
    assert!(!k.tasks[1].is_faulted(), "borrower not blamed");
    assert!(k.platform.refused.is_empty(), "{:?}", k.platform.refused);
}

/// The client lends a writable buffer that covers its own lease table:
/// the server rewrites entry 0 through lease 0.
fn rewrite_own_table(k: &mut Kernel<'_, FakePlatform>, forged: ULease) -> u32 {
    let table = ram_base(2) + LEASES;
    put_lease(k, 2, 0, ULease::new(RW, table, 12));
    let client = client_lends(k, 1);
    let mut raw = [0u8; 12];
    raw[..4].copy_from_slice(&forged.attributes.to_le_bytes());
    raw[4..8].copy_from_slice(&forged.base_address.to_le_bytes());
    raw[8..].copy_from_slice(&forged.length.to_le_bytes());
    k.platform.ram[1][0x700..0x70C].copy_from_slice(&raw);
    let rets = borrow(k, Sysnum::BorrowWrite, client, 0, 0, 12);
    assert_eq!(&rets[..2], &[0, 12], "the rewrite itself is a legal borrow");
    client
}

#[test]
fn lease_table_rewritten_to_point_outside_the_lender_faults_the_lender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let wild = 0x7000_0000;
    let client = rewrite_own_table(&mut k, ULease::new(RW, wild, 64));
    let rets = borrow(&mut k, Sysnum::BorrowRead, client, 0, 0, 64);
    let fault = FaultInfo::MemoryAccess {
        address: Some(wild),
        source: FaultSource::User,
    };
    lender_blamed(&k, rets, fault);
}

#[test]
fn lease_rewritten_to_write_into_the_lenders_flash_faults_the_lender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let flash = flash_base(2) + 0x10;
    let client = rewrite_own_table(&mut k, ULease::new(RW, flash, 16));
    let rets = borrow(&mut k, Sysnum::BorrowWrite, client, 0, 0, 16);
    let fault = FaultInfo::MemoryAccess {
        address: Some(flash),
        source: FaultSource::User,
    };
    lender_blamed(&k, rets, fault);
    assert!(
        k.platform.flash[2].iter().all(|&b| b == 0xF2),
        "flash intact"
    );
}

#[test]
fn a_read_lease_of_the_lenders_flash_is_legal() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let flash = flash_base(2);
    put_lease(&mut k, 2, 0, ULease::new(LeaseAttributes::READ, flash, 8));
    let client = client_lends(&mut k, 1);
    let rets = borrow(&mut k, Sysnum::BorrowRead, client, 0, 0, 8);
    assert_eq!(&rets[..2], &[0, 8]);
    assert_eq!(&k.platform.ram[1][0x700..0x708], &[0xF2; 8]);
    // Writing it is a missing right, not a fault.
    let rets = borrow(&mut k, Sysnum::BorrowWrite, client, 0, 0, 8);
    assert_eq!(rets[0], DEFECT);
    assert_eq!(faulted_with(&k, 2), None);
}

#[test]
fn lease_rewritten_so_base_plus_length_wraps_faults_the_lender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let base = ram_base(2);
    let forged = ULease::new(RW, base, u32::MAX - base + 16);
    let client = rewrite_own_table(&mut k, forged);
    let rets = borrow(&mut k, Sysnum::BorrowRead, client, 0, 0x2000, 16);
    let wraps = FaultInfo::SyscallUsage(UsageError::InvalidSlice);
    lender_blamed(&k, rets, wraps);
}

#[test]
fn lease_rewritten_with_undefined_attribute_bits_faults_the_lender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let forged = ULease {
        attributes: 0x81,
        base_address: ram_base(2),
        length: 4,
    };
    let client = rewrite_own_table(&mut k, forged);
    let b = ram_base(1);
    call(&mut k, 1, Sysnum::BorrowInfo, [client, 0, 0, b, 0, 0, 0, 0]);
    let bad = FaultInfo::SyscallUsage(UsageError::InvalidSlice);
    lender_blamed(&k, k.tasks[1].save.rets, bad);
}

#[test]
fn lease_rewritten_into_another_tasks_ram_faults_the_lender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.platform.ram[3][..6].copy_from_slice(b"secret");
    let victim = ram_base(3);
    let client = rewrite_own_table(&mut k, ULease::new(RW, victim, 6));
    let rets = borrow(&mut k, Sysnum::BorrowRead, client, 0, 0, 6);
    let fault = FaultInfo::MemoryAccess {
        address: Some(victim),
        source: FaultSource::User,
    };
    lender_blamed(&k, rets, fault);
    assert_ne!(&k.platform.ram[1][0x700..0x706], b"secret");
}

/// Client 2 lends `data` read-only to server 1, which forwards it whole
/// to server 3 with its own table at RAM+0x300, which it also lends to 3
/// writable (lease 1): server 3 can rewrite 1's forward.
fn forward_with_writable_table(k: &mut Kernel<'_, FakePlatform>) -> u32 {
    let data = b"0123456789";
    k.platform.ram[2][0x600..0x60A].copy_from_slice(data);
    let read = LeaseAttributes::READ;
    put_lease(k, 2, 0, ULease::new(read, ram_base(2) + 0x600, 10));
    client_lends(k, 1);
    let client = k.task_id(2);
    put_lease(k, 1, 0, ULease::forwarded(client, 0, read, 0, 10));
    put_lease(k, 1, 1, ULease::new(RW, ram_base(1) + LEASES, 24));
    recv(k, 3);
    send(k, 1, 3, 2);
    assert_eq!(faulted_with(k, 1), None);
    id(k, 1)
}

#[test]
fn forwarded_lease_rewritten_wider_faults_the_forwarder_and_frees_its_client() {
    for forged in [
        // Widened rights.
        ULease::forwarded(TaskId(0), 0, RW, 0, 10),
        // Widened window.
        ULease::forwarded(TaskId(0), 0, LeaseAttributes::READ, 4, 10),
        // A lease index the client never lent.
        ULease::forwarded(TaskId(0), 5, LeaseAttributes::READ, 0, 1),
    ] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        let forwarder = forward_with_writable_table(&mut k);
        let client = k.task_id(2);
        let (_, index) = forged.forward_source();
        let forged = ULease::forwarded(
            client,
            index as u8,
            forged.rights(),
            forged.base_address,
            forged.length,
        );
        let b = ram_base(3);
        let mut raw = [0u8; 12];
        raw[..4].copy_from_slice(&forged.attributes.to_le_bytes());
        raw[4..8].copy_from_slice(&forged.base_address.to_le_bytes());
        raw[8..].copy_from_slice(&forged.length.to_le_bytes());
        k.platform.ram[3][0x700..0x70C].copy_from_slice(&raw);
        let w = [forwarder, 1, 0, b + 0x700, 12, 0, 0, 0];
        call(&mut k, 3, Sysnum::BorrowWrite, w);
        assert_eq!(&k.tasks[3].save.rets[..2], &[0, 12]);
        let r = [forwarder, 0, 0, b + 0x800, 10, 0, 0, 0];
        let effects = call(&mut k, 3, Sysnum::BorrowRead, r);
        assert_eq!(k.tasks[3].save.rets[0], DEFECT, "{forged:?}");
        assert_eq!(
            faulted_with(&k, 1),
            Some(FaultInfo::SyscallUsage(UsageError::BadLeaseForward))
        );
        assert!(!k.tasks[3].is_faulted());
        // The client was waiting on the forwarder: it gets the dead code.
        assert!(effects.resumes(2) && effects.stops(1) && effects.resumes(3));
        assert_eq!(
            k.tasks[2].save.rets[0],
            dead_response_code(Generation::new(1))
        );
        assert!(k.platform.refused.is_empty());
    }
}

#[test]
fn peripheral_write_from_lease_past_the_window_faults_the_driver() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.tasks[1].desc.uses = &[0];
    let read = LeaseAttributes::READ;
    put_lease(&mut k, 2, 0, ULease::new(read, ram_base(2) + 0x600, 8));
    let client = client_lends(&mut k, 1);
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
fn a_huge_offset_faults_the_borrower_and_touches_nothing() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    put_lease(&mut k, 2, 0, ULease::new(RW, ram_base(2) + 0x600, 8));
    let client = client_lends(&mut k, 1);
    k.platform.copies.clear();
    borrow(&mut k, Sysnum::BorrowRead, client, 0, u32::MAX, 4);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::OffsetOutOfRange))
    );
    assert_eq!(faulted_with(&k, 2), None);
    assert!(k.platform.copies.is_empty());
}

#[test]
fn a_memory_access_the_platform_refuses_faults_the_owner_not_the_kernel() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // The platform knows less RAM for the client than the core does: the
    // core's checks pass, the platform's refuse, the kernel carries on.
    put_lease(&mut k, 2, 0, ULease::new(RW, ram_base(2) + 0x900, 8));
    k.platform.ram[2].truncate(0x800);
    let client = client_lends(&mut k, 1);
    let rets = borrow(&mut k, Sysnum::BorrowRead, client, 0, 0, 8);
    assert_eq!(rets[0], DEFECT);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::MemoryAccess {
            address: Some(ram_base(2) + 0x900),
            source: FaultSource::User,
        })
    );
    assert!(!k.tasks[1].is_faulted());
}

#[test]
fn post_needs_a_slot_or_post_to_and_never_carries_kernel_bits() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let post = |k: &mut Kernel<'_, FakePlatform>, from, to, bits| {
        let target = id(k, to);
        call(k, from, Sysnum::Post, [target, bits, 0, 0, 0, 0, 0, 0]);
    };
    // 1 may call 3: its slot.
    post(&mut k, 1, 3, 1 << 5);
    assert_eq!(k.tasks[3].notifications(), 1 << 5);
    // 3 has no slots and no post-to.
    post(&mut k, 3, 2, 1 << 5);
    assert_eq!(
        faulted_with(&k, 3),
        Some(FaultInfo::SyscallUsage(UsageError::PostNotGranted))
    );
    assert_eq!(k.tasks[2].notifications(), 0);
    // post-to grants it.
    k.tasks[1].desc.post_to = &[2];
    post(&mut k, 1, 2, 1 << 5);
    assert_eq!(k.tasks[2].notifications(), 1 << 5);
    // The target's IRQ bit (3) and the internal timer bit are the kernel's.
    for bits in [1 << 3, INTERNAL_TIMER_NOTIFICATION] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        post(&mut k, 2, 1, bits);
        assert_eq!(
            faulted_with(&k, 2),
            Some(FaultInfo::SyscallUsage(UsageError::ReservedNotification))
        );
        assert_eq!(k.tasks[1].notifications(), 0);
    }
}

#[test]
fn the_supervisor_may_post_anyone_but_not_kernel_bits() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let target = id(&k, 2);
    call(&mut k, 0, Sysnum::Post, [target, 1 << 6, 0, 0, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].notifications(), 1 << 6);
    call(&mut k, 0, Sysnum::Post, [target, 1 << 3, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        faulted_with(&k, 0),
        Some(FaultInfo::SyscallUsage(UsageError::ReservedNotification))
    );
}

#[test]
fn reinit_task_refuses_the_supervisor_even_with_the_grant() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.tasks[2].desc.kipc_grants = Kipcnum::ReinitTask.grant_bit();
    let generation = k.tasks[0].generation();
    let effects = kipc(&mut k, 2, Kipcnum::ReinitTask, &[0, 1]);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::IllegalTask))
    );
    assert_eq!(k.tasks[0].generation(), generation);
    assert!(!effects.restarts(0) && effects.stops(2));
    // Another task is fine.
    kipc(&mut k, 0, Kipcnum::ReinitTask, &[3, 1]);
    assert_eq!(k.tasks[3].generation(), Generation::new(1));
}

#[test]
fn kipc_with_a_short_message_or_a_bad_index_faults_only_the_caller() {
    for (op, words, expected) in [
        (
            Kipcnum::ReadTaskStatus,
            &[][..],
            UsageError::BadKernelMessage,
        ),
        (
            Kipcnum::ReadTaskStatus,
            &[99][..],
            UsageError::TaskOutOfRange,
        ),
        (
            Kipcnum::FaultTask,
            &[u32::MAX][..],
            UsageError::TaskOutOfRange,
        ),
        (Kipcnum::SoftwareIrq, &[2, 1 << 9][..], UsageError::NoIrq),
        (
            Kipcnum::InjectAtSyscall,
            &[2, 1, 9][..],
            UsageError::BadKernelMessage,
        ),
    ] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        kipc(&mut k, 0, op, words);
        assert_eq!(
            faulted_with(&k, 0),
            Some(FaultInfo::SyscallUsage(expected)),
            "{op:?} {words:?}"
        );
        for other in 1..4 {
            assert_eq!(faulted_with(&k, other), None);
        }
    }
}

#[test]
fn receive_and_reply_buffers_in_flash_fault_their_owner() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let flash = flash_base(1);
    call(&mut k, 1, Sysnum::Recv, [flash, 16, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::MemoryAccess {
            address: Some(flash),
            source: FaultSource::User
        })
    );
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let target = id(&k, 1) << 16;
    let b = ram_base(2);
    let reply_in_flash = flash_base(2);
    let args = [target, b, 4, reply_in_flash, 16, b, 0, 0];
    call(&mut k, 2, Sysnum::Send, args);
    assert!(faulted_with(&k, 2).is_some());
    assert!(k.platform.refused.is_empty());
}

#[test]
fn an_oversized_reply_faults_the_server_not_the_client() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let client = client_lends(&mut k, 0);
    let b = ram_base(1);
    let effects =
        call(&mut k, 1, Sysnum::Reply, [client, 0, b, 17, 0, 0, 0, 0]);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::ReplyTooBig))
    );
    // The client is released with the dead code, not left waiting.
    assert!(effects.resumes(2) && effects.stops(1) && !effects.resumes(1));
    assert_eq!(faulted_with(&k, 2), None);
}

#[test]
fn the_platform_naming_a_task_past_the_table_is_ignored() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    assert!(k.handle_syscall(4, Sysnum::GetTimer as u32).is_empty());
    assert!(k.handle_syscall(usize::MAX, Sysnum::Send as u32).is_empty());
    assert!(k.fault(17, FaultInfo::Panic).is_empty());
    assert!(k.raise_irq(9, 1 << 3).is_empty());
    assert!(k.reinit(4, true).is_empty());
    k.arm_injection(99, 1, InjectionAction::Fault, TaskId::KERNEL);
    assert_eq!(k.task_id(4), TaskId::KERNEL);
    for i in 0..4 {
        assert_eq!(faulted_with(&k, i), None);
    }
}

/// Found by the `kernel_core` fuzz target
/// (`fuzz/regressions/kernel_core/access-at-address-zero`): a zero-length
/// bulk transfer at address 0 reached the platform, which refused it.
#[test]
fn an_empty_bulk_transfer_anywhere_never_reaches_the_platform() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    for op in [PeripheralOp::WriteFromMemory, PeripheralOp::ReadIntoMemory] {
        let args = [0, op as u32, 0, 0, 0, 0, 0, 0];
        call(&mut k, 1, Sysnum::PeripheralIo, args);
        assert_eq!(faulted_with(&k, 1), None);
        assert_eq!(&k.tasks[1].save.rets[..2], &[0, 0]);
    }
    assert!(k.platform.refused.is_empty(), "{:?}", k.platform.refused);
}
