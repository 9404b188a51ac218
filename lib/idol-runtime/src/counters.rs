//! Per-op IPC counters that generated stubs keep in `#[used]` statics, so
//! a debugger can read them by symbol without the task's help.
//!
//! They are plain `#[repr(C)]` structs of `AtomicU32`s (no dependency on
//! the counters crate) and wrap around on overflow.

use core::sync::atomic::{AtomicU32, Ordering};

/// What a client saw for one op.
#[derive(Debug, Default)]
#[repr(C)]
pub struct ClientOpCounters {
    /// Calls made.
    pub calls: AtomicU32,
    /// Calls the server answered with an error.
    pub errors: AtomicU32,
    /// Dead codes received: the server died during a call (an idempotent
    /// op counts one per retry).
    pub server_deaths: AtomicU32,
}

impl ClientOpCounters {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            calls: AtomicU32::new(0),
            errors: AtomicU32::new(0),
            server_deaths: AtomicU32::new(0),
        }
    }

    /// Records a call.
    pub fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Records an error reply.
    pub fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a dead code.
    pub fn count_server_death(&self) {
        self.server_deaths.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a server saw for one op.
#[derive(Debug, Default)]
#[repr(C)]
pub struct ServerOpCounters {
    /// Messages dispatched to the op (after `dispatch`'s checks).
    pub calls: AtomicU32,
    /// Of those, the ones that ended in an error reply, a faulted client or
    /// a client that went away.
    pub errors: AtomicU32,
}

impl ServerOpCounters {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            calls: AtomicU32::new(0),
            errors: AtomicU32::new(0),
        }
    }

    /// Records a call.
    pub fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a failed call.
    pub fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}
