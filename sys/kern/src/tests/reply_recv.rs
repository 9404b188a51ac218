//! REPLY_RECV: a server answers one client and waits for the next in one
//! trap. Each test checks both halves: who got the reply, and what the
//! server received (or why it did not).

use super::*;

/// Supervisor (0), server (1), and two clients (2, 3) that may call it.
fn two_clients() -> (Vec<Task>, Vec<Peripheral>, FakePlatform) {
    let (_, peripherals, platform) = system();
    let tasks = vec![
        Task::new(desc(0, 0, &[])),
        Task::new(desc(1, 1, &[])),
        Task::new(desc(2, 2, &[1])),
        Task::new(desc(3, 2, &[1])),
    ];
    (tasks, peripherals, platform)
}

/// Server 1 replies `pong` (code 5) to `peer`, then receives into its RAM
/// at 0x400 (64 bytes) from anyone, or only from `from`.
fn reply_recv(
    k: &mut Kernel<'_, FakePlatform>,
    peer: u32,
    from: Option<u32>,
) -> Effects {
    k.platform.ram[1][0x500..0x504].copy_from_slice(b"pong");
    let b = ram_base(1);
    let filter = from.map_or(0, |f| RECV_CLOSED | f);
    let args = [peer, 5, b + 0x500, 4, b + 0x400, 64, 0, filter];
    call(k, 1, Sysnum::ReplyRecv, args)
}

/// Client `c` sends its 4-byte message `m`.
fn client_sends(k: &mut Kernel<'_, FakePlatform>, c: usize, m: &[u8; 4]) {
    k.platform.ram[c][0x100..0x104].copy_from_slice(m);
    send(k, c, 1, 0);
}

#[test]
fn replies_to_one_client_and_receives_the_next_in_one_call() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    client_sends(&mut k, 3, b"two!");
    let first = id(&k, 2);
    let effects = reply_recv(&mut k, first, None);
    assert_eq!(&k.platform.ram[2][0x200..0x204], b"pong");
    assert_eq!(&k.tasks[2].save.rets[..2], &[5, 4]);
    assert_eq!(&k.platform.ram[1][0x400..0x404], b"two!");
    assert_eq!(k.tasks[1].save.rets[1], id(&k, 3), "the next sender");
    assert!(effects.resumes(2) && effects.resumes(1));
    let me = k.task_id(1);
    assert_eq!(k.tasks[3].sched(), Some(SchedState::InReply(me)));
}

#[test]
fn with_no_sender_waiting_the_server_blocks_after_replying() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    let client = id(&k, 2);
    let effects = reply_recv(&mut k, client, None);
    assert!(effects.resumes(2) && !effects.resumes(1));
    assert_eq!(k.tasks[1].sched(), Some(SchedState::InRecv(None)));
}

#[test]
fn the_kernel_as_peer_means_no_reply_a_first_receive() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    client_sends(&mut k, 2, b"one!");
    let effects = reply_recv(&mut k, u32::from(TaskId::KERNEL.0), None);
    assert_eq!(&k.platform.ram[1][0x400..0x404], b"one!");
    assert!(effects.resumes(1) && !effects.resumes(2));
    assert_eq!(&k.platform.ram[2][0x200..0x204], &[0; 4], "no reply");
}

#[test]
fn a_reply_to_a_dead_caller_is_dropped_and_the_receive_goes_ahead() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    let stale = id(&k, 2);
    k.reinit(2, true);
    client_sends(&mut k, 3, b"two!");
    let effects = reply_recv(&mut k, stale, None);
    assert_eq!(faulted_with(&k, 1), None, "a stale peer is no mistake");
    assert_eq!(&k.platform.ram[2][0x200..0x204], &[0; 4], "nothing written");
    assert_eq!(&k.platform.ram[1][0x400..0x404], b"two!");
    assert!(effects.resumes(1) && !effects.resumes(2));
}

#[test]
fn a_reply_to_a_caller_no_longer_waiting_is_dropped() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // Client 2 is alive with its current generation but never sent.
    let client = id(&k, 2);
    let effects = reply_recv(&mut k, client, None);
    assert!(!effects.resumes(2) && !effects.resumes(1));
    assert_eq!(faulted_with(&k, 1), None);
    assert_eq!(k.tasks[1].sched(), Some(SchedState::InRecv(None)));
    assert_eq!(&k.platform.ram[2][0x200..0x204], &[0; 4]);
}

#[test]
fn a_bad_reply_faults_the_server_before_it_receives() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    client_sends(&mut k, 3, b"two!");
    let b = ram_base(1);
    // The reply message lies outside the server's memory.
    let args = [id(&k, 2), 5, 0x10, 4, b + 0x400, 64, 0, 0];
    call(&mut k, 1, Sysnum::ReplyRecv, args);
    assert!(faulted_with(&k, 1).is_some(), "server faulted");
    assert_eq!(&k.platform.ram[1][0x400..0x404], b"one!", "nothing more");
    // Both clients were released with the server's dead code.
    for c in [2, 3] {
        let rc = k.tasks[c].save.rets[0];
        assert!(extract_new_generation(rc).is_some(), "client {c} told");
    }
}

/// The core's checks pass but the platform refuses the server's own
/// reply message (it knows less RAM than the core): the server is
/// faulted for it and receives nothing, as for a message the core
/// refuses. Kills `blame` faulting its own caller and answering `Ok`,
/// which let the faulted server go on to receive.
#[test]
fn a_reply_the_platform_refuses_faults_the_server_before_it_receives() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    client_sends(&mut k, 3, b"two!");
    k.platform.ram[1].truncate(0x800);
    let b = ram_base(1);
    let args = [id(&k, 2), 5, b + 0x900, 4, b + 0x400, 64, 0, 0];
    call(&mut k, 1, Sysnum::ReplyRecv, args);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::MemoryAccess {
            address: Some(b + 0x900),
            source: FaultSource::User,
        })
    );
    assert_eq!(&k.platform.ram[1][0x400..0x404], b"one!", "nothing more");
    for c in [2, 3] {
        let rc = k.tasks[c].save.rets[0];
        assert!(extract_new_generation(rc).is_some(), "client {c} told");
        assert_eq!(k.tasks[c].sched(), Some(SchedState::Runnable));
    }
}

#[test]
fn a_reply_too_big_for_the_client_faults_the_server_as_reply_does() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    let b = ram_base(1);
    // The client offered 16 bytes for its reply.
    let args = [id(&k, 2), 0, b + 0x500, 17, b + 0x400, 64, 0, 0];
    call(&mut k, 1, Sysnum::ReplyRecv, args);
    assert_eq!(
        faulted_with(&k, 1),
        Some(FaultInfo::SyscallUsage(UsageError::ReplyTooBig))
    );
}

#[test]
fn a_bad_receive_buffer_faults_the_server_and_delivers_no_reply() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    let b = ram_base(1);
    // The receive buffer is the server's flash.
    let args = [id(&k, 2), 5, b + 0x500, 4, flash_base(1), 64, 0, 0];
    call(&mut k, 1, Sysnum::ReplyRecv, args);
    assert!(faulted_with(&k, 1).is_some(), "server faulted");
    assert_ne!(&k.platform.ram[2][0x200..0x204], b"pong", "no reply");
    assert!(extract_new_generation(k.tasks[2].save.rets[0]).is_some());
}

#[test]
fn a_closed_receive_from_a_dead_sender_still_delivers_the_reply() {
    let (mut t, mut p, plat) = two_clients();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    client_sends(&mut k, 2, b"one!");
    let gone = id(&k, 3);
    k.reinit(3, true);
    let client = id(&k, 2);
    let effects = reply_recv(&mut k, client, Some(gone));
    assert_eq!(&k.platform.ram[2][0x200..0x204], b"pong");
    assert!(effects.resumes(2) && effects.resumes(1));
    let rc = k.tasks[1].save.rets[0];
    assert_eq!(extract_new_generation(rc), Some(Generation::new(1)));
}
