//! Interrupts and notifications bit by bit: a task with two IRQ bits
//! (one shared by two routes), so that every check can see a bit it was
//! not asked about stay as it was.
//!
//! Written for issue 16: `cargo mutants` on `task/notify.rs` and
//! `task/desc.rs` (IRQ status, control, delivery, the IRQ mask).

use super::*;
use crate::task::IrqRoute;

/// Task 2's two IRQ bits.
const A: u32 = 1 << 3;
const B: u32 = 1 << 6;
const ENABLED: u32 = IrqStatus::ENABLED.0;
const PENDING: u32 = IrqStatus::PENDING.0;
const POSTED: u32 = IrqStatus::POSTED.0;

/// Bit A is routed from two peripherals, bit B from the second only.
static ROUTES: [IrqRoute; 2] = [
    IrqRoute {
        peripheral: 0,
        mask: A,
    },
    IrqRoute {
        peripheral: 1,
        mask: A | B,
    },
];

/// `system()` with task 2 owning IRQ bits A and B.
fn with_two_irqs(k: &mut Kernel<'_, FakePlatform>) {
    k.tasks[2].desc.irqs = &ROUTES;
    k.tasks[2].desc.kernel_notifications |= A | B;
}

/// Task 2's IRQ_CONTROL of `mask` with `flags`; it must be accepted.
fn control(
    k: &mut Kernel<'_, FakePlatform>,
    mask: u32,
    flags: IrqControlFlags,
) {
    call(k, 2, Sysnum::IrqControl, [mask, flags.0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(faulted_with(k, 2), None);
}

/// Task 2's IRQ_STATUS of `mask`.
fn status(k: &mut Kernel<'_, FakePlatform>, mask: u32) -> u32 {
    call(k, 2, Sysnum::IrqStatus, [mask, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(faulted_with(k, 2), None);
    k.tasks[2].save.rets[0]
}

#[test]
fn an_irq_fires_only_its_own_bit_and_stays_pending_while_disabled() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    with_two_irqs(&mut k);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (0, 0));
    control(&mut k, A | B, IrqControlFlags::ENABLED);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (ENABLED, ENABLED));
    // A fires: posted, A disabled, B untouched, nothing pending.
    k.raise_irq(2, A);
    assert_eq!(k.tasks[2].notifications(), A);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (POSTED, ENABLED));
    // A again, disabled now: held pending, not posted twice.
    let b = ram_base(2);
    call(&mut k, 2, Sysnum::Recv, [b, 0, A, 0, 0, 0, 0, 0]);
    assert_eq!(k.tasks[2].save.rets[2], A, "the posted A received");
    k.raise_irq(2, A);
    assert_eq!(k.tasks[2].notifications(), 0);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (PENDING, ENABLED));
    // A bit that is not one of its IRQs is not raised at all.
    k.raise_irq(2, 1 << 5);
    assert_eq!(k.tasks[2].notifications(), 0);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (PENDING, ENABLED));
}

#[test]
fn irq_control_enables_clears_and_fires_a_pending_irq_bit_by_bit() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    with_two_irqs(&mut k);
    k.raise_irq(2, B);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (0, PENDING));
    // Enabling A fires nothing: only B is pending.
    control(&mut k, A, IrqControlFlags::ENABLED);
    assert_eq!(k.tasks[2].notifications(), 0);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (ENABLED, PENDING));
    // Enabling B fires its pending IRQ at once and disables B again.
    control(&mut k, B, IrqControlFlags::ENABLED);
    assert_eq!(k.tasks[2].notifications(), B);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (ENABLED, POSTED));
    // Disabling A leaves B as it was.
    control(&mut k, A, IrqControlFlags(0));
    assert_eq!((status(&mut k, A), status(&mut k, B)), (0, POSTED));
    // A pending A is cleared without enabling it, and B is not touched.
    k.raise_irq(2, A);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (PENDING, POSTED));
    control(&mut k, A, IrqControlFlags::CLEAR_PENDING);
    assert_eq!((status(&mut k, A), status(&mut k, B)), (0, POSTED));
    // Clear and enable together: nothing left to fire.
    k.raise_irq(2, A);
    let both = IrqControlFlags(
        IrqControlFlags::ENABLED.0 | IrqControlFlags::CLEAR_PENDING.0,
    );
    control(&mut k, A, both);
    assert_eq!(k.tasks[2].notifications(), B, "the cleared A did not fire");
    assert_eq!((status(&mut k, A), status(&mut k, B)), (ENABLED, POSTED));
}

/// A receive takes only the bits it waits for, clears exactly those, and
/// leaves the others for a later receive.
#[test]
fn a_receive_takes_only_the_bits_it_waits_for() {
    let (mut t, mut p, plat) = system();
    let mut k = Kernel::new(&mut t, &mut p, plat);
    let b = ram_base(2);
    let poster = |k: &mut Kernel<'_, FakePlatform>, bits: u32| {
        let target = id(k, 2);
        call(k, 0, Sysnum::Post, [target, bits, 0, 0, 0, 0, 0, 0]);
    };
    poster(&mut k, 1 << 1);
    poster(&mut k, 1 << 2);
    assert_eq!(k.tasks[2].notifications(), 0b110, "posts accumulate");
    // Waiting for bits 0 and 2: bit 2 is taken, bit 1 stays.
    let effects = call(&mut k, 2, Sysnum::Recv, [b, 0, 0b101, 0, 0, 0, 0, 0]);
    assert!(effects.resumes(2));
    assert_eq!(
        k.tasks[2].save.rets[..3],
        [0, TaskId::KERNEL.0 as u32, 0b100]
    );
    assert_eq!(k.tasks[2].notifications(), 0b010);
    // Waiting for bit 0 only: nothing to take, so it blocks.
    let effects = call(&mut k, 2, Sysnum::Recv, [b, 0, 0b001, 0, 0, 0, 0, 0]);
    assert!(!effects.resumes(2));
    assert_eq!(k.tasks[2].sched(), Some(SchedState::InRecv(None)));
    // A post of bits it does not wait for does not wake it.
    poster(&mut k, 1 << 4);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::InRecv(None)));
    assert_eq!(k.tasks[2].notifications(), 0b1_0010);
    // A post of one it waits for does, and takes only that bit.
    poster(&mut k, 0b001);
    assert_eq!(k.tasks[2].sched(), Some(SchedState::Runnable));
    assert_eq!(k.tasks[2].save.rets[2], 0b001);
    assert_eq!(k.tasks[2].notifications(), 0b1_0010);
}
