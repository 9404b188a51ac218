//! Timers (past and future deadlines, GET_TIMER, what a dump shows),
//! interrupts and fault injection.

use super::*;

#[test]
fn injection_fires_at_exactly_the_nth_syscall() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.arm_injection(2, 3, InjectionAction::Fault, TaskId::KERNEL);
    for _ in 0..2 {
        call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
        assert!(!k.tasks[2].is_faulted());
    }
    call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::Injected(TaskId::KERNEL))
    );
    assert_eq!(k.tasks[2].syscall_count(), 3);
}

#[test]
fn past_timer_fires_at_once_and_notifies_a_receiver() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.platform.now = 100;
    call(&mut k, 2, Sysnum::SetTimer, [1, 50, 0, 1 << 4, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].notifications(), 1 << 4);
    let b = ram_base(2);
    let effects = call(&mut k, 2, Sysnum::Recv, [b, 0, 1 << 4, 0, 0, 0, 0, 0]);
    assert!(effects.resumes(2));
    assert_eq!(k.tasks[2].save.rets[1], TaskId::KERNEL.0 as u32);
    assert_eq!(k.tasks[2].save.rets[2], 1 << 4);
}

/// A future timer: a tick before its deadline fires nothing and names
/// the earliest pending deadline as the next to wait for; the tick at the
/// deadline wakes the task blocked in RECV on the timer's bit, and the
/// later timer is then the next.
#[test]
fn tick_fires_a_timer_at_its_deadline_and_names_the_next() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.platform.now = 100;
    call(&mut k, 1, Sysnum::SetTimer, [1, 400, 0, 1 << 2, 0, 0, 0, 0]);
    call(&mut k, 2, Sysnum::SetTimer, [1, 150, 0, 1 << 4, 0, 0, 0, 0]);
    let b = ram_base(2);
    let effects = call(&mut k, 2, Sysnum::Recv, [b, 0, 1 << 4, 0, 0, 0, 0, 0]);
    assert!(!effects.resumes(2), "nothing pending yet");
    k.platform.now = 149;
    let (effects, next) = k.tick();
    assert!(!effects.resumes(2));
    assert_eq!(next, Some(150));
    assert_eq!(k.tasks[2].notifications(), 0);
    k.platform.now = 150;
    let (effects, next) = k.tick();
    assert!(effects.resumes(2), "the timer woke its receiver");
    assert_eq!(k.tasks[2].save.rets[1], TaskId::KERNEL.0 as u32);
    assert_eq!(k.tasks[2].save.rets[2], 1 << 4);
    assert_eq!(next, Some(400));
    assert_eq!(k.tasks[1].notifications(), 0);
    k.platform.now = 1_000;
    let (_, next) = k.tick();
    assert_eq!(next, None, "no timer left");
    assert_eq!(k.tasks[1].notifications(), 1 << 2);
}

/// GET_TIMER answers 64-bit times as low and high words: the time now
/// and the armed deadline, both past 2^32 ms, and the timer's bits.
#[test]
fn get_timer_answers_both_halves_of_now_and_the_deadline() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    k.platform.now = 0x1_0000_0005;
    call(&mut k, 2, Sysnum::SetTimer, [1, 7, 2, 1 << 4, 0, 0, 0, 0]);
    call(&mut k, 2, Sysnum::GetTimer, [0; 8]);
    assert_eq!(&k.tasks[2].save.rets[..6], &[5, 1, 1, 7, 2, 1 << 4]);
}

/// What a debugger's dump shows of a task's timer: the armed deadline
/// and its bits, and nothing once disarmed; and the table's size.
#[test]
fn a_task_reports_its_timer_and_the_table_its_size() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    call(&mut k, 2, Sysnum::SetTimer, [1, 300, 0, 1 << 4, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].timer(), (Some(300), 1 << 4));
    call(&mut k, 2, Sysnum::SetTimer, [0, 0, 0, 1 << 5, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].timer(), (None, 1 << 5));
    assert_eq!((k.tasks.len(), k.tasks.is_empty()), (4, false));
}

#[test]
fn irq_fires_once_then_stays_pending_until_reenabled() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let enable = IrqControlFlags::ENABLED.0;
    call(
        &mut k,
        2,
        Sysnum::IrqControl,
        [1 << 3, enable, 0, 0, 0, 0, 0, 0],
    );
    k.raise_irq(2, 1 << 3);
    assert_eq!(k.tasks[2].notifications(), 1 << 3);
    k.raise_irq(2, 1 << 3);
    call(&mut k, 2, Sysnum::IrqStatus, [1 << 3, 0, 0, 0, 0, 0, 0, 0]);
    let s = IrqStatus(k.tasks[2].save.rets[0]);
    assert!(s.contains(IrqStatus::PENDING) && !s.contains(IrqStatus::ENABLED));
    // An IRQ the task does not own is a usage fault.
    call(
        &mut k,
        2,
        Sysnum::IrqControl,
        [1 << 5, enable, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        faulted_with(&k, 2),
        Some(FaultInfo::SyscallUsage(UsageError::NoIrq))
    );
}
