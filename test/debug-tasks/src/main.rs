//! The debugger test image's tasks (`test/debugger/app.toml`), one role
//! per feature, each leaving its task in a state humility's tests
//! (`build/humility/tests/debugger.rs`) inspect from outside:
//!
//! - `deep`: recurses [`DEPTH`] frames of at least [`FRAME_BYTES`] each,
//!   and waits in RECV at the bottom, so its stack trace is the
//!   recursion and its deepest stack use is what the frames add up to;
//! - `null-read`: reads address 0 and faults (`MemoryAccess` at 0);
//! - `panic`: panics with [`PANIC_MESSAGE`];
//! - `waiter`: waits in `sys_recv_open` for ever, and owns [`KNOWN`] (in
//!   flash) and [`COUNTER`] (in RAM) for `readmem` and `writeword`;
//! - `ticker` and `metronome`: count [`TICKS`] for ever, once per
//!   [`PERIOD_MS`], through `tick` and `beat` respectively (different
//!   names, so that a GDB breakpoint on one is in one task only): `humility
//!   gdb`'s tests hold one at a breakpoint and watch the other go on.
//!
//! Every interesting function is `#[inline(never)]` so that the names the
//! tests expect are real frames.

#![no_std]
#![no_main]

#[cfg(feature = "deep")]
mod deep {
    /// Frames of recursion.
    pub const DEPTH: u32 = 24;
    /// Stack each frame reserves for its buffer.
    pub const FRAME_BYTES: usize = 512;

    #[inline(never)]
    pub fn descend(level: u32) -> u32 {
        // A buffer the optimiser must keep, before and after the call
        // below: every frame really holds FRAME_BYTES, and the recursion
        // cannot become a loop or a tail call.
        let mut buf = [level as u8; FRAME_BYTES];
        core::hint::black_box(&mut buf);
        let below = if level == 0 {
            bottom()
        } else {
            descend(level - 1)
        };
        core::hint::black_box(&buf);
        below.wrapping_add(u32::from(buf[7]))
    }

    #[inline(never)]
    fn bottom() -> u32 {
        let mut fired = 0;
        while core::hint::black_box(true) {
            fired = userlib::sys_recv_notification(1);
        }
        fired
    }
}

#[cfg(feature = "null-read")]
#[inline(never)]
fn read_null() -> u32 {
    let null: *const u32 = core::hint::black_box(core::ptr::null());
    // Safety: not safe at all: the point is the fault.
    unsafe { core::ptr::read_volatile(null) }
}

/// What the `panic` task panics with.
#[cfg(feature = "panic")]
pub const PANIC_MESSAGE: &str = "debug-tasks: deliberate panic";

#[cfg(feature = "panic")]
#[inline(never)]
fn explode(n: u32) -> u32 {
    if core::hint::black_box(n) > 0 {
        panic!("{PANIC_MESSAGE}");
    }
    n
}

/// Sixteen known bytes in flash, for `readmem`.
#[cfg(feature = "waiter")]
#[unsafe(no_mangle)]
#[used]
pub static KNOWN: [u8; 16] = *b"leasehold-debug!";

/// A word in RAM with a known starting value, for `writeword` then
/// `readvar`.
#[cfg(feature = "waiter")]
#[unsafe(no_mangle)]
#[used]
pub static COUNTER: core::sync::atomic::AtomicU32 =
    core::sync::atomic::AtomicU32::new(0x1234_5678);

#[cfg(feature = "waiter")]
#[inline(never)]
fn wait_for_messages() -> ! {
    let mut buf = [0u8; 8];
    loop {
        let m = userlib::sys_recv_open(&mut buf, 0);
        userlib::sys_reply(m.sender, 0, &[]);
    }
}

/// How many periods a `ticker` or `metronome` task has counted.
#[cfg(any(feature = "ticker", feature = "metronome"))]
#[unsafe(no_mangle)]
#[used]
pub static TICKS: core::sync::atomic::AtomicU32 =
    core::sync::atomic::AtomicU32::new(0);

/// A `ticker`'s or `metronome`'s period.
#[cfg(any(feature = "ticker", feature = "metronome"))]
pub const PERIOD_MS: u64 = 10;

/// One period: count it, and wait for the next.
#[cfg(any(feature = "ticker", feature = "metronome"))]
#[inline(always)]
fn count_and_wait() {
    use core::sync::atomic::Ordering;
    TICKS.fetch_add(1, Ordering::Relaxed);
    let now = userlib::sys_get_timer().now;
    userlib::sys_set_timer(Some(now + PERIOD_MS), 1);
    userlib::sys_recv_notification(1);
}

#[cfg(feature = "ticker")]
#[inline(never)]
fn tick() {
    count_and_wait();
}

#[cfg(feature = "metronome")]
#[inline(never)]
fn beat() {
    count_and_wait();
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    #[cfg(feature = "deep")]
    deep::descend(deep::DEPTH);
    #[cfg(feature = "null-read")]
    core::hint::black_box(read_null());
    #[cfg(feature = "panic")]
    core::hint::black_box(explode(1));
    #[cfg(feature = "waiter")]
    wait_for_messages();
    #[cfg(feature = "ticker")]
    loop {
        tick();
    }
    #[cfg(feature = "metronome")]
    loop {
        beat();
    }
    #[allow(unreachable_code)]
    loop {
        userlib::sys_recv_notification(0);
    }
}
