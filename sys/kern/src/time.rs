//! Per-task timers: one deadline (ms since boot) and the notification bits
//! it posts.

use crate::task::{self, TaskIndex, TaskTable};

/// Fires every timer whose deadline has passed and returns the earliest
/// deadline still pending, for the platform to wait on.
pub fn tick(tasks: &mut TaskTable<'_>, now: u64) -> Option<u64> {
    let mut next: Option<u64> = None;
    for index in TaskIndex::all(tasks) {
        match tasks[index].timer_deadline {
            Some(deadline) if deadline <= now => {
                tasks[index].timer_deadline = None;
                let bits = tasks[index].timer_notifications;
                task::post(tasks, index, bits);
            }
            Some(deadline) => {
                next = Some(next.map_or(deadline, |n| n.min(deadline)))
            }
            None => {}
        }
    }
    next
}
