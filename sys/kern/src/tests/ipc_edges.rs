//! SEND, RECV, REPLY and BORROW at their edges: closed receives from the
//! right and the wrong sender, the most important sender first and equals
//! in turn, lease tables at the size and alignment limits, replies that
//! exactly fill the buffer, and borrow buffers that must be writable.
//!
//! Written for issue 16: each test kills mutants `cargo mutants` found
//! alive in `ipc.rs` and `lease.rs` under the earlier tests.

use super::*;

/// Task `t` receives into its RAM at 0x400 only from `from`.
fn recv_closed(k: &mut Kernel<'_, FakePlatform>, t: usize, from: usize) {
    let b = ram_base(t);
    let filter = RECV_CLOSED | id(k, from);
    call(k, t, Sysnum::Recv, [b + 0x400, 64, 0, filter, 0, 0, 0, 0]);
}

#[test]
fn a_send_to_a_closed_receive_is_delivered_only_from_the_named_sender() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // Server 3 listens to client 2 only; server 1 (which may call it)
    // is refused until then, and waits in SEND.
    recv_closed(&mut k, 3, 2);
    k.platform.ram[1][0x100..0x104].copy_from_slice(b"one!");
    let effects = send(&mut k, 1, 3, 0);
    assert!(!effects.resumes(3));
    let three = k.task_id(3);
    assert_eq!(k.tasks[1].sched(), Some(SchedState::InSend(three)));
    k.platform.ram[2][0x100..0x104].copy_from_slice(b"two!");
    let effects = send(&mut k, 2, 3, 0);
    assert!(effects.resumes(3));
    assert_eq!(&k.platform.ram[3][0x400..0x404], b"two!");
    assert_eq!(k.tasks[3].save.rets[1], id(&k, 2));
    assert_eq!(k.tasks[2].sched(), Some(SchedState::InReply(three)));
    assert_eq!(k.tasks[1].sched(), Some(SchedState::InSend(three)));
}

#[test]
fn a_closed_receive_takes_the_named_sender_only_if_it_is_sending_to_us() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // Client 2 sends to 1 (not receiving): it waits in SEND to 1.
    k.platform.ram[2][0x100..0x104].copy_from_slice(b"two!");
    send(&mut k, 2, 1, 0);
    // Server 3 receives from 2 only: 2 is not sending to it, so 3 blocks.
    let effects = {
        let b = ram_base(3);
        let filter = RECV_CLOSED | id(&k, 2);
        call(
            &mut k,
            3,
            Sysnum::Recv,
            [b + 0x400, 64, 0, filter, 0, 0, 0, 0],
        )
    };
    assert!(!effects.resumes(3) && !effects.resumes(2));
    assert_eq!(
        k.tasks[3].sched(),
        Some(SchedState::InRecv(Some(k.task_id(2))))
    );
    // Server 1 receives from 2 only: 2 is sending to it, so it is taken.
    let effects = {
        let b = ram_base(1);
        let filter = RECV_CLOSED | id(&k, 2);
        call(
            &mut k,
            1,
            Sysnum::Recv,
            [b + 0x400, 64, 0, filter, 0, 0, 0, 0],
        )
    };
    assert!(effects.resumes(1));
    assert_eq!(&k.platform.ram[1][0x400..0x404], b"two!");
}

/// Supervisor (0), server (1), and clients 2, 3, 4 of it with priorities
/// `prio`.
fn three_clients(prio: [u8; 3]) -> (Vec<Task>, Vec<Peripheral>, FakePlatform) {
    let (_, peripherals, mut platform) = system();
    let mut tasks =
        vec![Task::new(desc(0, 0, &[])), Task::new(desc(1, 1, &[]))];
    for (i, p) in prio.into_iter().enumerate() {
        tasks.push(Task::new(desc(2 + i, p, &[1])));
    }
    platform.ram = vec![vec![0; RAM_SIZE as usize]; 5];
    platform.flash = (0..5)
        .map(|i| vec![0xF0 | i as u8; FLASH_SIZE as usize])
        .collect();
    (tasks, peripherals, platform)
}

/// Which client server 1's next open receive gets (then replies to it).
fn next_sender(k: &mut Kernel<'_, FakePlatform>) -> usize {
    recv(k, 1);
    let sender = k.tasks[1].save.rets[1];
    let index = TaskId(sender as u16).index();
    let b = ram_base(1);
    call(k, 1, Sysnum::Reply, [sender, 0, b, 0, 0, 0, 0, 0]);
    index
}

#[test]
fn an_open_receive_takes_the_most_important_sender_first() {
    // Lower number, more important; the server is task 1.
    for (prio, order) in [
        ([5, 4, 3], [4, 3, 2]),
        ([3, 4, 5], [2, 3, 4]),
        ([4, 3, 4], [3, 2, 4]),
    ] {
        let (mut t, mut p, plat) = three_clients(prio);
        let mut k = Kernel::new(&mut t, &mut p, plat);
        for c in 2..5 {
            send(&mut k, c, 1, 0);
        }
        let got: Vec<_> = (0..3).map(|_| next_sender(&mut k)).collect();
        assert_eq!(got, order, "priorities {prio:?}");
    }
}

#[test]
fn equally_important_senders_take_turns_after_the_receiver_in_table_order() {
    // The server is task 3 of 0..5, between equal clients 2 and 4 (and 1,
    // which may not call it): the search starts after the receiver.
    let (_, peripherals, mut platform) = system();
    let mut tasks = vec![Task::new(desc(0, 0, &[]))];
    tasks.push(Task::new(desc(1, 4, &[3])));
    tasks.push(Task::new(desc(2, 4, &[3])));
    tasks.push(Task::new(desc(3, 1, &[])));
    tasks.push(Task::new(desc(4, 4, &[3])));
    platform.ram = vec![vec![0; RAM_SIZE as usize]; 5];
    platform.flash = vec![vec![0; FLASH_SIZE as usize]; 5];
    let mut p = peripherals;
    let mut k = Kernel::new(&mut tasks, &mut p, platform);
    for c in [1, 2, 4] {
        send(&mut k, c, 3, 0);
    }
    let mut got = vec![];
    for _ in 0..3 {
        recv(&mut k, 3);
        let sender = k.tasks[3].save.rets[1];
        got.push(TaskId(sender as u16).index());
        let b = ram_base(3);
        call(&mut k, 3, Sysnum::Reply, [sender, 0, b, 0, 0, 0, 0, 0]);
    }
    assert_eq!(got, vec![4, 1, 2]);
}

/// Client 2's SEND to 1 with `count` leases at `table` (all-zero,
/// hence empty, entries).
fn send_table(k: &mut Kernel<'_, FakePlatform>, table: u32, count: u32) {
    recv(k, 1);
    let b = ram_base(2);
    let target = id(k, 1) << 16 | 7;
    call(
        k,
        2,
        Sysnum::Send,
        [target, b + 0xF00, 4, b + 0xF80, 16, table, count, 0],
    );
}

#[test]
fn a_lease_table_of_max_leases_is_fine_and_one_more_faults() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    send_table(&mut k, ram_base(2), MAX_LEASES as u32);
    assert_eq!(faulted_with(&k, 2), None);
    assert_eq!(k.tasks[1].save.rets[5], MAX_LEASES as u32);
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    send_table(&mut k, ram_base(2), MAX_LEASES as u32 + 1);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::InvalidSlice))
    );
}

#[test]
fn a_misaligned_lease_table_faults_the_sender() {
    for count in [0, 1] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        send_table(&mut k, ram_base(2) + 0x302, count);
        assert_eq!(
            faulted_with(&k, 2),
            Some(FaultInfo::SyscallUsage(UsageError::InvalidSlice)),
            "{count} leases"
        );
        assert_eq!(k.tasks[1].sched(), Some(SchedState::InRecv(None)));
    }
}

#[test]
fn a_reply_that_exactly_fills_the_buffer_is_delivered() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    send(&mut k, 2, 1, 0); // 16-byte reply buffer
    k.platform.ram[1][0x500..0x510].copy_from_slice(b"sixteen bytes!!!");
    let (b, client) = (ram_base(1), id(&k, 2));
    call(
        &mut k,
        1,
        Sysnum::Reply,
        [client, 0, b + 0x500, 16, 0, 0, 0, 0],
    );
    assert_eq!(faulted_with(&k, 1), None);
    assert_eq!(&k.tasks[2].save.rets[..2], &[0, 16]);
    assert_eq!(&k.platform.ram[2][0x200..0x210], b"sixteen bytes!!!");
}

#[test]
fn a_borrow_read_needs_a_writable_buffer_and_a_borrow_write_a_readable_one() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let b = ram_base(2);
    k.platform.ram[2][0x600..0x608].copy_from_slice(b"borrowed");
    let rw = LeaseAttributes::READ | LeaseAttributes::WRITE;
    put_lease(&mut k, 2, 0, ULease::new(rw, b + 0x600, 8));
    recv(&mut k, 1);
    send(&mut k, 2, 1, 1);
    let client = id(&k, 2);
    // Writing the lease from the server's flash is fine...
    let flash = flash_base(1);
    call(
        &mut k,
        1,
        Sysnum::BorrowWrite,
        [client, 0, 0, flash, 8, 0, 0, 0],
    );
    assert_eq!(&k.tasks[1].save.rets[..2], &[0, 8]);
    assert_eq!(&k.platform.ram[2][0x600..0x608], &[0xF1; 8]);
    // ...reading it into the server's flash is the server's fault.
    call(
        &mut k,
        1,
        Sysnum::BorrowRead,
        [client, 0, 0, flash, 8, 0, 0, 0],
    );
    assert!(faulted_with(&k, 1).is_some());
    assert!(k.platform.refused.is_empty(), "{:?}", k.platform.refused);
    assert!(k.platform.flash[1].iter().all(|&x| x == 0xF1));
}

#[test]
fn fault_wakes_a_sender_blocked_in_send_and_leaves_unrelated_tasks_blocked() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // Server 1 is not receiving: client 2's SEND blocks in SEND.
    send(&mut k, 2, 1, 0);
    let one = k.task_id(1);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::InSend(one)));
    // Server 3 waits in a closed receive from client 2 (alive).
    let b = ram_base(3);
    let closed = RECV_CLOSED | id(&k, 2);
    call(
        &mut k,
        3,
        Sysnum::Recv,
        [b + 0x400, 64, 0, closed, 0, 0, 0, 0],
    );
    let waiting_for_2 = k.tasks[3].sched();
    assert_eq!(waiting_for_2, Some(SchedState::InRecv(Some(k.task_id(2)))));
    let effects = k.fault(1, FaultInfo::Panic);
    // The sender is released with the server's dead code...
    assert!(effects.resumes(2) && effects.stops(1));
    assert_eq!(k.tasks[2].sched(), Some(SchedState::Runnable));
    assert_eq!(
        k.tasks[2].save.rets[0],
        dead_response_code(Generation::new(1))
    );
    // ...and nobody else moved.
    assert!(!effects.resumes(3));
    assert_eq!(k.tasks[3].sched(), waiting_for_2);
    assert_eq!(k.tasks[3].generation(), Generation::ZERO);
}

#[test]
fn a_closed_receive_from_a_task_that_dies_wakes_with_the_dead_code() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let b = ram_base(1);
    let closed = RECV_CLOSED | id(&k, 2);
    call(
        &mut k,
        1,
        Sysnum::Recv,
        [b + 0x400, 64, 0, closed, 0, 0, 0, 0],
    );
    // Client 3... is not a client; 2 restarts instead of sending.
    let effects = k.reinit(2, true);
    assert!(effects.resumes(1));
    assert_eq!(
        k.tasks[1].save.rets[0],
        dead_response_code(Generation::new(1))
    );
    // A closed receive from a task already dead answers at once.
    let stale =
        RECV_CLOSED | (TaskId::for_index_and_gen(2, Generation::ZERO).0 as u32);
    call(
        &mut k,
        1,
        Sysnum::Recv,
        [b + 0x400, 64, 0, stale, 0, 0, 0, 0],
    );
    assert_eq!(k.tasks[1].sched(), Some(SchedState::Runnable));
    assert_eq!(
        k.tasks[1].save.rets[0],
        dead_response_code(Generation::new(1))
    );
}
