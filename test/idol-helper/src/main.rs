//! The idol tests' helper: an `IdolTest` client that breaks the rules on
//! the suite's request ([`HelperOp`]), so that the server faults *us* and
//! the suite can read the exact fault.
//!
//! Each rule-breaking call is made while the suite is blocked on us, so
//! when the server faults us the kernel releases the suite with our dead
//! code, and the suite finds us faulted the moment its SEND returns. If
//! the server answers instead, we reply `(response code, reply length)`
//! of its answer, which the suite reports.

#![no_std]
#![no_main]

use test_idol_api::{HelperOp, IdolTest, IdolTestOperation, UNKNOWN_OP};
use userlib::*;

task_slot!(IDOL, idol);

/// How long (ms, polling every 1 ms) `FaultServerMidCall` waits for the
/// server to block in `wait_forever` before faulting it anyway.
const MID_CALL_WAIT_MS: u32 = 5_000;

#[unsafe(export_name = "main")]
fn main() -> ! {
    loop {
        let m = sys_recv_open(&mut [], 0);
        let Some(op) = HelperOp::try_from(m.operation).ok() else {
            sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
            continue;
        };
        if op == HelperOp::FaultServerMidCall {
            sys_reply(m.sender, 0, &[]);
            fault_server_mid_call();
            continue;
        }
        if matches!(op, HelperOp::FillReadOnly | HelperOp::SumWriteOnly) {
            // The suite waits for our fault rather than for our answer:
            // a server that let the call through would never answer us.
            sys_reply(m.sender, 0, &[]);
            lend_without_the_right(op);
            continue;
        }
        let (rc, len) = misbehave(op);
        let mut answer = [0u8; 8];
        answer[..4].copy_from_slice(&rc.to_le_bytes());
        answer[4..].copy_from_slice(&(len as u32).to_le_bytes());
        sys_reply(m.sender, 0, &answer);
    }
}

/// Makes the call `op` describes; the server should fault us.
fn misbehave(op: HelperOp) -> (u32, usize) {
    let idol = IDOL.get_task_id();
    match op {
        HelperOp::SumTooLong => {
            // The plain `sum` refuses to send this; the table form leaves
            // the check to the server.
            let data = [1u8; 17];
            let client = IdolTest::from(idol);
            match client.sum_with_leases([Lease::read_only(&data)]) {
                Ok(sum) => (0, sum as usize),
                Err(e) => (e as u32, 0),
            }
        }
        HelperOp::WrongLeaseCount => {
            let op = IdolTestOperation::sum as u16;
            sys_send(idol, op, &[], &mut [0; 4], &[])
        }
        HelperOp::ReplyTooSmall => {
            let op = IdolTestOperation::increment as u16;
            let i = 1usize.to_le_bytes();
            // One byte short of the reply (a usize: 8 bytes hosted, 4
            // on the Cortex-M board).
            let mut reply = [0; core::mem::size_of::<usize>()];
            let short = reply.len() - 1;
            sys_send(idol, op, &i, &mut reply[..short], &[])
        }
        HelperOp::UnknownOp => {
            sys_send(idol, UNKNOWN_OP, &[], &mut [0; 8], &[])
        }
        HelperOp::FaultServerMidCall
        | HelperOp::FillReadOnly
        | HelperOp::SumWriteOnly => (0, 0),
        HelperOp::CallRestricted => {
            match IdolTest::from(idol).restricted_bump() {
                Ok(count) => (0, count as usize),
                Err(e) => (e as u32, 0),
            }
        }
    }
}

/// Calls a write op with a read-only lease, or a read op with a
/// write-only one; the server should fault us. If it answers instead, we
/// park in a receive the suite never satisfies, so our state shows it.
fn lend_without_the_right(op: HelperOp) {
    let client = IdolTest::from(IDOL.get_task_id());
    let mut data = [1u8; 8];
    let _ = match op {
        HelperOp::FillReadOnly => {
            client.fill_with_leases(3, [Lease::read_only(&data)])
        }
        _ => client.sum_with_leases([Lease::write_only(&mut data)]),
    };
    sys_recv_notification(0);
}

/// Waits until the server is inside `wait_forever` (in a closed receive
/// from the kernel), then faults it.
fn fault_server_mid_call() {
    let index = IDOL.index() as usize;
    let inside = TaskState::Healthy(SchedState::InRecv(Some(TaskId::KERNEL)));
    for _ in 0..MID_CALL_WAIT_MS {
        if kipc::read_task_status(index) == inside {
            break;
        }
        hl::sleep_for(1);
    }
    kipc::fault_task(index);
}
