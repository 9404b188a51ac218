//! The idol system test cases: Hubris's `test_idol_*`, then Leasehold's
//! for leases, the checks `idol_runtime::dispatch` makes for the server,
//! and server death.
//!
//! The runner (test-runner) hands out case numbers and prints results,
//! exactly as in the kernel image. Cases that must fault a client have
//! the helper make the bad call (the suite itself must survive) and check
//! the helper's exact fault; cases that kill or restart the server check
//! that the generated client neither panics nor hangs, and restart the
//! server before returning.

#![no_std]
#![no_main]

use test_api::{SuiteRunner, word};
use test_harness::{
    WAITING_FOR_WORK, expect_eq, restart_server, test_cases, wait_for_state,
    wait_for_state_within,
};
use test_idol_api::*;
use userlib::*;

task_slot!(RUNNER, runner);
task_slot!(IDOL, idol);
task_slot!(HELPER, helper);

test_cases! {
    test_idol_basic,
    test_idol_bool_arg,
    test_idol_bool_ret,
    test_idol_bool_xor,
    test_idol_err_ret,
    test_idol_ssmarshal,
    test_idol_ssmarshal_multiarg,
    test_idol_ssmarshal_multiarg_enum,
    test_idol_hubpack,
    test_idol_lease_read,
    test_idol_lease_write,
    test_idol_max_len_exceeded,
    test_idol_wrong_lease_count,
    test_idol_lease_wrong_rights,
    test_idol_reply_too_small,
    test_idol_unknown_op,
    test_idol_idempotent_retry_after_restart,
    test_idol_server_death_error,
    test_idol_server_killed_mid_call,
    test_idol_simple_nonidempotent_reports_death,
    test_idol_restricted_server_refuses,
    test_idol_restricted_server_allows,
    test_idol_error_variant_counters,
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    test_harness::run(&SuiteRunner(|| RUNNER.get_task_id()), TESTS, || {})
}

// ---------------------------------------------------------------------
// Helpers

/// A fresh client of the server, at its current generation.
fn idol_handle() -> IdolTest {
    IdolTest::from(IDOL.get_task_id())
}

/// How long (ms) we wait for a state that only a broken server would
/// never reach: long against a hang, not a speed requirement.
const LONG_WAIT_MS: u32 = 30_000;

#[track_caller]
fn restart_idol() {
    restart_server(IDOL.index() as usize);
}

/// Has the helper make the bad call `op`, which must get it faulted
/// while it waits for the server's reply; returns its state then, and
/// restarts it.
#[track_caller]
fn helper_fault(op: HelperOp) -> TaskState {
    let helper = HELPER.get_task_id();
    let mut answer = [0u8; 8];
    let (rc, _) = sys_send(helper, op as u16, &[], &mut answer, &[]);
    if extract_new_generation(rc).is_none() {
        panic!(
            "the helper was not faulted: the server answered {op:?} with \
             code {:#x}, length {}",
            word(&answer, 0),
            word(&answer, 1)
        );
    }
    let state = kipc::read_task_status(helper.index());
    restart_server(helper.index());
    state
}

/// The state of a client the server faulted with `reason` while it
/// waited for the reply.
fn faulted_by_server(reason: ReplyFaultReason) -> TaskState {
    let idol = IDOL.get_task_id();
    TaskState::Faulted {
        fault: FaultInfo::FromServer(idol, reason),
        original_state: SchedState::InReply(idol),
    }
}

/// Hubris's `UdpMetadata` with `vid`.
fn udp_metadata(vid: u16) -> UdpMetadata {
    UdpMetadata {
        addr: Address::Ipv6(Ipv6Address([
            1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 2, 2, 3, 3, 4, 4,
        ])),
        port: 1021,
        size: 1,
        vid,
    }
}

// ---------------------------------------------------------------------
// Hubris's cases

fn test_idol_basic() {
    expect_eq!(idol_handle().increment(1), Ok(2));
}

fn test_idol_bool_arg() {
    let idol = idol_handle();
    expect_eq!(idol.maybe_increment(5, true), Ok(6));
    expect_eq!(idol.maybe_increment(5, false), Ok(5));
}

fn test_idol_bool_ret() {
    let idol = idol_handle();
    expect_eq!(idol.bool_not(true), Ok(false));
    expect_eq!(idol.bool_not(false), Ok(true));
}

fn test_idol_bool_xor() {
    let idol = idol_handle();
    expect_eq!(idol.bool_xor(true, true), Ok(false));
    expect_eq!(idol.bool_xor(true, false), Ok(true));
    expect_eq!(idol.bool_xor(false, true), Ok(true));
    expect_eq!(idol.bool_xor(false, false), Ok(false));
}

fn test_idol_err_ret() {
    let idol = idol_handle();
    expect_eq!(idol.return_err_if_true(false), Ok(()));
    expect_eq!(
        idol.return_err_if_true(true),
        Err(IdolTestError::YouAskedForThis)
    );
}

fn test_idol_ssmarshal() {
    let idol = idol_handle();
    let a = FancyTestType {
        u: 133,
        b: true,
        f: 1.0,
    };
    expect_eq!(idol.fancy_increment(a), Ok(FancyTestType { u: 134, ..a }));
    let a = FancyTestType {
        u: 101,
        b: false,
        f: 1.0,
    };
    expect_eq!(idol.fancy_increment(a), Ok(a));
}

fn test_idol_ssmarshal_multiarg() {
    expect_eq!(idol_handle().extract_vid(0xAA, udp_metadata(12)), Ok(12));
}

fn test_idol_ssmarshal_multiarg_enum() {
    let idol = idol_handle();
    expect_eq!(
        idol.extract_vid_enum(SocketName::Echo, udp_metadata(14)),
        Ok(14)
    );
}

// ---------------------------------------------------------------------
// Leasehold: encodings and leases

/// A Hubpack op: the value comes back scaled, and an overflow comes back
/// as the `Complex` error naming the field.
fn test_idol_hubpack() {
    let idol = idol_handle();
    let sample = Sample {
        x: 300,
        y: -7,
        label: Some(9),
    };
    let scaled = Sample {
        x: 900,
        y: -21,
        label: Some(9),
    };
    expect_eq!(idol.scale(sample, 3), Ok(scaled));
    let wide = Sample {
        x: 1,
        y: i32::MIN,
        label: None,
    };
    expect_eq!(
        idol.scale(wide, 2),
        Err(ScaleError::Overflow { field: Field::Y })
    );
    let tall = Sample { x: 40_000, ..wide };
    expect_eq!(
        idol.scale(tall, 2),
        Err(ScaleError::Overflow { field: Field::X })
    );
}

/// The server reads a read lease, of any length up to `max_len`.
fn test_idol_lease_read() {
    let idol = idol_handle();
    expect_eq!(idol.sum(&[1, 2, 3, 250]), Ok(256));
    expect_eq!(idol.sum(&[]), Ok(0));
    expect_eq!(idol.sum(&[0xFF; 16]), Ok(16 * 0xFF));
}

/// The server writes a write lease, and only it.
fn test_idol_lease_write() {
    let idol = idol_handle();
    let mut buf = [0u8; 12];
    expect_eq!(idol.fill(10, &mut buf[2..7]), Ok(5));
    expect_eq!(buf, [0, 0, 10, 11, 12, 13, 14, 0, 0, 0, 0, 0]);
    let mut full = [0u8; 16];
    expect_eq!(idol.fill(0xF8, &mut full), Ok(16));
    expect_eq!(full[15], 0x07);
}

// ---------------------------------------------------------------------
// Leasehold: dispatch faults clients that break the rules

/// A lease longer than its `max_len` faults the client with `BadLeases`.
fn test_idol_max_len_exceeded() {
    let state = helper_fault(HelperOp::SumTooLong);
    expect_eq!(state, faulted_by_server(ReplyFaultReason::BadLeases));
    // The server carried on.
    expect_eq!(idol_handle().sum(&[7; 16]), Ok(7 * 16));
}

/// A message with a lease too few faults the client with `BadLeases`.
fn test_idol_wrong_lease_count() {
    let state = helper_fault(HelperOp::WrongLeaseCount);
    expect_eq!(state, faulted_by_server(ReplyFaultReason::BadLeases));
    expect_eq!(idol_handle().sum(&[1]), Ok(1));
}

/// A lease without the rights the op declares (read-only to `fill`, a
/// write op; write-only to `sum`, a read op) faults the client with
/// `BadLeases` before the server method runs: had it run, its borrow
/// would have failed and the client would wait for an answer forever
/// (the helper stays in REPLY, which the wait below reports).
fn test_idol_lease_wrong_rights() {
    for op in [HelperOp::FillReadOnly, HelperOp::SumWriteOnly] {
        let helper = HELPER.get_task_id();
        let (rc, _) = sys_send(helper, op as u16, &[], &mut [], &[]);
        expect_eq!(rc, 0);
        wait_for_state_within(
            helper.index(),
            faulted_by_server(ReplyFaultReason::BadLeases),
            LONG_WAIT_MS,
        );
        restart_server(helper.index());
        // The server carried on, and the ops work with the right leases.
        let idol = idol_handle();
        expect_eq!(idol.sum(&[2; 4]), Ok(8));
        let mut out = [0u8; 3];
        expect_eq!(idol.fill(5, &mut out), Ok(3));
        expect_eq!(out, [5, 6, 7]);
    }
}

/// A reply buffer smaller than the op's reply faults the client with
/// `ReplyBufferTooSmall` (rather than the server with `ReplyTooBig`).
fn test_idol_reply_too_small() {
    let state = helper_fault(HelperOp::ReplyTooSmall);
    expect_eq!(
        state,
        faulted_by_server(ReplyFaultReason::ReplyBufferTooSmall)
    );
    expect_eq!(idol_handle().increment(1), Ok(2));
}

/// An op number the interface does not define faults the client with
/// `UndefinedOperation`.
fn test_idol_unknown_op() {
    let state = helper_fault(HelperOp::UnknownOp);
    expect_eq!(
        state,
        faulted_by_server(ReplyFaultReason::UndefinedOperation)
    );
    expect_eq!(idol_handle().increment(1), Ok(2));
}

// ---------------------------------------------------------------------
// Leasehold: server death

/// An idempotent op sent to a restarted server gets the dead code, and
/// the client resends it to the new generation without the caller
/// noticing.
fn test_idol_idempotent_retry_after_restart() {
    let idol = idol_handle();
    expect_eq!(idol.increment(1), Ok(2));
    let before = idol.task_id();
    restart_idol();
    expect_eq!(idol.increment(41), Ok(42));
    expect_eq!(idol.task_id(), IDOL.get_task_id());
    expect_eq!(idol.task_id().generation(), before.generation().next());
}

/// A non-idempotent op sent to a restarted server returns the error's
/// server-death variant, is not resent, and the next call goes to the
/// new generation (whose state is fresh: the lost `swap` never happened).
fn test_idol_server_death_error() {
    let idol = idol_handle();
    idol.swap(7).expect("first swap");
    expect_eq!(idol.swap(8), Ok(7));
    restart_idol();
    expect_eq!(idol.swap(9), Err(IdolTestError::ServerRestarted));
    expect_eq!(idol.task_id(), IDOL.get_task_id());
    expect_eq!(idol.swap(10), Ok(0));
}

/// The server is faulted while it handles our call: we get the
/// server-death error at once, while the server is still held faulted
/// (nobody has restarted it), and after the restart the next call works.
fn test_idol_server_killed_mid_call() {
    let idol = idol_handle();
    let server = idol.task_id();
    let helper = HELPER.get_task_id();
    let (rc, _) = sys_send(
        helper,
        HelperOp::FaultServerMidCall as u16,
        &[],
        &mut [],
        &[],
    );
    expect_eq!(rc, 0);
    expect_eq!(idol.wait_forever(), Err(IdolTestError::ServerRestarted));
    let state = kipc::read_task_status(server.index());
    expect_eq!(
        state,
        TaskState::Faulted {
            fault: FaultInfo::Injected(helper),
            original_state: SchedState::InRecv(Some(TaskId::KERNEL)),
        }
    );
    expect_eq!(idol.task_id().generation(), server.generation().next());
    restart_idol();
    expect_eq!(idol.swap(3), Ok(0));
    expect_eq!(idol.increment(1), Ok(2));
    // The helper itself was not blamed.
    wait_for_state(helper.index(), WAITING_FOR_WORK);
}

/// A non-idempotent op with a `Simple` reply (legal, with a warning): its
/// client returns `Result<u32, ServerDeath>`, so a server that restarted
/// since our last call is an `Err`, not a panic, and is not resent.
fn test_idol_simple_nonidempotent_reports_death() {
    let idol = idol_handle();
    let first = match idol.simple_bump() {
        Ok(n) => n,
        Err(e) => panic!("simple_bump: {e:?}"),
    };
    expect_eq!(idol.simple_bump(), Ok(first + 1));
    restart_idol();
    expect_eq!(idol.simple_bump(), Err(idol_runtime::ServerDeath));
    expect_eq!(idol.task_id(), IDOL.get_task_id());
    // Not resent: the fresh server's count starts from this call.
    expect_eq!(idol.simple_bump(), Ok(1));
}

// ---------------------------------------------------------------------
// Leasehold: restricted servers and outcome counters

/// `restricted_bump` is the suite's alone (test/idol.toml
/// `allowed-callers`): the helper calling it is faulted with
/// `AccessViolation`, before dispatch, so the count does not move.
fn test_idol_restricted_server_refuses() {
    let idol = idol_handle();
    let before = match idol.restricted_bump() {
        Ok(n) => n,
        Err(e) => panic!("the suite may call restricted_bump: {e:?}"),
    };
    let state = helper_fault(HelperOp::CallRestricted);
    expect_eq!(state, faulted_by_server(ReplyFaultReason::AccessViolation));
    expect_eq!(idol.restricted_bump(), Ok(before + 1));
    // The server carried on, and its open ops stay open.
    expect_eq!(idol.increment(1), Ok(2));
}

/// The allowed caller's calls go through, every time, and survive a
/// restart of the server (the list is by task index, fixed at build).
fn test_idol_restricted_server_allows() {
    let idol = idol_handle();
    let first = match idol.restricted_bump() {
        Ok(n) => n,
        Err(e) => panic!("restricted_bump: {e:?}"),
    };
    expect_eq!(idol.restricted_bump(), Ok(first + 1));
    restart_idol();
    let idol = idol_handle();
    expect_eq!(idol.restricted_bump(), Ok(1));
    expect_eq!(idol.restricted_bump(), Ok(2));
}

/// The server counts each op's outcome by variant: `Ok`, its own error
/// by variant, and each way it refused a client. We read the counters
/// through the server's own `outcome_counts` before and after a known
/// set of calls.
fn test_idol_error_variant_counters() {
    let idol = idol_handle();
    let read = || {
        let mut counts = [0u32; 6];
        expect_eq!(idol.outcome_counts(&mut counts), 6);
        counts
    };
    let before = read();
    for _ in 0..3 {
        expect_eq!(
            idol.return_err_if_true(true),
            Err(IdolTestError::YouAskedForThis)
        );
    }
    for _ in 0..2 {
        expect_eq!(idol.return_err_if_true(false), Ok(()));
    }
    if let Err(e) = idol.restricted_bump() {
        panic!("restricted_bump: {e:?}");
    }
    let state = helper_fault(HelperOp::CallRestricted);
    expect_eq!(state, faulted_by_server(ReplyFaultReason::AccessViolation));
    let state = helper_fault(HelperOp::SumTooLong);
    expect_eq!(state, faulted_by_server(ReplyFaultReason::BadLeases));
    let wide = Sample {
        x: 1,
        y: i32::MIN,
        label: None,
    };
    expect_eq!(
        idol.scale(wide, 2),
        Err(ScaleError::Overflow { field: Field::Y })
    );
    let after = read();
    let mut delta = [0u32; 6];
    for (d, (a, b)) in delta.iter_mut().zip(after.iter().zip(&before)) {
        *d = a.wrapping_sub(*b);
    }
    // return_err_if_true Ok, Err(YouAskedForThis); restricted_bump Ok,
    // refused; sum refused (BadLease); scale Err(Overflow).
    expect_eq!(delta, [2, 3, 1, 1, 1, 1]);
}
