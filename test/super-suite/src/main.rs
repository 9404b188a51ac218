//! The supervision suite: jefe's restart policy, its fault mailing list
//! and its throttling, seen from a client, plus ringbuf de-duplication
//! and counters, seen from the task that records them.
//!
//! jefe is task 0 here, as in every real image, so unlike the kernel
//! suite nobody but jefe supervises us: a case must not panic. Each case
//! returns `Err(why)` instead, and we print `test_<name> ... ok` or
//! `... FAILED (why)`, then `N passed, M failed`, and shut the system down
//! with status 0 only if nothing failed. Should we fault anyway, jefe
//! restarts us; the new incarnation sees its generation is not 0, reports
//! one failure and shuts down, so a crash can neither pass nor loop.
//!
//! `test_jefe_external_control` is not here: a task cannot write jefe's
//! `JEFE_EXTERNAL_*` statics, only a debugger can. It is a host-side test
//! in `build/humility/tests` that drives them with `humility jefe`.

#![no_std]
#![no_main]
// A case fails with its message in a fixed 256-byte line (no allocator),
// so `Err` is large by design, and the case table pairs names with fns.
#![allow(clippy::result_large_err, clippy::type_complexity)]

use core::fmt::Write;
use core::sync::atomic::Ordering;

use counters::{count, counters};
use ringbuf::{ringbuf, ringbuf_entry};
use super_api::{CRASH_LOOP_STATE, VICTIM_PANIC_MESSAGE, VictimOp};
use task_jefe_api::{Disposition, Jefe};
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));
include!(concat!(env!("OUT_DIR"), "/tasks.rs"));

task_slot!(JEFE, jefe);
task_slot!(VICTIM, victim);

/// How long anything a case waits for (a restart, a notification) may
/// take before the case calls it missing. jefe restarts within
/// `MIN_RUN_TIME` (50 ms) of the last start, but this is only a limit
/// against a hung system: no case depends on how fast a loaded host is.
const RESTART_WITHIN_MS: u64 = 60_000;

type Outcome = Result<(), Line>;

/// Fails the case with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($why:tt)*) => {
        if !$cond {
            let mut line = Line::new();
            let _ = write!(line, $($why)*);
            return Err(line);
        }
    };
}

const CASES: &[(&str, fn() -> Outcome)] = &[
    ("test_jefe_restart", test_jefe_restart),
    ("test_jefe_hold", test_jefe_hold),
    ("test_jefe_fault_mailing_list", test_jefe_fault_mailing_list),
    ("test_jefe_restart_throttle", test_jefe_restart_throttle),
    ("test_ringbuf_dedup", test_ringbuf_dedup),
    ("test_counters_count", test_counters_count),
];

#[unsafe(export_name = "main")]
fn main() -> ! {
    let me = sys_refresh_task_id(TaskId::for_index_and_gen(
        tasks::SUITE,
        Generation::ZERO,
    ));
    if me.generation() != Generation::ZERO {
        say(format_args!(
            "test_suite_survived ... FAILED (the suite faulted and jefe \
             restarted it)"
        ));
        say(format_args!("0 passed, 1 failed"));
        finish(1);
    }
    let (mut passed, mut failed) = (0u32, 0u32);
    for &(name, case) in CASES {
        match case() {
            Ok(()) => {
                passed += 1;
                say(format_args!("{name} ... ok"));
            }
            Err(why) => {
                failed += 1;
                say(format_args!("{name} ... FAILED ({})", why.as_str()));
            }
        }
    }
    say(format_args!("{passed} passed, {failed} failed"));
    finish(u32::from(failed != 0));
}

fn finish(code: u32) -> ! {
    kipc::shutdown(code);
    loop {
        sys_recv_notification(INTERNAL_TIMER_NOTIFICATION);
    }
}

fn say(args: core::fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = line.write_fmt(args);
    kipc::console_write(line.as_str().as_bytes());
}

// ---------------------------------------------------------------------
// jefe

/// jefe restarts a task that panicked: the caller blocked on it gets the
/// dead code naming the new generation, the old generation stays dead,
/// and the new one answers.
fn test_jefe_restart() -> Outcome {
    let before = victim();
    let faults = fault_count(tasks::VICTIM)?;
    ensure!(ping(before, 41) == Ok(42), "the victim does not answer");
    let code = provoke_panic(before);
    let next = before.generation().next();
    ensure!(
        extract_new_generation(code) == Some(next),
        "panic call returned {code:#x}, not the dead code for gen {}",
        next.get()
    );
    let new = TaskId::for_index_and_gen(tasks::VICTIM, next);
    ensure!(
        wait_until(RESTART_WITHIN_MS, || ping(new, 1) == Ok(2)),
        "the new generation did not answer within {RESTART_WITHIN_MS} ms"
    );
    let stale = ping(before, 1);
    ensure!(
        stale.err().and_then(extract_new_generation) == Some(next),
        "a call to the old generation gave {stale:?}, not the dead code"
    );
    let after = fault_count(tasks::VICTIM)?;
    ensure!(
        after == faults + 1,
        "jefe counted {} faults of the victim, not 1",
        after.wrapping_sub(faults)
    );
    Ok(())
}

/// A held task stays faulted, and its clients are not blocked: the
/// caller of the fatal op and later callers get the dead code at once.
/// Releasing it restarts it.
fn test_jefe_hold() -> Outcome {
    let jefe = jefe();
    let index = tasks::VICTIM as u32;
    let set = jefe.set_disposition(index, Disposition::Hold);
    ensure!(set.is_ok(), "set_disposition(Hold) failed: {set:?}");
    let result = hold_case(&jefe);
    // Put the victim back whatever happened, for the cases after us.
    let _ = jefe.set_disposition(index, Disposition::Restart);
    result?;
    let new = victim();
    ensure!(
        wait_until(RESTART_WITHIN_MS, || ping(new, 5) == Ok(6)),
        "released, the victim did not answer within {RESTART_WITHIN_MS} ms"
    );
    Ok(())
}

fn hold_case(jefe: &Jefe) -> Outcome {
    let disposition = jefe.get_disposition(tasks::VICTIM as u32);
    ensure!(
        disposition == Ok(Disposition::Hold),
        "get_disposition gave {disposition:?}"
    );
    let id = victim();
    ensure!(ping(id, 1) == Ok(2), "the victim does not answer");
    let code = provoke_panic(id);
    ensure!(
        extract_new_generation(code).is_some(),
        "panic call returned {code:#x}, not a dead code"
    );
    // Well past any restart delay: a held task must still be faulted.
    hl::sleep_for(3 * task_jefe_api::MIN_RUN_TIME);
    let status = kipc::read_task_status(tasks::VICTIM);
    ensure!(
        matches!(
            status,
            TaskState::Faulted {
                fault: FaultInfo::Panic,
                ..
            }
        ),
        "the held victim is {status:?}, not faulted by its panic"
    );
    // A client calling the held task now is answered at once.
    let current = victim();
    let t0 = now();
    let answer = ping(current, 1);
    let waited = now() - t0;
    ensure!(
        answer.err().and_then(extract_new_generation).is_some(),
        "a call to the held victim gave {answer:?}, not the dead code"
    );
    ensure!(waited < 100, "a call to the held victim took {waited} ms");
    let again = victim();
    ensure!(
        again == current,
        "the held victim was restarted (now gen {})",
        again.generation().get()
    );
    Ok(())
}

/// The suite is on jefe's fault mailing list for the victim: it is
/// notified of the victim's fault, early enough (jefe delays the restart
/// by `MIN_RESTART_DELAY`) that the fault can usually still be read.
fn test_jefe_fault_mailing_list() -> Outcome {
    let _ = drain_notifications();
    let id = victim();
    ensure!(ping(id, 1) == Ok(2), "the victim does not answer");
    let code = provoke_panic(id);
    ensure!(
        extract_new_generation(code).is_some(),
        "panic call returned {code:#x}, not a dead code"
    );
    let bits =
        wait_notification(notifications::VICTIM_FAULT_MASK, RESTART_WITHIN_MS);
    ensure!(
        bits & notifications::VICTIM_FAULT_MASK != 0,
        "no victim-fault notification within {RESTART_WITHIN_MS} ms"
    );
    // If we got here before the restart, the panic message (after the
    // panic's location) is readable;
    // if the host was slow, the restart has wiped it, which is fine.
    let mut buf = [0u8; PANIC_MESSAGE_MAX];
    if let Ok(msg) = kipc::read_panic_message(tasks::VICTIM, &mut buf) {
        ensure!(
            msg.ends_with(VICTIM_PANIC_MESSAGE.as_bytes()),
            "the victim's panic message is {:?}",
            core::str::from_utf8(msg).unwrap_or("<not UTF-8>")
        );
    }
    let new = TaskId::for_index_and_gen(tasks::VICTIM, id.generation().next());
    ensure!(
        wait_until(RESTART_WITHIN_MS, || ping(new, 1) == Ok(2)),
        "the victim was not restarted within {RESTART_WITHIN_MS} ms"
    );
    Ok(())
}

/// A task that panics right after every start is restarted at most 20
/// times a second (`MIN_RUN_TIME`), and only the tasks watching it hear
/// of it: the suite watches only the victim.
fn test_jefe_restart_throttle() -> Outcome {
    let jefe = jefe();
    let _ = drain_notifications();
    let before = fault_count(tasks::LOOPER)?;
    jefe.set_state(CRASH_LOOP_STATE);
    let result = throttle_case(before);
    jefe.set_state(0);
    result?;
    // Wait for an incarnation that sees state 0 and stays up.
    let settled = wait_until(RESTART_WITHIN_MS, || {
        let a = looper();
        if !healthy(tasks::LOOPER) {
            return false;
        }
        hl::sleep_for(100);
        healthy(tasks::LOOPER) && looper() == a
    });
    ensure!(settled, "the looper did not settle after the crash loop");
    let bits = drain_notifications();
    ensure!(
        bits & notifications::VICTIM_FAULT_MASK == 0,
        "told of the looper's faults, though the suite watches the victim"
    );
    Ok(())
}

fn throttle_case(before: u32) -> Outcome {
    let started = wait_until(RESTART_WITHIN_MS, || {
        fault_count(tasks::LOOPER).is_ok_and(|c| c > before)
    });
    ensure!(started, "the looper did not start crashing");
    // Count a fixed number of restarts and time them on the kernel's
    // clock: however slow the host, a throttled loop cannot restart more
    // often than the limit, and a loop that keeps crashing reaches the
    // count.
    const RESTARTS: u32 = 8;
    let first = fault_count(tasks::LOOPER)?;
    let t0 = now();
    let mut last = first;
    let reached = wait_until(RESTART_WITHIN_MS, || {
        last = fault_count(tasks::LOOPER).unwrap_or(last);
        last.wrapping_sub(first) >= RESTARTS
    });
    let elapsed = now() - t0;
    let faults = last.wrapping_sub(first);
    let limit = u64::from(1000 / task_jefe_api::MIN_RUN_TIME as u32);
    say(format_args!(
        "  looper: {faults} restarts in {elapsed} ms (limit {limit} Hz)"
    ));
    // It does keep crashing: throttled, not stopped.
    ensure!(reached, "only {faults} restarts in {elapsed} ms");
    // Restarts are spaced at least 1/limit apart, but the restart before
    // the first counted fault may fall just before `t0` and the last fault
    // is seen only at our next poll: two more than the rate allows.
    let allowed = elapsed * limit / 1000 + 2;
    ensure!(
        u64::from(faults) <= allowed,
        "{faults} restarts in {elapsed} ms: more than {limit} Hz"
    );
    Ok(())
}

// ---------------------------------------------------------------------
// ringbuf and counters

#[derive(Copy, Clone, Debug, PartialEq)]
enum Event {
    None,
    A(u32),
    B,
}

ringbuf!(DEDUP_RINGBUF, Event, 8, Event::None);

/// One call site, so one source line, for every `Event::A`.
fn record_a(x: u32) {
    ringbuf_entry!(DEDUP_RINGBUF, Event::A(x));
}

/// Identical records in a row (same line and payload) share an entry
/// whose count says how many; another payload, or the same payload from
/// another line, starts a new one; wrapping bumps the slot's generation.
fn test_ringbuf_dedup() -> Outcome {
    for _ in 0..3 {
        record_a(1);
    }
    record_a(2);
    record_a(2);
    record_a(1);
    ringbuf_entry!(DEDUP_RINGBUF, Event::B);
    ringbuf_entry!(DEDUP_RINGBUF, Event::B);
    {
        let buf = DEDUP_RINGBUF.borrow_mut();
        let mut got = [(Event::None, 0u16, 0u16); 8];
        let mut n = 0;
        for (slot, e) in got.iter_mut().zip(buf.iter()) {
            *slot = (e.payload, e.count, e.line);
            n += 1;
        }
        ensure!(n == 5, "{n} entries, not 5: {:?}", &got[..n]);
        let want = [
            (Event::A(1), 3),
            (Event::A(2), 2),
            (Event::A(1), 1),
            (Event::B, 1),
            (Event::B, 1),
        ];
        for (i, (&(p, c, _), &(wp, wc))) in got.iter().zip(&want).enumerate() {
            ensure!(
                p == wp && c == wc,
                "entry {i} is {p:?} x{c}, not {wp:?} x{wc}"
            );
        }
        ensure!(
            got[0].2 == got[1].2 && got[3].2 != got[4].2,
            "lines are {:?}",
            &got[..n]
        );
    }
    // Four more distinct entries: nine in eight slots, so the oldest
    // (`A(1)` x3) is gone and slot 0 has been written twice.
    for x in 10..14 {
        record_a(x);
    }
    let buf = DEDUP_RINGBUF.borrow_mut();
    let n = buf.iter().count();
    let oldest = buf.iter().next().map(|e| (e.payload, e.count));
    ensure!(n == 8, "{n} entries after wrapping, not 8");
    ensure!(
        oldest == Some((Event::A(2), 2)),
        "oldest entry after wrapping is {oldest:?}"
    );
    let generations = (buf.buffer[0].generation, buf.buffer[1].generation);
    ensure!(
        generations == (2, 1),
        "slot generations are {generations:?}, not (2, 1)"
    );
    Ok(())
}

#[derive(Copy, Clone, Debug, counters::Count)]
enum Counted {
    Alpha,
    Beta(#[allow(dead_code)] u32),
    #[count(skip)]
    Ignored,
}

counters!(EVENT_COUNTERS, Counted);
counters!(RESULT_COUNTERS, Result<(), Counted>);

/// `count!` adds one to the event's variant, `#[count(skip)]` variants
/// are not counted, and `Result` counts `Ok` and each error variant.
fn test_counters_count() -> Outcome {
    for _ in 0..3 {
        count!(EVENT_COUNTERS, Counted::Alpha);
    }
    count!(EVENT_COUNTERS, Counted::Beta(7));
    count!(EVENT_COUNTERS, Counted::Beta(8));
    count!(EVENT_COUNTERS, Counted::Ignored);
    let got = (
        EVENT_COUNTERS.Alpha.load(Ordering::Relaxed),
        EVENT_COUNTERS.Beta.load(Ordering::Relaxed),
    );
    ensure!(got == (3, 2), "Alpha, Beta counted {got:?}, not (3, 2)");
    count!(RESULT_COUNTERS, Ok::<(), Counted>(()));
    count!(RESULT_COUNTERS, Err::<(), Counted>(Counted::Beta(1)));
    count!(RESULT_COUNTERS, Err::<(), Counted>(Counted::Beta(2)));
    let ok = RESULT_COUNTERS.Ok.load(Ordering::Relaxed);
    let beta = RESULT_COUNTERS.Err.Beta.load(Ordering::Relaxed);
    let alpha = RESULT_COUNTERS.Err.Alpha.load(Ordering::Relaxed);
    ensure!(
        (ok, alpha, beta) == (1, 0, 2),
        "Ok, Err(Alpha), Err(Beta) counted {:?}, not (1, 0, 2)",
        (ok, alpha, beta)
    );
    Ok(())
}

// ---------------------------------------------------------------------
// helpers

fn now() -> u64 {
    sys_get_timer().now
}

fn jefe() -> Jefe {
    Jefe::from(JEFE.get_task_id())
}

fn victim() -> TaskId {
    sys_refresh_task_id(VICTIM.get_task_id())
}

fn looper() -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(
        tasks::LOOPER,
        Generation::ZERO,
    ))
}

fn healthy(index: usize) -> bool {
    matches!(kipc::read_task_status(index), TaskState::Healthy(_))
}

/// `Ok(reply)`, or `Err(response code)`.
fn ping(id: TaskId, x: u32) -> Result<u32, u32> {
    let mut reply = [0u8; 4];
    let (code, len) =
        sys_send(id, VictimOp::Ping as u16, &x.to_le_bytes(), &mut reply, &[]);
    match (code, len) {
        (0, 4) => Ok(u32::from_le_bytes(reply)),
        (0, _) => Err(u32::MAX),
        (code, _) => Err(code),
    }
}

/// Asks the victim to panic; returns the response code (a dead code).
fn provoke_panic(id: TaskId) -> u32 {
    sys_send(id, VictimOp::Panic as u16, &[], &mut [], &[]).0
}

fn fault_count(index: usize) -> Result<u32, Line> {
    let mut counts = [0u32; tasks::NUM_TASKS];
    let n = jefe().read_fault_counts(&mut counts);
    ensure!(
        n as usize == tasks::NUM_TASKS,
        "jefe has {n} tasks, the image {}",
        tasks::NUM_TASKS
    );
    Ok(counts[index])
}

/// Polls `f` every 5 ms until it holds or `ms` have passed.
fn wait_until(ms: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = now() + ms;
    loop {
        if f() {
            return true;
        }
        if now() >= deadline {
            return false;
        }
        hl::sleep_for(5);
    }
}

/// Waits up to `ms` for a notification in `mask`; returns the bits.
fn wait_notification(mask: u32, ms: u64) -> u32 {
    sys_set_timer(Some(now() + ms), notifications::TIMER_MASK);
    let bits = sys_recv_notification(mask | notifications::TIMER_MASK);
    sys_set_timer(None, notifications::TIMER_MASK);
    bits & mask
}

/// Takes every pending notification of ours; returns them.
fn drain_notifications() -> u32 {
    sys_set_timer(Some(now()), notifications::TIMER_MASK);
    let mut bits = 0;
    loop {
        bits |= sys_recv_notification(notifications::ALL_MASK);
        if bits & notifications::TIMER_MASK != 0 {
            return bits & !notifications::TIMER_MASK;
        }
    }
}

/// A console line, cut at the kernel's message size.
struct Line {
    buf: [u8; MAX_MESSAGE_LEN],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Self {
            buf: [0; MAX_MESSAGE_LEN],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `str`s are pushed, but a cut may split a character.
        match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            Err(e) => {
                let ok = e.valid_up_to();
                core::str::from_utf8(&self.buf[..ok]).unwrap_or("")
            }
        }
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
