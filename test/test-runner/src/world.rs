//! What the runner does to the rest of the image: restarting it after a
//! failed case, and (`host-cases`) telling a fault the kernel injected
//! from one a task could cause.

use crate::image;
use userlib::*;

/// Restarts every task but the supervisor (task 0) and us, the suite
/// last, and undoes what a case may have changed in the kernel
/// (auto-restart is reset at each case start; peripheral grants here).
// The counts are generated per image: an image without peripherals has
// NUM_PERIPHERALS = 0, and its loop is rightly empty.
#[allow(clippy::reversed_empty_ranges)]
pub fn reset_world() {
    for p in 0..image::NUM_PERIPHERALS {
        kipc::restore_peripheral(p as u16);
    }
    let others = (1..image::NUM_TASKS)
        .filter(|&i| i != image::THIS_TASK && i != image::SUITE);
    for i in others {
        kipc::reinit_task(i, true);
    }
    kipc::reinit_task(image::SUITE, true);
}

/// Did the kernel itself fault `task` (the debug probe's `fault`)?
#[cfg(feature = "host-cases")]
pub fn injected_by_the_kernel(task: usize) -> bool {
    matches!(
        kipc::read_task_status(task),
        TaskState::Faulted {
            fault: FaultInfo::Injected(by),
            ..
        } if by == TaskId::KERNEL
    )
}
