//! RECV_LEASE_INFO: the kernel describes a message's leases in the
//! receive buffer, after the message, so a server checks them without a
//! BORROW_INFO trap; and writes nothing it was not asked for or that does
//! not fit.

use super::*;

const RW: LeaseAttributes = LeaseAttributes(3);

/// Server 1 receives with lease descriptors into RAM+0x400, `len` bytes.
fn recv_described(k: &mut Kernel<'_, FakePlatform>, len: u32) -> Effects {
    let b = ram_base(1);
    let args = [b + 0x400, len, 0, RECV_LEASE_INFO, 0, 0, 0, 0];
    call(k, 1, Sysnum::Recv, args)
}

/// Client 2 lends two leases (16 bytes read-write, 5 bytes read-only).
fn lend_two(k: &mut Kernel<'_, FakePlatform>) {
    let b = ram_base(2);
    put_lease(k, 2, 0, ULease::new(RW, b + 0x800, 16));
    put_lease(k, 2, 1, ULease::new(LeaseAttributes::READ, b + 0x900, 5));
    send(k, 2, 1, 2);
}

fn word(k: &Kernel<'_, FakePlatform>, task: usize, offset: usize) -> u32 {
    let bytes = &k.platform.ram[task][offset..offset + 4];
    u32::from_le_bytes(bytes.try_into().unwrap())
}

#[test]
fn descriptors_follow_the_message_as_borrow_info_would_answer() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv_described(&mut k, 64);
    lend_two(&mut k);
    assert_eq!(k.tasks[1].save.rets[6], 2, "both described");
    // The 4-byte message, then the descriptors at offset 4.
    assert_eq!(word(&k, 1, 0x404), 3 | LEASE_DESCRIPTOR_VALID);
    assert_eq!(word(&k, 1, 0x408), 16);
    assert_eq!(word(&k, 1, 0x40C), 1 | LEASE_DESCRIPTOR_VALID);
    assert_eq!(word(&k, 1, 0x410), 5);
    // BORROW_INFO agrees.
    let client = id(&k, 2);
    call(&mut k, 1, Sysnum::BorrowInfo, [client, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&k.tasks[1].save.rets[..3], &[0, 1, 5]);
}

#[test]
fn without_the_flag_nothing_is_written_after_the_message() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    lend_two(&mut k);
    assert_eq!(k.tasks[1].save.rets[6], 0);
    assert_eq!(&k.platform.ram[1][0x404..0x414], &[0; 16]);
}

#[test]
fn descriptors_that_do_not_fit_are_not_written_at_all() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // 4 bytes of message and room for one of the two descriptors.
    recv_described(&mut k, 12);
    lend_two(&mut k);
    assert_eq!(k.tasks[1].save.rets[6], 0);
    assert_eq!(&k.platform.ram[1][0x404..0x40C], &[0; 8]);
    assert!(k.platform.refused.is_empty());
}

#[test]
fn descriptors_that_exactly_fill_the_buffer_are_written() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // 4 bytes of message and exactly the two descriptors' 16.
    recv_described(&mut k, 20);
    lend_two(&mut k);
    assert_eq!(k.tasks[1].save.rets[6], 2);
    assert_eq!(word(&k, 1, 0x40C), 1 | LEASE_DESCRIPTOR_VALID);
    assert_eq!(word(&k, 1, 0x410), 5);
}

#[test]
fn a_malformed_entry_is_left_for_borrow_info_to_blame() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv_described(&mut k, 64);
    lend_two(&mut k);
    // Client 2 is blocked; rewrite its second entry behind the kernel's
    // back (as a task holding its memory through a lease could).
    put_lease(&mut k, 2, 1, ULease::new(RW, 0x10, 4));
    let client = id(&k, 2);
    let b = ram_base(1);
    // Describe the (now malformed) table again, as a later delivery would.
    let mut written = [0u8; 16];
    let described = k.describe_leases(
        crate::task::TaskIndex::new(&k.tasks, 2).unwrap(),
        (
            crate::task::TaskIndex::new(&k.tasks, 1).unwrap(),
            crate::umem::USlice::new(b + 0x600, 64),
            0,
        ),
        2,
    );
    assert_eq!(described, 2);
    written.copy_from_slice(&k.platform.ram[1][0x600..0x610]);
    assert_eq!(u32::from_le_bytes(written[8..12].try_into().unwrap()), 0);
    assert_eq!(faulted_with(&k, 2), None, "nobody faulted while describing");
    // BORROW_INFO then blames the lender.
    call(&mut k, 1, Sysnum::BorrowInfo, [client, 1, 0, 0, 0, 0, 0, 0]);
    assert!(faulted_with(&k, 2).is_some());
}

#[test]
fn reply_recv_describes_the_next_message_too() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    lend_two(&mut k);
    let b = ram_base(1);
    let no_reply = u32::from(TaskId::KERNEL.0);
    let args = [no_reply, 0, 0, 0, b + 0x400, 64, 0, RECV_LEASE_INFO];
    call(&mut k, 1, Sysnum::ReplyRecv, args);
    assert_eq!(k.tasks[1].save.rets[6], 2);
    assert_eq!(word(&k, 1, 0x408), 16);
}
