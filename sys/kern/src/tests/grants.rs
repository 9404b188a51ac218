//! Kipc, one test per operation's answer, and who may make it: peripheral
//! grants revoked and restored by their manager (and only by it, the
//! supervisor or a task granted the kipc), the read-only kipcs' replies,
//! and a fault that must release a task blocked in SEND while leaving
//! unrelated blocked tasks alone.
//!
//! Written for issue 16: `cargo mutants` on `kipc.rs` found 27 of 36
//! viable mutants alive under the earlier tests.

use super::*;

/// Task `who` makes kipc `op` with `words`; its response buffer (at RAM
/// +0x200) holds `capacity` bytes. Returns `(code, length, response)`.
fn kipc_reply(
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

fn revoked(k: &Kernel<'_, FakePlatform>) -> bool {
    k.peripherals[0].revoked
}

#[test]
fn the_manager_revokes_and_restores_its_peripheral_without_a_grant() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // Task 1 manages peripheral 0 (see `system`) and has no kipc grants.
    assert_eq!(k.tasks[1].desc.kipc_grants, 0);
    let (code, len, _) =
        kipc_reply(&mut k, 1, Kipcnum::RevokePeripheral, &[0], 16);
    assert_eq!((code, len), (0, 0));
    assert!(revoked(&k));
    // The peripheral's user is refused while it is revoked...
    call(&mut k, 2, Sysnum::PeripheralIo, [0; 8]);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::PeripheralGrantRevoked))
    );
    k.reinit(2, true);
    let (code, _, _) =
        kipc_reply(&mut k, 1, Kipcnum::RestorePeripheral, &[0], 16);
    assert_eq!(code, 0);
    assert!(!revoked(&k));
    // ...and served again once restored.
    call(&mut k, 2, Sysnum::PeripheralIo, [0; 8]);
    assert_eq!(&k.tasks[2].save.rets[..2], &[0, 42]);
    assert_eq!(faulted_with(&k, 1), None);
}

#[test]
fn a_task_that_does_not_manage_the_peripheral_may_not_revoke_it() {
    for op in [Kipcnum::RevokePeripheral, Kipcnum::RestorePeripheral] {
        for who in [2, 3] {
            let (mut t, mut p, plat) = system();
            let mut k = Kernel::new(&mut t, &mut p, plat);
            k.peripherals[0].revoked = op == Kipcnum::RestorePeripheral;
            let before = revoked(&k);
            kipc_reply(&mut k, who, op, &[0], 16);
            assert_eq!(
                faulted_with(&k, who),
                Some(FaultInfo::SyscallUsage(UsageError::KipcNotGranted)),
                "{op:?} by {who}"
            );
            assert_eq!(revoked(&k), before, "{op:?} by {who}");
        }
    }
}

#[test]
fn a_manager_may_not_name_a_peripheral_it_does_not_manage() {
    // Peripheral 1 has no manager, 2 does not exist; task 1 manages 0,
    // and a message without the index names none.
    let peripherals = [
        Peripheral {
            managed_by: Some(1),
            revoked: false,
        },
        Peripheral {
            managed_by: None,
            revoked: false,
        },
    ];
    for (index, words) in [(1, &[1u32][..]), (2, &[2][..]), (0, &[][..])] {
        let (mut t, _, plat) = system();
        let mut peripherals = peripherals.clone();
        let mut k = Kernel::new(&mut t, &mut peripherals, plat);
        kipc_reply(&mut k, 1, Kipcnum::RevokePeripheral, words, 16);
        assert_eq!(
            faulted_with(&k, 1),
            Some(FaultInfo::SyscallUsage(UsageError::KipcNotGranted)),
            "peripheral {index}"
        );
        assert!(k.peripherals.iter().all(|p| !p.revoked));
    }
}

#[test]
fn the_supervisor_or_a_granted_task_may_revoke_any_peripheral() {
    for (who, grants) in [(0, 0), (2, Kipcnum::RevokePeripheral.grant_bit())] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        k.tasks[who].desc.kipc_grants = grants;
        let (code, _, _) =
            kipc_reply(&mut k, who, Kipcnum::RevokePeripheral, &[0], 16);
        assert_eq!(code, 0);
        assert!(revoked(&k));
        // A peripheral past the table is a bad request, not a grant
        // question.
        kipc_reply(&mut k, who, Kipcnum::RevokePeripheral, &[5], 16);
        assert_eq!(
            faulted_with(&k, who),
            Some(FaultInfo::SyscallUsage(UsageError::BadPeripheralRequest))
        );
    }
    // The revoke grant is not the restore grant.
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.peripherals[0].revoked = true;
    k.tasks[2].desc.kipc_grants = Kipcnum::RevokePeripheral.grant_bit();
    kipc_reply(&mut k, 2, Kipcnum::RestorePeripheral, &[0], 16);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::KipcNotGranted))
    );
    assert!(revoked(&k));
}

#[test]
fn read_task_status_answers_the_wire_form_of_any_task() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    recv(&mut k, 1);
    send(&mut k, 2, 1, 0);
    k.fault(3, FaultInfo::Panic);
    for (task, want) in [
        (1, TaskState::Healthy(SchedState::Runnable)),
        (2, TaskState::Healthy(SchedState::InReply(k.task_id(1)))),
        (
            3,
            TaskState::Faulted {
                fault: FaultInfo::Panic,
                // Never booted: tasks start stopped.
                original_state: SchedState::Stopped,
            },
        ),
    ] {
        let (code, len, bytes) =
            kipc_reply(&mut k, 0, Kipcnum::ReadTaskStatus, &[task], 64);
        assert_eq!((code, len as usize), (0, TASK_STATE_WIRE_SIZE));
        assert_eq!(TaskState::decode(&bytes), Some(want), "task {task}");
    }
    // A response buffer too short for it gets what fits.
    let (code, len, _) =
        kipc_reply(&mut k, 0, Kipcnum::ReadTaskStatus, &[1], 3);
    assert_eq!((code, len), (0, 3));
    assert_eq!(k.platform.ram[0][0x203], 0xEE, "nothing past the buffer");
}

#[test]
fn find_faulted_task_finds_the_first_at_or_after_the_start() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let find = |k: &mut Kernel<'_, FakePlatform>, start: u32| {
        let (code, _, bytes) =
            kipc_reply(k, 2, Kipcnum::FindFaultedTask, &[start], 4);
        assert_eq!(code, 0);
        u32::from_le_bytes(bytes.try_into().unwrap())
    };
    assert_eq!(find(&mut k, 0), 0, "none faulted");
    k.fault(1, FaultInfo::Panic);
    k.fault(3, FaultInfo::Panic);
    assert_eq!(find(&mut k, 0), 1);
    assert_eq!(find(&mut k, 1), 1);
    assert_eq!(find(&mut k, 2), 3);
    assert_eq!(find(&mut k, 4), 0);
}

#[test]
fn read_panic_message_answers_only_for_a_panicked_task() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let msg = b"out of cheese";
    k.platform.ram[3][0x800..0x800 + msg.len()].copy_from_slice(msg);
    let b = ram_base(3);
    call(
        &mut k,
        3,
        Sysnum::Panic,
        [b + 0x800, msg.len() as u32, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(faulted_with(&k, 3), Some(FaultInfo::Panic));
    let (code, len, bytes) =
        kipc_reply(&mut k, 2, Kipcnum::ReadPanicMessage, &[3], 128);
    assert_eq!((code, len as usize), (0, msg.len()));
    assert_eq!(bytes, msg);
    // A task faulted some other way, or healthy, has no message.
    k.fault(1, FaultInfo::Injected(TaskId::KERNEL));
    for task in [1, 2] {
        let (code, len, _) =
            kipc_reply(&mut k, 2, Kipcnum::ReadPanicMessage, &[task], 128);
        assert_eq!((code, len), (KIPC_TASK_NOT_PANICKED, 0), "task {task}");
    }
}

#[test]
fn read_image_id_and_syscall_count() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let (code, _, bytes) = kipc_reply(&mut k, 2, Kipcnum::ReadImageId, &[], 8);
    assert_eq!(code, 0);
    assert_eq!(bytes, 7u64.to_le_bytes(), "the platform's image id");
    for _ in 0..5 {
        call(&mut k, 3, Sysnum::GetTimer, [0; 8]);
    }
    let (_, _, bytes) =
        kipc_reply(&mut k, 2, Kipcnum::ReadSyscallCount, &[3], 4);
    assert_eq!(bytes, 5u32.to_le_bytes());
}

#[test]
fn privileged_kipcs_need_their_grant() {
    let privileged = [
        (Kipcnum::ReinitTask, &[3u32, 1][..]),
        (Kipcnum::FaultTask, &[3][..]),
        (Kipcnum::SoftwareIrq, &[3, 1 << 3][..]),
        (Kipcnum::InjectAtSyscall, &[3, 1, 1][..]),
        (Kipcnum::ConsoleWrite, &[0x6968][..]),
        (Kipcnum::Shutdown, &[3][..]),
        (Kipcnum::Reset, &[][..]),
    ];
    for (op, words) in privileged {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        kipc_reply(&mut k, 2, op, words, 16);
        assert_eq!(
            faulted_with(&k, 2),
            Some(FaultInfo::SyscallUsage(UsageError::KipcNotGranted)),
            "{op:?}"
        );
        assert_eq!(k.tasks[3].generation(), Generation::ZERO, "{op:?}");
        assert_eq!(faulted_with(&k, 3), None, "{op:?}");
        assert!(
            k.platform.console.is_empty() && k.platform.shutdowns.is_empty()
        );
        // With the grant it is carried out and answered.
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        k.tasks[2].desc.kipc_grants = op.grant_bit();
        let effects = kipc(&mut k, 2, op, words);
        if op == Kipcnum::Reset {
            // Everyone restarts, the caller too, so nobody is answered.
            assert!((0..4).all(|t| effects.restarts(t)));
            assert!(!effects.resumes(2));
            continue;
        }
        assert_eq!(faulted_with(&k, 2), None, "{op:?}");
        assert!(effects.resumes(2), "{op:?}");
        assert_eq!(k.tasks[2].save.rets[0], 0, "{op:?}");
    }
}

#[test]
fn granted_kipcs_do_what_they_say() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    // Supervisor: every kipc.
    kipc(
        &mut k,
        0,
        Kipcnum::ConsoleWrite,
        &[u32::from_le_bytes(*b"hi!\n")],
    );
    assert_eq!(k.platform.console, vec![(0, b"hi!\n".to_vec())]);
    kipc(&mut k, 0, Kipcnum::Shutdown, &[9]);
    assert_eq!(k.platform.shutdowns, vec![9]);
    kipc(&mut k, 0, Kipcnum::FaultTask, &[3]);
    assert_eq!(faulted_with(&k, 3), Some(FaultInfo::Injected(k.task_id(0))));
    kipc(&mut k, 0, Kipcnum::ReinitTask, &[3, 0]);
    assert_eq!(
        k.tasks[3].state(),
        TaskState::default(),
        "held, not started"
    );
    assert_eq!(k.tasks[3].generation(), Generation::new(1));
    // A software IRQ posts the task's IRQ bit once it is enabled.
    let enable = IrqControlFlags::ENABLED.0;
    call(
        &mut k,
        2,
        Sysnum::IrqControl,
        [1 << 3, enable, 0, 0, 0, 0, 0, 0],
    );
    kipc(&mut k, 0, Kipcnum::SoftwareIrq, &[2, 1 << 3]);
    assert_eq!(k.tasks[2].notifications(), 1 << 3);
    // An injection armed by kipc fires at the n-th next syscall, naming
    // the injector.
    kipc(
        &mut k,
        0,
        Kipcnum::InjectAtSyscall,
        &[2, 2, InjectionAction::Fault as u32],
    );
    call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
    assert_eq!(faulted_with(&k, 2), None);
    call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
    assert_eq!(faulted_with(&k, 2), Some(FaultInfo::Injected(k.task_id(0))));
    // `nth == 0` disarms.
    kipc(
        &mut k,
        0,
        Kipcnum::InjectAtSyscall,
        &[1, 1, InjectionAction::Restart as u32],
    );
    kipc(&mut k, 0, Kipcnum::InjectAtSyscall, &[1, 0]);
    call(&mut k, 1, Sysnum::GetTimer, [0; 8]);
    assert_eq!(k.tasks[1].generation(), Generation::ZERO);
    assert_eq!(faulted_with(&k, 0), None);
}

#[test]
fn a_task_may_not_fault_itself_or_the_supervisor_but_may_restart_itself() {
    for (op, words) in [
        (Kipcnum::FaultTask, [2u32, 0]),
        (Kipcnum::FaultTask, [0, 0]),
        (Kipcnum::InjectAtSyscall, [0, 1]),
    ] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        k.tasks[2].desc.kipc_grants = op.grant_bit();
        kipc(&mut k, 2, op, &words);
        assert_eq!(
            faulted_with(&k, 2),
            Some(FaultInfo::SyscallUsage(UsageError::IllegalTask)),
            "{op:?} {words:?}"
        );
        assert_eq!(faulted_with(&k, 0), None);
    }
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.tasks[2].desc.kipc_grants = Kipcnum::ReinitTask.grant_bit();
    let effects = kipc(&mut k, 2, Kipcnum::ReinitTask, &[2, 1]);
    assert!(effects.restarts(2) && !effects.resumes(2));
    assert_eq!(k.tasks[2].generation(), Generation::new(1));
}

#[test]
fn dump_regions_are_not_a_hosted_kipc() {
    for op in [Kipcnum::GetTaskDumpRegion, Kipcnum::ReadTaskDumpRegion] {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        kipc(&mut k, 0, op, &[1]);
        assert_eq!(
            faulted_with(&k, 0),
            Some(FaultInfo::SyscallUsage(UsageError::BadKernelMessage))
        );
    }
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

/// A kipc whose message holds fewer words than the operation takes is a
/// malformed message, whatever the missing words would have been: the
/// caller is faulted and nothing is done.
#[test]
fn a_kipc_message_one_word_short_is_bad_kernel_message() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let before = k.task_id(3);
    // reinit_task takes (task, start); the supervisor sends only the task.
    kipc_reply(&mut k, 0, Kipcnum::ReinitTask, &[3], 0);
    assert_eq!(
        faulted_with(&k, 0),
        Some(FaultInfo::SyscallUsage(UsageError::BadKernelMessage))
    );
    assert_eq!(k.task_id(3), before, "task 3 was not restarted");
}
