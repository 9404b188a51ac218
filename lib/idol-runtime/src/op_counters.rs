//! Per-op IPC counters that generated stubs keep in `#[used]` statics, so
//! a debugger can read them by symbol without the task's help.
//!
//! They are plain `#[repr(C)]` structs of `AtomicU32`s and wrap around on
//! overflow. The per-op totals ([`ClientOpCounters`], [`ServerOpCounters`])
//! are what `humility counters ipc` tabulates; a server also counts each
//! reply by outcome, down to the error variant, with the `counters`
//! crate's [`Count`] (idolatry's server counters): `Ok`, each variant of
//! the op's own error under `Err.Runtime`, and each [`ClientError`] the
//! server refused the client with under `Err.Fail`. `humility counters`
//! shows those.

use core::sync::atomic::{AtomicU32, Ordering};

use counters::Count;
use userlib::ClientError;

use crate::RequestError;

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

/// The counters of one op's outcomes: `Ok`, and `Err` by variant (see
/// [`RequestErrorCounters`]). `E` is the op's error type
/// (`core::convert::Infallible` for an op that cannot fail).
pub type OutcomeCounters<E> = <Result<(), RequestError<E>> as Count>::Counters;

/// Counts one outcome of an op; called by generated servers with the
/// server method's result (or the refusal that stood in for it).
pub fn count_outcome<T, E: Count>(
    result: &Result<T, RequestError<E>>,
    counters: &OutcomeCounters<E>,
) {
    match result {
        Ok(_) => ().count(&counters.Ok),
        Err(e) => e.count(&counters.Err),
    }
}

/// Counters for a [`RequestError`]: the op's own error by its variant,
/// and each way a client was refused.
#[allow(non_snake_case)]
#[repr(C)]
pub struct RequestErrorCounters<E: Count> {
    /// The op's own errors, per variant.
    pub Runtime: E::Counters,
    /// Clients refused (faulted, or not answered because they went away).
    pub Fail: ClientErrorCounters,
}

/// One counter per [`ClientError`], named after it.
#[allow(non_snake_case)]
#[derive(Debug, Default)]
#[repr(C)]
pub struct ClientErrorCounters {
    pub UnknownOperation: AtomicU32,
    pub BadMessageSize: AtomicU32,
    pub BadLease: AtomicU32,
    pub WentAway: AtomicU32,
    pub BadMessageContents: AtomicU32,
    pub ReplyBufferTooSmall: AtomicU32,
    pub AccessViolation: AtomicU32,
}

impl<E: Count> Count for RequestError<E> {
    type Counters = RequestErrorCounters<E>;

    // Only ever used to initialize a static, where a fresh copy per use is
    // exactly what we want.
    #[allow(clippy::declare_interior_mutable_const)]
    const NEW_COUNTERS: Self::Counters = RequestErrorCounters {
        Runtime: E::NEW_COUNTERS,
        Fail: ClientErrorCounters {
            UnknownOperation: AtomicU32::new(0),
            BadMessageSize: AtomicU32::new(0),
            BadLease: AtomicU32::new(0),
            WentAway: AtomicU32::new(0),
            BadMessageContents: AtomicU32::new(0),
            ReplyBufferTooSmall: AtomicU32::new(0),
            AccessViolation: AtomicU32::new(0),
        },
    };

    fn count(&self, counters: &Self::Counters) {
        let fail = &counters.Fail;
        let counter = match self {
            Self::Runtime(e) => return e.count(&counters.Runtime),
            Self::Fail(ClientError::UnknownOperation) => &fail.UnknownOperation,
            Self::Fail(ClientError::BadMessageSize) => &fail.BadMessageSize,
            Self::Fail(ClientError::BadLease) => &fail.BadLease,
            Self::Fail(ClientError::WentAway) => &fail.WentAway,
            Self::Fail(ClientError::BadMessageContents) => {
                &fail.BadMessageContents
            }
            Self::Fail(ClientError::ReplyBufferTooSmall) => {
                &fail.ReplyBufferTooSmall
            }
            Self::Fail(ClientError::AccessViolation) => &fail.AccessViolation,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
