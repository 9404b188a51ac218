//! One test per hole an attacking task could use through a lease: each
//! was open before leases were checked on every use. The victim is
//! faulted only for its own mistakes, the kernel never touches memory
//! outside a task (the fake platform records any attempt), and the
//! attacker is faulted or refused with the exact outcome.

use super::*;

const LEASES: u32 = 0x300;

const RW: LeaseAttributes = LeaseAttributes(3);

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
    let client = client_sends_leases(k, 1);
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
    let client = client_sends_leases(&mut k, 1);
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
    client_sends_leases(k, 1);
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
fn a_huge_offset_faults_the_borrower_and_touches_nothing() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    put_lease(&mut k, 2, 0, ULease::new(RW, ram_base(2) + 0x600, 8));
    let client = client_sends_leases(&mut k, 1);
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
    let client = client_sends_leases(&mut k, 1);
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
