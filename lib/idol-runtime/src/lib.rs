//! What idol-generated clients and servers share.
//!
//! The idol compiler (`build/idol`) turns an `.idol` file into a client
//! stub and server support; both call into this crate:
//!
//! - servers loop on [`dispatch`], which receives a message and checks it
//!   against the op's declared shape *before* any server code runs: size,
//!   op number, reply capacity, lease count, lease rights and lengths. A
//!   client that breaks a rule is faulted (`REPLY_FAULT`); the server never
//!   is, whatever a client sends.
//! - server methods get their leases as [`Leased`] handles and fail with
//!   [`RequestError`];
//! - clients use [`ServerDeath`] and [`ServerDeathError`] to report that the
//!   server died mid-call, instead of panicking as Hubris's clients do.
//!
//! `zerocopy` is re-exported so generated code (and its derives) can name
//! it through this crate.

#![cfg_attr(not(test), no_std)]

mod dispatch;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
mod leased;
mod op_counters;

pub use op_counters::{
    ClientErrorCounters, ClientOpCounters, OutcomeCounters,
    RequestErrorCounters, ServerOpCounters, count_outcome,
};

pub use counters::Count;
pub use idol_runtime_derive::ErrorCode;

// `#[derive(ErrorCode)]` names `::idol_runtime`, also in this crate's tests.
extern crate self as idol_runtime;
pub use dispatch::{
    LeaseAccess, LeaseSpec, NotificationHandler, Reply, Server, ServerOp,
    caller_allowed, check_lease, check_leases, check_message, dispatch,
    lease_info, reply_bytes, serve, with_lease_descriptors,
};
pub use leased::{Access, Leased, LenLimit, R, RW, ReadAccess, W, WriteAccess};
pub use userlib::ClientError;
pub use zerocopy;

/// Why a server op failed: its own error, or a client that broke the
/// rules.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum RequestError<E> {
    /// The op's own error, returned to the client (in the response code for
    /// a `CLike` error, in the reply body for a `Complex` one).
    Runtime(E),
    /// The client broke a rule: it is faulted with
    /// [`ClientError::into_fault`], or, for `WentAway`, not answered at all.
    Fail(ClientError),
}

impl<E> RequestError<E> {
    /// The client is gone (a borrow failed): no reply is sent.
    pub fn went_away() -> Self {
        Self::Fail(ClientError::WentAway)
    }

    /// Converts the op's own error, keeping client failures as they are.
    pub fn map_runtime<F>(
        self,
        convert: impl FnOnce(E) -> F,
    ) -> RequestError<F> {
        match self {
            Self::Runtime(e) => RequestError::Runtime(convert(e)),
            Self::Fail(f) => RequestError::Fail(f),
        }
    }
}

impl<E> From<E> for RequestError<E> {
    fn from(e: E) -> Self {
        Self::Runtime(e)
    }
}

/// The response code a `RequestError` becomes. Runtime errors are `u16` so
/// that, zero-extended, they cannot collide with `ClientError` codes
/// (`0xFFFF_FExx`) or dead codes (`0xFFFF_FFxx`).
impl<E> From<RequestError<E>> for u32
where
    u16: From<E>,
{
    fn from(e: RequestError<E>) -> u32 {
        match e {
            RequestError::Runtime(e) => u32::from(u16::from(e)),
            RequestError::Fail(f) => f as u32,
        }
    }
}

/// The error of an op declared `err: ServerDeath`: it cannot fail except by
/// its server dying during the call, in which case the client cannot know
/// whether the op took effect.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct ServerDeath;

/// An error type that can say "the server died during this call".
///
/// Every non-idempotent op with a `CLike` or `Complex` error needs one:
/// when the generated client sees a dead code, it records the server's new
/// generation and returns `E::server_death()` rather than panicking
/// (Hubris's clients panic there unless the type decodes dead codes).
/// Idempotent ops do not need it; they are resent.
///
/// `#[derive(ErrorCode)]` implements it for the variant marked
/// `#[error_code(server_death)]`; by hand, return the variant your error
/// enum reserves for this:
///
/// ```
/// # use idol_runtime::ServerDeathError;
/// enum FpgaError {
///     BadDevice = 1,
///     /// The driver task restarted during the call.
///     DriverDied = 2,
/// }
///
/// impl ServerDeathError for FpgaError {
///     fn server_death() -> Self {
///         FpgaError::DriverDied
///     }
/// }
/// ```
///
/// If it is missing, rustc rejects the generated client method of the op
/// with the message below.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot report that the server died",
    label = "returned by a non-idempotent idol op",
    note = "implement `idol_runtime::ServerDeathError` for `{Self}`, \
            returning the variant that means the server died (for example \
            `DriverDied`), or mark the op `idempotent: true` if repeating \
            it is harmless"
)]
pub trait ServerDeathError {
    /// The value a client returns when the server died mid-call.
    fn server_death() -> Self;
}

impl ServerDeathError for ServerDeath {
    fn server_death() -> Self {
        ServerDeath
    }
}

/// The response code with which a server says "a `Complex` error is in
/// the body".
pub const COMPLEX_ERROR_CODE: u32 = 1;

/// The largest of `sizes` (0 for none); for `const` buffer sizes.
pub const fn max_size(sizes: &[usize]) -> usize {
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
}

/// Decodes a `CLike` error from a response code.
///
/// # Panics
///
/// If `E` has no value for `rc`: the server sent an error its interface
/// does not define, a bug on its side (or two builds out of step) that a
/// client cannot handle. Dead codes never get here.
pub fn decode_clike_error<E: TryFrom<u32>>(rc: u32, op: &'static str) -> E {
    match E::try_from(rc) {
        Ok(e) => e,
        Err(_) => unknown_error_code(op, rc),
    }
}

#[cold]
#[inline(never)]
fn unknown_error_code(op: &'static str, rc: u32) -> ! {
    panic!("{op}: server replied with unknown error code {rc:#x}")
}

/// Called by a generated client whose server's reply does not decode.
///
/// # Panics
///
/// Always: the server broke the interface (a bug on its side, or two
/// builds out of step). This is not how server death is reported.
#[cold]
#[inline(never)]
pub fn malformed_reply(op: &'static str) -> ! {
    panic!("{op}: malformed reply from server")
}

/// Called by generated code when hubpack or ssmarshal cannot encode a
/// value of the interface's own types.
///
/// # Panics
///
/// Always: the type cannot be encoded at all, a bug in the interface.
#[cold]
#[inline(never)]
pub fn unencodable(op: &'static str) -> ! {
    panic!("{op}: value cannot be encoded")
}

/// Called by a generated client asked to lend more than the op's
/// `max_len`.
///
/// # Panics
///
/// Always: the server would fault us with `BadLeases` anyway; failing here
/// says which lease and why.
#[cold]
#[inline(never)]
pub fn lease_too_long(op: &'static str, lease: &'static str, max: u32) -> ! {
    panic!("{op}: lease `{lease}` is longer than its max_len of {max}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Eq, PartialEq)]
    struct AppError(u16);

    impl From<AppError> for u16 {
        fn from(e: AppError) -> u16 {
            e.0
        }
    }

    impl TryFrom<u32> for AppError {
        type Error = ();

        fn try_from(code: u32) -> Result<Self, ()> {
            match code {
                1..=3 => Ok(AppError(code as u16)),
                _ => Err(()),
            }
        }
    }

    #[test]
    fn runtime_errors_zero_extend_and_failures_keep_their_code() {
        assert_eq!(u32::from(RequestError::Runtime(AppError(0xFFFF))), 0xFFFF);
        let fail: RequestError<AppError> =
            RequestError::Fail(ClientError::BadLease);
        assert_eq!(u32::from(fail), 0xFFFF_FE02);
        assert_eq!(
            RequestError::<AppError>::went_away(),
            RequestError::Fail(ClientError::WentAway)
        );
    }

    #[test]
    fn map_runtime_converts_only_the_runtime_error() {
        let e: RequestError<AppError> = AppError(7).into();
        assert_eq!(e.map_runtime(u16::from), RequestError::Runtime(7));
        let f: RequestError<AppError> = RequestError::went_away();
        assert_eq!(
            f.map_runtime(u16::from),
            RequestError::Fail(ClientError::WentAway)
        );
    }

    #[derive(Copy, Clone, Debug, Eq, PartialEq, ErrorCode)]
    #[repr(u32)]
    enum Sample {
        First = 1,
        Seventh = 7,
        #[error_code(server_death)]
        Died = 0xFFFF,
    }

    #[test]
    fn error_code_derive_lists_converts_and_reports_death() {
        assert_eq!(Sample::ALL, [Sample::First, Sample::Seventh, Sample::Died]);
        for e in Sample::ALL {
            assert_eq!(Sample::try_from(u32::from(e)), Ok(e));
            assert_eq!(Sample::try_from(u16::from(e)), Ok(e));
        }
        assert_eq!(u16::from(Sample::Died), 0xFFFF);
        for code in [0u32, 2, 6, 8, 0x1_0000, 0x1_FFFF, u32::MAX] {
            assert_eq!(Sample::try_from(code), Err(()), "{code:#x}");
        }
        assert_eq!(Sample::server_death(), Sample::Died);
        let e: RequestError<Sample> = Sample::Seventh.into();
        assert_eq!(u32::from(e), 7);
    }

    #[test]
    fn max_size_of_nothing_is_zero() {
        const SIZE: usize = max_size(&[3, 9, 4]);
        assert_eq!(SIZE, 9);
        assert_eq!(max_size(&[]), 0);
    }

    #[test]
    fn clike_errors_decode_from_their_code() {
        assert_eq!(decode_clike_error::<AppError>(2, "T.op"), AppError(2));
    }

    #[test]
    #[should_panic(
        expected = "T.op: server replied with unknown error code 0x9"
    )]
    fn an_unknown_clike_code_names_the_op() {
        let _ = decode_clike_error::<AppError>(9, "T.op");
    }

    #[test]
    fn server_death_is_its_own_server_death_value() {
        assert_eq!(ServerDeath::server_death(), ServerDeath);
    }

    #[test]
    fn outcomes_are_counted_by_variant() {
        use core::sync::atomic::Ordering::Relaxed;

        /// A two-variant error with hand-written counters.
        enum LampError {
            Dark,
            Hot,
        }
        #[allow(non_snake_case)]
        struct LampErrorCounters {
            Dark: core::sync::atomic::AtomicU32,
            Hot: core::sync::atomic::AtomicU32,
        }
        impl Count for LampError {
            type Counters = LampErrorCounters;
            #[allow(clippy::declare_interior_mutable_const)]
            const NEW_COUNTERS: LampErrorCounters = LampErrorCounters {
                Dark: core::sync::atomic::AtomicU32::new(0),
                Hot: core::sync::atomic::AtomicU32::new(0),
            };
            fn count(&self, c: &LampErrorCounters) {
                match self {
                    Self::Dark => c.Dark.fetch_add(1, Relaxed),
                    Self::Hot => c.Hot.fetch_add(1, Relaxed),
                };
            }
        }

        let c: OutcomeCounters<LampError> =
            <Result<(), RequestError<LampError>> as Count>::NEW_COUNTERS;
        count_outcome(&Ok::<u32, RequestError<LampError>>(5), &c);
        count_outcome(&Ok::<u32, RequestError<LampError>>(6), &c);
        count_outcome::<(), _>(&Err(LampError::Hot.into()), &c);
        count_outcome::<(), LampError>(
            &Err(RequestError::Fail(ClientError::AccessViolation)),
            &c,
        );
        count_outcome::<(), LampError>(&Err(RequestError::went_away()), &c);
        assert_eq!(c.Ok.load(Relaxed), 2);
        assert_eq!(c.Err.Runtime.Hot.load(Relaxed), 1);
        assert_eq!(c.Err.Runtime.Dark.load(Relaxed), 0);
        assert_eq!(c.Err.Fail.AccessViolation.load(Relaxed), 1);
        assert_eq!(c.Err.Fail.WentAway.load(Relaxed), 1);
        assert_eq!(c.Err.Fail.BadLease.load(Relaxed), 0);
        count_outcome::<(), _>(&Err(LampError::Dark.into()), &c);
        assert_eq!(c.Err.Runtime.Dark.load(Relaxed), 1);

        // An op that cannot fail counts only its successes.
        let never: OutcomeCounters<core::convert::Infallible> = <Result<
            (),
            RequestError<core::convert::Infallible>,
        > as Count>::NEW_COUNTERS;
        count_outcome(&Ok::<(), RequestError<_>>(()), &never);
        assert_eq!(never.Ok.load(Relaxed), 1);
    }

    #[test]
    fn counters_count() {
        let c = ClientOpCounters::new();
        c.count_call();
        c.count_call();
        c.count_error();
        c.count_server_death();
        use core::sync::atomic::Ordering::Relaxed;
        assert_eq!(c.calls.load(Relaxed), 2);
        assert_eq!(c.errors.load(Relaxed), 1);
        assert_eq!(c.server_deaths.load(Relaxed), 1);
        let s = ServerOpCounters::new();
        s.count_call();
        s.count_error();
        assert_eq!((s.calls.load(Relaxed), s.errors.load(Relaxed)), (1, 1));
    }
}
