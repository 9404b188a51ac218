//! Per-task timers: one deadline (ms since boot) and the notification bits
//! it posts.

use crate::task::{self, Task};

/// Fires every timer whose deadline has passed and returns the earliest
/// deadline still pending, for the platform to wait on.
pub fn tick(tasks: &mut [Task], now: u64) -> Option<u64> {
    let mut next: Option<u64> = None;
    for i in 0..tasks.len() {
        match tasks[i].timer_deadline {
            Some(d) if d <= now => {
                tasks[i].timer_deadline = None;
                let bits = tasks[i].timer_notifications;
                task::post(tasks, i, bits);
            }
            Some(d) => next = Some(next.map_or(d, |n| n.min(d))),
            None => {}
        }
    }
    next
}
