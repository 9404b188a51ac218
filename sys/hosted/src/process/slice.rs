//! A task process asks the host for a short time slice, so that the task
//! the kernel has just answered runs at once.
//!
//! Answering a trap wakes the task, and the event loop then has nothing
//! left to do but finish its turn and wait in RECV for the next trap. If
//! the host lets the loop run on after the wake-up, the loop goes to sleep
//! in RECV, and the task's next trap has to wake it again: a host wake-up
//! per hand-off that does no work. Linux's fair scheduler (EEVDF) lets a
//! woken thread preempt the running one when its slice is shorter
//! (`PREEMPT_SHORT`). With the task on the shortest slice the host allows
//! and the loop on the default, the task runs as soon as it is answered,
//! the loop finishes its turn when the task traps again, finds that trap
//! already queued and sleeps not at all. That is what Hubris does on a
//! microcontroller: the kernel returns straight into the task it chose.
//!
//! A slice changes how soon a thread runs after waking and how long it
//! may run before it can be preempted, not its share of the CPU: a task
//! that spins still gets no more than its weight's share against the
//! loop. Measured on the `cargo xtask bench ipc` image, one CPU: host
//! wake-ups per trap 1.30 → 1.13 (`perf stat -e sched:sched_wakeup`), the
//! reply-and-receive round trip about 4% faster (alternating boots with
//! and without), and the bench's ratio to a pipe 2.16–2.20 → 2.06–2.08.
//!
//! `sched_setattr` is a raw syscall: neither rustix nor glibc wraps it. A
//! host before Linux 6.12 ignores `sched_runtime` for a fair task, and one
//! that refuses the call leaves the default slice: slower, never wrong.

/// The shortest slice Linux grants a fair task (`sched_runtime` is
/// clamped to 0.1–100 ms).
pub const TASK_SLICE_NS: u64 = 100_000;

/// The first version of `struct sched_attr` (`SCHED_ATTR_SIZE_VER0`):
/// every field this call sets.
const SCHED_ATTR_SIZE_VER0: u32 = 48;

/// Asks the host to give process `pid` a [`TASK_SLICE_NS`] slice, best
/// effort.
pub fn ask_for_a_short_slice(pid: libc::pid_t) {
    let attr = libc::sched_attr {
        size: SCHED_ATTR_SIZE_VER0,
        sched_policy: libc::SCHED_OTHER as u32,
        sched_runtime: TASK_SLICE_NS,
        ..fair_default()
    };
    // Safety: `attr` is a valid `sched_attr` of the size it states, read
    // by the host for the duration of the call; `flags` must be 0.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_sched_setattr,
            pid,
            &attr as *const libc::sched_attr,
            0,
        )
    };
}

/// A fair-policy `sched_attr` with every field zero.
fn fair_default() -> libc::sched_attr {
    libc::sched_attr {
        size: 0,
        sched_policy: 0,
        sched_flags: 0,
        sched_nice: 0,
        sched_priority: 0,
        sched_runtime: 0,
        sched_deadline: 0,
        sched_period: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attr_we_pass_is_the_size_we_state() {
        assert_eq!(
            std::mem::size_of::<libc::sched_attr>(),
            SCHED_ATTR_SIZE_VER0 as usize
        );
    }

    /// The call the kernel makes for a task, made on a child of ours:
    /// the host reports the slice back where it supports custom slices.
    #[test]
    fn a_child_gets_the_short_slice() {
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep runs");
        let pid = child.id() as libc::pid_t;
        ask_for_a_short_slice(pid);
        let mut got = fair_default();
        // Safety: `got` is a writable `sched_attr` of the size passed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_sched_getattr,
                pid,
                &mut got as *mut libc::sched_attr,
                SCHED_ATTR_SIZE_VER0,
                0,
            )
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        assert_eq!(got.sched_policy, libc::SCHED_OTHER as u32);
        if host_has_custom_slices() {
            assert_eq!(got.sched_runtime, TASK_SLICE_NS);
        }
    }

    /// Linux 6.12 and later keep a fair task's `sched_runtime` as its
    /// slice.
    fn host_has_custom_slices() -> bool {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default();
        let mut v = release.split(['.', '-']).map(|p| p.parse::<u32>());
        matches!((v.next(), v.next()), (Some(Ok(major)), Some(Ok(minor)))
            if (major, minor) >= (6, 12))
    }
}
