//! The kipcs' answers, one test per operation: task status, faulted
//! tasks, panic messages, image id and syscall count, fault and restart
//! of oneself, and malformed kipc messages.

use super::*;

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
