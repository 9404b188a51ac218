//! Higher-level helpers over the raw syscalls.

use abi::INTERNAL_TIMER_NOTIFICATION;

/// Sleeps for `ms` milliseconds using the reserved timer bit, without
/// disturbing other notifications (they stay pending).
pub fn sleep_for(ms: u64) {
    let now = crate::sys_get_timer().now;
    sleep_until(now.saturating_add(ms));
}

/// Sleeps until `deadline` (ms since boot).
pub fn sleep_until(deadline: u64) {
    crate::sys_set_timer(Some(deadline), INTERNAL_TIMER_NOTIFICATION);
    loop {
        let fired = crate::sys_recv_notification(INTERNAL_TIMER_NOTIFICATION);
        if fired & INTERNAL_TIMER_NOTIFICATION != 0 {
            break;
        }
    }
}
