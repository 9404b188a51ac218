//! Control by a debugger, through memory instead of IPC.
//!
//! `humility jefe -s|-H|-r|-f <task>` writes the task's index into
//! `JEFE_EXTERNAL_TASKINDEX` and an [`ExternalRequest`] code into
//! `JEFE_EXTERNAL_REQUEST`, then a non-zero `JEFE_EXTERNAL_KICK`, all
//! through the kernel's debug probe. On every timer tick jefe takes the
//! kick, acts, and bumps `JEFE_EXTERNAL_REQUESTS` (done) or
//! `JEFE_EXTERNAL_ERRORS` (refused: task 0, an index past the table, or an
//! unknown code), which is how the debugger learns the outcome. jefe sets
//! `JEFE_EXTERNAL_READY` to 1 when it starts, so the debugger can tell a
//! live jefe from an image that has not booted. Names and codes are
//! Hubris's, so Humility's habits carry over.
//!
//! Why not an IPC op called through hiffy: hiffy is the least important
//! task, so a crash-looping task above it (exactly what one wants to hold)
//! can starve it, and if hiffy's own call is what faulted a server, or
//! hiffy itself is the task to act on, it cannot carry the request. A
//! write into jefe's memory needs no task's cooperation, and jefe, at
//! priority 0, always gets to poll. The cost is latency: a request waits
//! for the next tick, at most `TIMER_INTERVAL`.

use core::sync::atomic::{AtomicU32, Ordering};

use ringbuf::ringbuf_entry_root;
use task_jefe_api::ExternalRequest;

use crate::{NUM_TASKS, ServerImpl, Trace};

// `no_mangle` so that the debugger finds each by its plain symbol name;
// atomics because the debugger writes them while jefe may be running.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static JEFE_EXTERNAL_READY: AtomicU32 = AtomicU32::new(0);
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static JEFE_EXTERNAL_REQUEST: AtomicU32 = AtomicU32::new(0);
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static JEFE_EXTERNAL_TASKINDEX: AtomicU32 = AtomicU32::new(0);
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static JEFE_EXTERNAL_KICK: AtomicU32 = AtomicU32::new(0);
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static JEFE_EXTERNAL_REQUESTS: AtomicU32 = AtomicU32::new(0);
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
static JEFE_EXTERNAL_ERRORS: AtomicU32 = AtomicU32::new(0);

/// Why a debugger's request was refused, with what it asked.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Error {
    /// Task 0 is jefe itself: it can neither fault nor restart itself.
    IllegalTask,
    /// The task index is past the end of the table.
    BadTask(u32),
    /// Not an [`ExternalRequest`] code.
    BadRequest(u32),
}

/// Tells the debugger that jefe is up and polling.
pub fn set_ready() {
    JEFE_EXTERNAL_READY.store(1, Ordering::SeqCst);
}

/// Takes and carries out the debugger's request, if it kicked us.
pub fn check(server: &mut ServerImpl, now: u64) {
    // SeqCst throughout: the debugger writes index and request before the
    // kick, and must see our counters only after we have acted.
    if JEFE_EXTERNAL_KICK.swap(0, Ordering::SeqCst) == 0 {
        return;
    }
    let index = JEFE_EXTERNAL_TASKINDEX.load(Ordering::SeqCst);
    let code = JEFE_EXTERNAL_REQUEST.load(Ordering::SeqCst);
    match decode(index, code) {
        Ok((request, i)) => {
            apply(server, request, i, now);
            ringbuf_entry_root!(Trace::External {
                request,
                task: crate::task_id(i),
            });
            JEFE_EXTERNAL_REQUESTS.fetch_add(1, Ordering::SeqCst);
        }
        Err(e) => {
            ringbuf_entry_root!(Trace::ExternalError(e));
            JEFE_EXTERNAL_ERRORS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Checks a request before anything acts on it.
fn decode(index: u32, code: u32) -> Result<(ExternalRequest, usize), Error> {
    let request = ExternalRequest::try_from(code)
        .map_err(|()| Error::BadRequest(code))?;
    match usize::try_from(index) {
        Ok(0) => Err(Error::IllegalTask),
        Ok(i) if i < NUM_TASKS => Ok((request, i)),
        _ => Err(Error::BadTask(index)),
    }
}

fn apply(
    server: &mut ServerImpl,
    request: ExternalRequest,
    i: usize,
    now: u64,
) {
    match request {
        ExternalRequest::None => {}
        // Keeps the disposition, as Hubris: starting a held task does not
        // release it.
        ExternalRequest::Start => server.restart(i, now),
        ExternalRequest::Hold => server.hold(i),
        ExternalRequest::Release => server.release(i, now),
        ExternalRequest::Fault => server.fault(i),
    }
}
