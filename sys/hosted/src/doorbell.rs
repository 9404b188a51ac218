//! The doorbell: how anything but a task's trap wakes the event loop.
//!
//! The loop waits in one place, RECV on the seccomp listener
//! ([`crate::event_loop`]). Signals, the probe's sockets, the hash
//! engine's eventfd and the timerfd are in an `epoll` set that this
//! thread waits on instead. When something there is ready it makes a
//! syscall in the kernel's private range, which reaches the listener like
//! a task's trap (told apart by its thread id, which no task can have),
//! and it stays blocked in that syscall until the loop has handled what
//! was ready and answers it.
//!
//! The common events must not cost a ring while the loop is busy anyway:
//! a device model's deadline fires every few hundred microseconds during
//! a bitstream write, and two extra context switches each took a
//! streamed 30 MiB load's hashing share from 0.06 to 0.2. So the loop
//! says when it is about to wait ([`loop_will_wait`]); the doorbell
//! takes a timer expiry itself (it reads the timerfd and raises a flag)
//! and rings for it only if the loop is waiting; the loop looks at the
//! flag before it waits. The hash engine does the same with its own flag
//! ([`crate::engine::Handoff`]). Each side stores its flag, then loads
//! the other's, all `SeqCst`, so at least one of them sees the other: the
//! loop never waits through an expiry nobody rang for.
//!
//! The doorbell is kept on the loop's CPU ([`keep_on`]): the listener
//! wakes the loop on the ringer's CPU (`SYNC_WAKE_UP`), so ringing from
//! elsewhere would drag the loop there, and a doorbell woken behind the
//! engine's busy worker would ring late.

use anyhow::{Context, Result};
use rustix::buffer::spare_capacity;
use rustix::event::epoll;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// The doorbell's syscall: the last of the kernel's private range. A task
/// that makes it is only a task making an unknown syscall (traps are told
/// apart by thread id, not number).
const DOORBELL_SYSCALL: u64 = abi::HOSTED_SYSCALL_BASE + 0xFF;

/// The epoll token of the timerfd, which the doorbell takes itself.
pub const TOKEN_TIMER: u64 = u64::MAX - 1;

/// The loop is in (or about to enter) RECV.
static LOOP_WAITING: AtomicBool = AtomicBool::new(false);
/// The timerfd expired and the doorbell took it; the loop has not yet.
static TIMER_FIRED: AtomicBool = AtomicBool::new(false);

/// The loop is about to wait for a trap: `true` if the timer expired
/// meanwhile without a ring, which the loop must handle instead of
/// waiting.
pub fn loop_will_wait() -> bool {
    LOOP_WAITING.store(true, Ordering::SeqCst);
    // A plain load first: the swap is a locked instruction, paid only
    // when there is something to take.
    TIMER_FIRED.load(Ordering::SeqCst)
        && TIMER_FIRED.swap(false, Ordering::SeqCst)
}

/// The loop is running again. Relaxed: a doorbell that still sees the
/// loop waiting only rings once for nothing.
pub fn loop_runs() {
    LOOP_WAITING.store(false, Ordering::Relaxed);
}

/// Whether the timer expired since the loop last asked (after a ring).
pub fn timer_fired() -> bool {
    TIMER_FIRED.swap(false, Ordering::SeqCst)
}

/// Starts the doorbell over `epoll`, taking expiries of `timer` itself,
/// and returns its thread id. It must start after the loop's signals are
/// blocked and under the kernel's seccomp filter, both of which it
/// inherits: the zygote starts it.
pub fn start(epoll: OwnedFd, timer: OwnedFd) -> Result<libc::pid_t> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("doorbell".into())
        .spawn(move || {
            let _ = tx.send(rustix::thread::gettid().as_raw_nonzero().get());
            ring_when_ready(&epoll, &timer);
        })
        .context("starting the doorbell thread")?;
    rx.recv().context("the doorbell thread did not start")
}

/// The doorbell's life: wait until something is ready, ring unless it was
/// only a timer expiry the busy loop will find itself, repeat. Returns
/// when the listener is gone (the kernel is stopping).
fn ring_when_ready(epoll: &OwnedFd, timer: &OwnedFd) {
    let mut events: Vec<epoll::Event> = Vec::with_capacity(8);
    loop {
        events.clear();
        // Only to wait: what is ready stays ready (level-triggered) for
        // the loop to take, except the timerfd, taken here.
        if epoll::wait(epoll, spare_capacity(&mut events), None).is_err() {
            continue; // EINTR
        }
        let timer_only = events.iter().all(|e| e.data.u64() == TOKEN_TIMER);
        if events.iter().any(|e| e.data.u64() == TOKEN_TIMER) {
            let _ = rustix::io::read(timer, &mut [0u8; 8]);
            TIMER_FIRED.store(true, Ordering::SeqCst);
            if timer_only && !LOOP_WAITING.load(Ordering::SeqCst) {
                continue; // the loop sees the flag before it waits
            }
        }
        // Safety: a syscall in the kernel's private range, with no
        // arguments and no memory: F1 routes it to the listener.
        let r = unsafe { libc::syscall(DOORBELL_SYSCALL as libc::c_long) };
        if r != 0 {
            return; // ENOSYS: the listener is closed
        }
    }
}

/// Keeps the doorbell (thread `doorbell`) on the CPU the calling loop is
/// on; `pinned` is where it was last kept. A
/// host call only when the loop has moved, which is rare (it wakes tasks
/// onto its own CPU).
pub fn keep_on(doorbell: libc::pid_t, pinned: &mut Option<usize>) {
    let Some(cpu) = crate::placement::current_cpu() else {
        return;
    };
    if *pinned == Some(cpu) {
        return;
    }
    *pinned = Some(cpu);
    let mut only = rustix::thread::CpuSet::new();
    only.set(cpu);
    let doorbell = rustix::process::Pid::from_raw(doorbell);
    // Best effort: refused, the doorbell rings from where it is.
    let _ = rustix::thread::sched_setaffinity(doorbell, &only);
}
