//! Who may make a kipc: peripheral grants revoked and restored by their
//! manager (and only by it, the supervisor or a task granted the kipc),
//! and the privileged kipcs' grants.
//!
//! Written for issue 16: `cargo mutants` on `kipc.rs` found 27 of 36
//! viable mutants alive under the earlier tests.

use super::*;

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
fn dump_task_kipc_needs_a_grant_and_reaches_the_platform() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let kipc = |op: Kipcnum| (TaskId::KERNEL.0 as u32) << 16 | op as u32;
    for who in [2, 0] {
        let b = ram_base(who);
        k.platform.ram[who][0x100..0x104].copy_from_slice(&2u32.to_le_bytes());
        let args =
            [kipc(Kipcnum::DumpTask), b + 0x100, 4, b + 0x200, 0, b, 0, 0];
        call(&mut k, who, Sysnum::Send, args);
    }
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::KipcNotGranted))
    );
    assert_eq!(k.platform.dumps, vec![2], "only the supervisor's request");
    assert_eq!(k.tasks[0].save.rets[0], 0);
}
