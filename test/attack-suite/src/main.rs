//! The attack cases: one per attack a task could make on the kernel or
//! on another task, each checking the exact outcome (the attacker faulted
//! with the right fault, or refused) and that the victim and everyone
//! else carry on. The runner (`test-runner`, built with `host-cases`)
//! prints `test_<name> ... ok`; xtask's host-side cases follow.
//!
//! The attacks that get their author faulted are made by `mallory` (see
//! `attack-api`); the ones a server makes are played by the puppet `srv`.
//! Every case ends by checking `srv` and `far` still answer, restarting
//! whichever the case faulted on purpose.

#![no_std]
#![no_main]

use attack_api::*;
use drv_board_io::regs::sha256_engine as regs;
use test_api::{SuiteRunner, tasks};
use test_harness::{
    WAITING_FOR_WORK, expect_eq, restart_server, test_cases, wait_for_state,
};
use userlib::*;

task_slot!(RUNNER, runner);
task_slot!(SRV, srv);
task_slot!(FAR, far);

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));

test_cases! {
    test_lease_table_rewrite,
    test_lease_into_flash,
    test_lease_rewrite_wrapping,
    test_lease_rewrite_to_guard,
    test_forwarded_lease_rewrite,
    test_forward_widen_rights,
    test_forward_widen_window,
    test_lease_base_length_overflow,
    test_lease_at_guard,
    test_lease_write_right_on_flash,
    test_lease_undefined_attributes,
    test_lease_table_misaligned,
    test_post_without_capability,
    test_post_kernel_timer_bit,
    test_post_timer_notification,
    test_post_with_capability,
    test_reinit_supervisor,
    test_kipc_empty_message,
    test_kipc_task_out_of_range,
    test_kipc_unknown_number,
    test_recv_buffer_in_flash,
    test_reply_buffer_in_flash,
    test_bad_syscall_number,
    test_the_doorbell_number_from_a_task,
    test_syscall_frame_in_flash,
    test_huge_lease_offset,
    test_oversized_reply,
    test_peripheral_past_lease_window,
    test_hash_engine_window_past_lease,
    test_hash_engine_without_grant,
    test_hash_engine_start_while_busy,
    test_hash_engine_lender_dies_mid_read,
    test_everyone_still_running,
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    test_harness::run(&SuiteRunner(|| RUNNER.get_task_id()), TESTS, || {})
}

// ---------------------------------------------------------------------
// Driving mallory and the servers

fn task_id(index: usize) -> TaskId {
    sys_refresh_task_id(TaskId::for_index_and_gen(index, Generation::ZERO))
}

/// How an attack ended for mallory.
#[derive(Debug, PartialEq)]
enum Outcome {
    Faulted(FaultInfo),
    /// It survived and reported these words.
    Reported([u32; 4]),
}

/// Hands mallory `job(arg)` and waits until it reports or faults; a
/// faulted mallory is restarted and parked again before returning.
#[track_caller]
fn attack(job: Job, arg: u32) -> Outcome {
    let mallory = task_id(tasks::MALLORY);
    let me = task_id(tasks::THIS_TASK);
    wait_for_state(tasks::MALLORY, TaskState::Healthy(SchedState::InSend(me)));
    let ready = match sys_recv_closed(&mut [], 0, mallory) {
        Ok(m) => m,
        Err(e) => panic!("mallory died before its job: {e:?}"),
    };
    expect_eq!(ready.operation, MalloryOp::Ready as u32);
    let mut out = [0u8; 8];
    sys_reply(mallory, 0, words(&mut out, &[job as u32, arg]));
    let mut report = [0u8; 16];
    match sys_recv_closed(&mut report, 0, mallory) {
        Ok(m) => {
            expect_eq!(m.operation, MalloryOp::Report as u32);
            sys_reply(m.sender, 0, &[]);
            Outcome::Reported(core::array::from_fn(|i| word(&report, i)))
        }
        Err(ClosedRecvError::Dead(_)) => {
            let fault = match kipc::read_task_status(tasks::MALLORY) {
                TaskState::Faulted { fault, .. } => fault,
                s => panic!("mallory died but is {s:?}"),
            };
            kipc::reinit_task(tasks::MALLORY, true);
            Outcome::Faulted(fault)
        }
    }
}

/// Mallory's flash data address and RAM base.
fn describe() -> (u32, u32) {
    match attack(Job::Describe, 0) {
        Outcome::Reported([flash, ram, _, _]) => (flash, ram),
        o => panic!("describe: {o:?}"),
    }
}

/// `srv` or `far` answers a ping.
#[track_caller]
fn answers(server: TaskId) {
    let mut msg = [0u8; 4];
    let mut reply = [0u8; 4];
    let (rc, len) = sys_send(
        server,
        ServerOp::Ping as u16,
        words(&mut msg, &[7]),
        &mut reply,
        &[],
    );
    expect_eq!((rc, len), (0, 4));
    expect_eq!(word(&reply, 0), !7);
}

/// The two response codes `server`'s last action got.
fn last_result(server: TaskId) -> [u32; 2] {
    let mut reply = [0u8; 8];
    let (rc, _) =
        sys_send(server, ServerOp::LastResult as u16, &[], &mut reply, &[]);
    expect_eq!(rc, 0);
    [word(&reply, 0), word(&reply, 1)]
}

/// Both servers are healthy and answering.
#[track_caller]
fn bystanders_fine() {
    answers(SRV.get_task_id());
    answers(FAR.get_task_id());
}

/// `srv` must be faulted with `expected` (it played the attacker); it is
/// restarted and must then answer again.
#[track_caller]
fn srv_faulted_with(expected: FaultInfo) {
    let index = SRV.index() as usize;
    match kipc::read_task_status(index) {
        TaskState::Faulted { fault, .. } => expect_eq!(fault, expected),
        s => panic!("expected srv faulted with {expected:?}, found {s:?}"),
    }
    restart_server(index);
    bystanders_fine();
}

fn usage(e: UsageError) -> FaultInfo {
    FaultInfo::SyscallUsage(e)
}

fn memory(address: u32) -> FaultInfo {
    FaultInfo::MemoryAccess {
        address: Some(address),
        source: FaultSource::User,
    }
}

// ---------------------------------------------------------------------
// Lease tables rewritten through a lease (the holes re-validation closed)

/// Mallory lends its own lease table writable; `srv` rewrites the data
/// entry to point outside mallory and borrows: mallory (whose table it
/// is) is faulted, `srv` gets DEFECT and carries on.
fn test_lease_table_rewrite() {
    let outcome = attack(Job::RewriteOwnTable, forged::OUTSIDE);
    expect_eq!(outcome, Outcome::Faulted(memory(WILD_ADDRESS)));
    expect_eq!(last_result(SRV.get_task_id()), [0, DEFECT]);
    bystanders_fine();
}

/// The same, aimed at writing mallory's flash (the kernel's copy of it).
fn test_lease_into_flash() {
    let (flash, _) = describe();
    let outcome = attack(Job::RewriteOwnTable, forged::INTO_FLASH);
    expect_eq!(outcome, Outcome::Faulted(memory(flash)));
    expect_eq!(last_result(SRV.get_task_id()), [0, DEFECT]);
    bystanders_fine();
}

fn test_lease_rewrite_wrapping() {
    let outcome = attack(Job::RewriteOwnTable, forged::WRAPPING);
    expect_eq!(outcome, Outcome::Faulted(usage(UsageError::InvalidSlice)));
    expect_eq!(last_result(SRV.get_task_id()), [0, DEFECT]);
    bystanders_fine();
}

fn test_lease_rewrite_to_guard() {
    let (_, ram) = describe();
    let outcome = attack(Job::RewriteOwnTable, forged::GUARD);
    expect_eq!(outcome, Outcome::Faulted(memory(ram - GUARD_OFFSET)));
    bystanders_fine();
}

/// `srv` forwards mallory's lease to `far` and carelessly lends `far` its
/// own lease table; `far` widens the forward to read-write and borrows.
/// `srv`'s table is bad, so `srv` is faulted; `far` gets DEFECT;
/// mallory, waiting on `srv`, gets the dead code and lives.
fn test_forwarded_lease_rewrite() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::ForwardedRewrite, 0);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    expect_eq!(last_result(FAR.get_task_id()), [0, DEFECT]);
    srv_faulted_with(usage(UsageError::BadLeaseForward));
}

fn test_forward_widen_rights() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::ForwardWider, 0);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    srv_faulted_with(usage(UsageError::BadLeaseForward));
}

fn test_forward_widen_window() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::ForwardWider, 1);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    srv_faulted_with(usage(UsageError::BadLeaseForward));
}

// ---------------------------------------------------------------------
// Bad leases at SEND

fn test_lease_base_length_overflow() {
    let outcome = attack(Job::SendBadLease, bad_lease::WRAPPING);
    expect_eq!(outcome, Outcome::Faulted(usage(UsageError::InvalidSlice)));
    bystanders_fine();
}

fn test_lease_at_guard() {
    let (_, ram) = describe();
    let outcome = attack(Job::SendBadLease, bad_lease::GUARD);
    expect_eq!(outcome, Outcome::Faulted(memory(ram - GUARD_OFFSET)));
    bystanders_fine();
}

fn test_lease_write_right_on_flash() {
    let (flash, _) = describe();
    let outcome = attack(Job::SendBadLease, bad_lease::WRITE_TO_FLASH);
    expect_eq!(outcome, Outcome::Faulted(memory(flash)));
    bystanders_fine();
}

fn test_lease_undefined_attributes() {
    let outcome = attack(Job::SendBadLease, bad_lease::UNDEFINED_BITS);
    expect_eq!(outcome, Outcome::Faulted(usage(UsageError::InvalidSlice)));
    bystanders_fine();
}

fn test_lease_table_misaligned() {
    let outcome = attack(Job::SendBadLease, bad_lease::MISALIGNED_TABLE);
    expect_eq!(outcome, Outcome::Faulted(usage(UsageError::InvalidSlice)));
    bystanders_fine();
}

// ---------------------------------------------------------------------
// Notifications are capabilities

fn post_arg(task: usize, bit: u32) -> u32 {
    bit << 16 | task as u32
}

/// `far` is in neither mallory's task-slots nor its post-to.
fn test_post_without_capability() {
    let outcome = attack(Job::Post, post_arg(FAR.index() as usize, 1));
    expect_eq!(outcome, Outcome::Faulted(usage(UsageError::PostNotGranted)));
    bystanders_fine();
}

/// Bit 31 is the one `hl::sleep_for` waits on: the kernel's.
fn test_post_kernel_timer_bit() {
    let outcome = attack(Job::Post, post_arg(SRV.index() as usize, 31));
    let refused = usage(UsageError::ReservedNotification);
    expect_eq!(outcome, Outcome::Faulted(refused));
    bystanders_fine();
}

/// `srv`'s notification named `timer` (its bit 0) is the kernel's too.
fn test_post_timer_notification() {
    let outcome = attack(Job::Post, post_arg(SRV.index() as usize, 0));
    let refused = usage(UsageError::ReservedNotification);
    expect_eq!(outcome, Outcome::Faulted(refused));
    bystanders_fine();
}

/// The control: a task in mallory's slots, an ordinary bit.
fn test_post_with_capability() {
    let outcome = attack(Job::Post, post_arg(SRV.index() as usize, 1));
    expect_eq!(outcome, Outcome::Reported([0; 4]));
    bystanders_fine();
}

/// Mallory holds the reinit_task grant; the supervisor is out of reach.
fn test_reinit_supervisor() {
    let before = task_id(0);
    let outcome = attack(Job::ReinitSupervisor, 0);
    expect_eq!(outcome, Outcome::Faulted(usage(UsageError::IllegalTask)));
    expect_eq!(task_id(0), before);
    bystanders_fine();
}

// ---------------------------------------------------------------------
// Malformed kipc and syscalls

fn test_kipc_empty_message() {
    let outcome = attack(Job::BadKipc, 0);
    expect_eq!(
        outcome,
        Outcome::Faulted(usage(UsageError::BadKernelMessage))
    );
}

fn test_kipc_task_out_of_range() {
    let outcome = attack(Job::BadKipc, 1);
    expect_eq!(outcome, Outcome::Faulted(usage(UsageError::TaskOutOfRange)));
}

fn test_kipc_unknown_number() {
    let outcome = attack(Job::BadKipc, 2);
    expect_eq!(
        outcome,
        Outcome::Faulted(usage(UsageError::BadKernelMessage))
    );
}

fn test_recv_buffer_in_flash() {
    let (flash, _) = describe();
    expect_eq!(
        attack(Job::RecvIntoFlash, 0),
        Outcome::Faulted(memory(flash))
    );
}

fn test_reply_buffer_in_flash() {
    let (flash, _) = describe();
    expect_eq!(
        attack(Job::ReplyIntoFlash, 0),
        Outcome::Faulted(memory(flash))
    );
    bystanders_fine();
}

fn test_bad_syscall_number() {
    let outcome = attack(Job::BadSyscallNumber, 0);
    expect_eq!(
        outcome,
        Outcome::Faulted(usage(UsageError::BadSyscallNumber))
    );
}

/// The hosted kernel's doorbell thread traps with the last private
/// number (`0x10FF`) to say "something is ready". A task making the same
/// call is only a task making an unknown call: traps are told apart by
/// thread id, so it neither wakes the loop's event handling nor passes
/// for the doorbell, and everyone else carries on.
fn test_the_doorbell_number_from_a_task() {
    let outcome = attack(Job::BadSyscallNumber, 0xFF);
    expect_eq!(
        outcome,
        Outcome::Faulted(usage(UsageError::BadSyscallNumber))
    );
    bystanders_fine();
}

fn test_syscall_frame_in_flash() {
    let (flash, _) = describe();
    expect_eq!(
        attack(Job::FrameInFlash, 0),
        Outcome::Faulted(memory(flash))
    );
}

// ---------------------------------------------------------------------
// Servers that misbehave with a client's lease or reply

fn test_huge_lease_offset() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::HugeOffset, 0);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    srv_faulted_with(usage(UsageError::OffsetOutOfRange));
}

fn test_oversized_reply() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::OversizedReply, 0);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    srv_faulted_with(usage(UsageError::ReplyTooBig));
}

fn test_peripheral_past_lease_window() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::PeripheralPastWindow, 0);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    srv_faulted_with(usage(UsageError::OffsetOutOfRange));
}

// ---------------------------------------------------------------------
// The SHA-256 engine: a DMA reader of leases

/// The engine's `(STATUS, COUNT)` once it is not busy, from `srv`.
fn hash_report() -> [u32; 2] {
    let mut msg = [0u8; 4];
    let mut reply = [0u8; 8];
    let (rc, _) = sys_send(
        SRV.get_task_id(),
        ServerOp::Puppet as u16,
        words(&mut msg, &[Action::HashReport as u32]),
        &mut reply,
        &[],
    );
    expect_eq!(rc, 0);
    [word(&reply, 0), word(&reply, 1)]
}

const DONE_READY: u32 = regs::STATUS_DONE | regs::STATUS_READY;

/// `srv` starts the engine on 17 bytes of a 16-byte lease: the kernel
/// faults `srv` before the engine sees the transfer, which hashed nothing.
fn test_hash_engine_window_past_lease() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::HashPastWindow, 0);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    srv_faulted_with(usage(UsageError::OffsetOutOfRange));
    expect_eq!(hash_report(), [regs::STATUS_READY, 0]);
}

/// A task without the engine in its `uses` touches it: faulted.
fn test_hash_engine_without_grant() {
    let outcome = attack(Job::HashNoGrant, 0);
    expect_eq!(
        outcome,
        Outcome::Faulted(usage(UsageError::NoPeripheralGrant))
    );
}

/// A second transfer before the first one's DONE is cleared (while it
/// may still run) is refused: `srv` faults, the first transfer ends as
/// it would have.
fn test_hash_engine_start_while_busy() {
    let srv = SRV.get_task_id();
    let outcome = attack(Job::HashTwice, 0);
    let dead = dead_response_code(srv.generation().next());
    expect_eq!(outcome, Outcome::Reported([dead, 0, 0, 0]));
    srv_faulted_with(usage(UsageError::BadPeripheralRequest));
    expect_eq!(hash_report(), [DONE_READY, 16]);
}

/// mallory lends 1 MiB of its RAM to the engine and dies (and is
/// restarted with fresh RAM) while the engine may still read it: the
/// kernel keeps the old memory until the engine is through, the transfer
/// ends whole, and the next hash is right (SHA-256 of sixteen 0x5A
/// bytes, from Python's hashlib).
fn test_hash_engine_lender_dies_mid_read() {
    let outcome = attack(Job::HashLenderDies, 0);
    expect_eq!(outcome, Outcome::Faulted(FaultInfo::Panic));
    expect_eq!(hash_report(), [DONE_READY, BIG_LEASE]);
    let outcome = attack(Job::HashData, 0);
    expect_eq!(outcome, Outcome::Reported([0, 0x1c71_2ecc, 0x21e2_7e37, 0]));
}

/// After every attack: nobody but the attackers was ever faulted (the
/// runner holds faulted tasks, so a stray fault would still show), every
/// task is in its normal state, and the kernel answers.
fn test_everyone_still_running() {
    let me = task_id(tasks::THIS_TASK);
    wait_for_state(tasks::MALLORY, TaskState::Healthy(SchedState::InSend(me)));
    wait_for_state(SRV.index() as usize, WAITING_FOR_WORK);
    wait_for_state(FAR.index() as usize, WAITING_FOR_WORK);
    wait_for_state(RUNNER.index() as usize, WAITING_FOR_WORK);
    for index in 0..tasks::NUM_TASKS {
        let s = kipc::read_task_status(index);
        if s.is_faulted() {
            panic!("task {index} is {s:?}");
        }
    }
    bystanders_fine();
    expect_eq!(kipc::read_image_id() != 0, true);
}
