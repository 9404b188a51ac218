//! A client of the suite, for the cases where the suite is the server.
//!
//! The suite may not SEND to us (we are less important), so we ask it for
//! work: we park in a SEND of [`CallerOp::Ready`], and when a case wants
//! us it receives that message and replies with a [`CallerJob`].

#![no_std]
#![no_main]

use test_api::*;
use userlib::*;

task_slot!(SUITE, suite);
task_slot!(ASSIST, assist);

#[unsafe(export_name = "main")]
fn main() -> ! {
    // The suite's reply to our last `SendBack`, for `LastReply`.
    let mut last_reply = 0u32;
    loop {
        let Some((job, arg)) = next_job() else {
            continue;
        };
        match job {
            CallerJob::SendBack => last_reply = send_back(arg),
            CallerJob::SendBackWithLoans => send_back_with_loans(),
            CallerJob::LastReply => {
                let msg = last_reply.to_le_bytes();
                to_suite(CallerOp::LastReply, &msg, &mut [], &[]);
            }
            CallerJob::LendToAssist => lend_to_assist(),
        }
    }
}

/// Waits for the suite to hand us a job. `None` if the suite died (we
/// back off briefly, as it stays faulted until the runner restarts it)
/// or sent something we do not understand.
fn next_job() -> Option<(CallerJob, u32)> {
    let mut job = [0u8; 8];
    let (rc, n) = to_suite(CallerOp::Ready, &[], &mut job, &[]);
    if rc != 0 {
        hl::sleep_for(1);
        return None;
    }
    let job = &job[..n.min(job.len())];
    Some((CallerJob::try_from(word(job, 0)).ok()?, word(job, 1)))
}

fn to_suite(
    op: CallerOp,
    msg: &[u8],
    reply: &mut [u8],
    leases: &[Lease<'_>],
) -> (u32, usize) {
    sys_send(SUITE.get_task_id(), op as u16, msg, reply, leases)
}

/// Sends `challenge` and returns the suite's 4-byte reply.
fn send_back(challenge: u32) -> u32 {
    let mut reply = [0u8; 4];
    to_suite(
        CallerOp::SendBack,
        &challenge.to_le_bytes(),
        &mut reply,
        &[],
    );
    u32::from_le_bytes(reply)
}

/// Lends the suite a zeroed read-write buffer and a read-only one, as
/// Hubris's assistant does for the borrow cases. Both live on our stack
/// (RAM), like any buffer a real client lends.
fn send_back_with_loans() {
    let mut rw = [0u8; LOAN0_LEN];
    let ro = *LOAN1;
    let leases = [Lease::read_write(&mut rw), Lease::read_only(&ro)];
    let mut reply = [0u8; 4];
    to_suite(CallerOp::SendBackWithLoans, &[], &mut reply, &leases);
}

/// Lends [`CALLER_LEASE_DATA`] to the assistant, which forwards it on; the
/// suite kills us while the chain is held.
fn lend_to_assist() {
    let data = *CALLER_LEASE_DATA;
    let leases = [Lease::read_only(&data)];
    let mut reply = [0u8; 4];
    let op = AssistOp::ForwardHold as u16;
    sys_send(ASSIST.get_task_id(), op, &[], &mut reply, &leases);
}
