//! Hostile syscalls that are not about leases: POST as a capability,
//! privileged kipcs, buffers in flash, oversized replies, a platform
//! naming tasks that do not exist, empty bulk transfers.

use super::*;

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
    let client = client_sends_leases(&mut k, 0);
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
