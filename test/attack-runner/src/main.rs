//! The attack image's supervisor (task 0).
//!
//! Whatever faults is restarted at once, as jefe would: an attacker that
//! faults comes back for more, and a victim comes back to serve. The
//! system stops only when the host side says its cases are done, by
//! faulting the gate task through the kernel's debug probe (a fault the
//! kernel itself injected, which no task can fake); then we shut down
//! with status 0. xtask judges the run from the case lines it counts.

#![no_std]
#![no_main]

use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));

/// The task the host side faults when its cases are done.
const GATE: usize = 1;

#[unsafe(export_name = "main")]
fn main() -> ! {
    console!("attack: waiting for the host-side cases");
    loop {
        sys_recv_notification(notifications::FAULT_MASK);
        let mut start = 1;
        while let Some(faulted) = kipc::find_faulted_task(start) {
            if faulted == GATE && injected_by_the_kernel(faulted) {
                console!("attack: the host side is done; stopping");
                kipc::shutdown(0);
            }
            kipc::reinit_task(faulted, true);
            start = faulted + 1;
        }
    }
}

fn injected_by_the_kernel(task: usize) -> bool {
    matches!(
        kipc::read_task_status(task),
        TaskState::Faulted {
            fault: FaultInfo::Injected(by),
            ..
        } if by == TaskId::KERNEL
    )
}
