//! Notifications and interrupts: how bits reach a task, and when an
//! interrupt is posted, held pending, or masked (Hubris's rules: a fired
//! IRQ stays disabled until the task re-enables it).

use super::{Task, TaskIndex, TaskTable};
use abi::{SchedState, TaskId};

/// ORs `bits` into task `index`'s notifications and delivers them if it
/// is waiting for any of them.
pub fn post(tasks: &mut TaskTable<'_>, index: TaskIndex, bits: u32) {
    tasks[index].notifications |= bits;
    deliver_notifications(tasks, index);
}

/// If task `index` is receiving and has a notification it is waiting for,
/// delivers it (clearing those bits) and wakes it. Returns whether it did.
pub(crate) fn deliver_notifications(
    tasks: &mut TaskTable<'_>,
    index: TaskIndex,
) -> bool {
    let task = &mut tasks[index];
    if !matches!(task.sched(), Some(SchedState::InRecv(_))) {
        return false;
    }
    let fired = task.notifications & task.save.as_recv_args().notification_mask;
    if fired == 0 {
        return false;
    }
    task.notifications &= !fired;
    let kernel = u32::from(TaskId::KERNEL.0);
    tasks.wake_with(index, [0, kernel, fired, 0, 0, 0, 0, 0]);
    true
}

/// A device interrupt for task `index`'s notification bits `mask`: posted
/// if enabled (and then disabled until the task re-enables it, as
/// Hubris), otherwise left pending.
pub fn raise_irq(tasks: &mut TaskTable<'_>, index: TaskIndex, mask: u32) {
    let task = &mut tasks[index];
    let mask = mask & task.desc.irq_mask();
    let fire = mask & task.irq_enabled;
    task.irq_pending |= mask & !fire;
    task.irq_enabled &= !fire;
    if fire != 0 {
        post(tasks, index, fire);
    }
}

/// `IrqStatus` for a mask (bits of the task's IRQs).
pub(crate) fn irq_status(task: &Task, mask: u32) -> u32 {
    let mut status = 0;
    if task.irq_enabled & mask != 0 {
        status |= abi::IrqStatus::ENABLED.0;
    }
    if task.irq_pending & mask != 0 {
        status |= abi::IrqStatus::PENDING.0;
    }
    if task.notifications & mask != 0 {
        status |= abi::IrqStatus::POSTED.0;
    }
    status
}

/// Enables and/or clears IRQs; an enable with a pending IRQ fires it.
pub(crate) fn irq_control(
    tasks: &mut TaskTable<'_>,
    index: TaskIndex,
    mask: u32,
    enable: bool,
    clear: bool,
) {
    let task = &mut tasks[index];
    if clear {
        task.irq_pending &= !mask;
    }
    if !enable {
        task.irq_enabled &= !mask;
        return;
    }
    task.irq_enabled |= mask;
    let pending = task.irq_pending & mask;
    if pending != 0 {
        task.irq_pending &= !pending;
        task.irq_enabled &= !pending;
        post(tasks, index, pending);
    }
}
