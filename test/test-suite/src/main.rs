//! The kernel conformance cases, in the shape of Hubris's `test-suite`.
//!
//! The runner tells us which case to run; we announce it, run it and
//! report that it returned. A case fails by panicking (a failed
//! expectation says what was expected and what was found); the runner
//! then prints our panic message, restarts everything and carries on with
//! the next case. A case provokes one thing and checks the kernel's exact
//! answer, and leaves the helpers as it found them: a case that faults a
//! helper restarts it before returning.
//!
//! The host runs tasks as concurrent processes, so a case never assumes
//! that a helper has *already* reached some state after replying to us;
//! it waits for the state ([`wait_for_state`]). Operations that fault a
//! helper do so while we are blocked on it, so the kernel itself tells us
//! (with the dead code) the moment it happened.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};
use test_api::*;
use test_harness::{
    WAITING_FOR_WORK, expect_eq, restart_server, test_cases, wait_for_state,
    wait_until_faulted,
};
use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));
include!(concat!(env!("OUT_DIR"), "/peripherals.rs"));

task_slot!(RUNNER, runner);
task_slot!(ASSIST, assist);
task_slot!(FORWARD, forward);

#[cfg(target_arch = "x86_64")]
test_cases! {
    test_send,
    test_recv_reply,
    test_recv_reply_fault,
    test_post,
    test_refresh_task_id_basic,
    test_refresh_task_id_off_by_one,
    test_refresh_task_id_off_by_many,
    test_borrow_info,
    test_borrow_read,
    test_borrow_write,
    test_borrow_without_peer_waiting,
    test_fault_badmem,
    test_fault_foreign_ram,
    test_fault_stackoverflow,
    test_fault_execdata,
    test_fault_illinst,
    test_fault_divzero,
    test_fault_maxstatus,
    test_fault_badstatus,
    test_fault_maxrestart,
    test_fault_badrestart,
    test_fault_maxinjection,
    test_fault_badinjection,
    test_fault_superinjection,
    test_fault_selfinjection,
    test_panic,
    test_read_panic_message,
    test_restart,
    test_restart_taskgen,
    test_panic_taskgen,
    test_supervisor_fault_notification,
    test_task_status,
    test_task_fault_injection,
    test_timer_advance,
    test_timer_notify,
    test_timer_notify_past,
    test_irq_notif,
    test_irq_status,
    test_forbidden_host_syscall,
    test_send_outside_task_slots,
    test_peripheral_without_grant,
    test_peripheral_grant_revoked,
    test_fault_unblocks_peers,
    test_lease_forward_read,
    test_lease_forward_revoked_on_client_death,
    test_lease_forward_cannot_widen,
    test_lease_forward_from_task_not_lending,
    test_lease_forward_wrong_generation,
    test_lease_forward_index_past_count,
    test_lease_forward_window_past_end,
    test_lease_forward_from_itself,
    test_peripheral_from_lease,
    test_peripheral_from_lease_past_window,
    test_peripheral_from_lease_offset_past_end,
    test_peripheral_from_lease_without_read_right,
    test_peripheral_from_lease_not_lent_to_us,
    test_peripheral_from_forwarded_lease,
    test_inject_at_nth_syscall,
}

// On Cortex-M there are no host syscalls; in their place, the MPU's
// other refusals: kernel memory, a device not granted, the MPU itself.
#[cfg(target_arch = "arm")]
test_cases! {
    test_send,
    test_recv_reply,
    test_recv_reply_fault,
    test_post,
    test_refresh_task_id_basic,
    test_refresh_task_id_off_by_one,
    test_refresh_task_id_off_by_many,
    test_borrow_info,
    test_borrow_read,
    test_borrow_write,
    test_borrow_without_peer_waiting,
    test_fault_badmem,
    test_fault_foreign_ram,
    test_fault_stackoverflow,
    test_fault_execdata,
    test_fault_illinst,
    test_fault_divzero,
    test_fault_maxstatus,
    test_fault_badstatus,
    test_fault_maxrestart,
    test_fault_badrestart,
    test_fault_maxinjection,
    test_fault_badinjection,
    test_fault_superinjection,
    test_fault_selfinjection,
    test_panic,
    test_read_panic_message,
    test_restart,
    test_restart_taskgen,
    test_panic_taskgen,
    test_supervisor_fault_notification,
    test_task_status,
    test_task_fault_injection,
    test_timer_advance,
    test_timer_notify,
    test_timer_notify_past,
    test_irq_notif,
    test_irq_status,
    test_fault_kernel_ram,
    test_fault_ungranted_device,
    test_fault_mpu_register_write,
    test_send_outside_task_slots,
    test_peripheral_without_grant,
    test_peripheral_grant_revoked,
    test_fault_unblocks_peers,
    test_lease_forward_read,
    test_lease_forward_revoked_on_client_death,
    test_lease_forward_cannot_widen,
    test_lease_forward_from_task_not_lending,
    test_lease_forward_wrong_generation,
    test_lease_forward_index_past_count,
    test_lease_forward_window_past_end,
    test_lease_forward_from_itself,
    test_inject_at_nth_syscall,
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    test_harness::run(&SuiteRunner(|| RUNNER.get_task_id()), TESTS, || {})
}

// ---------------------------------------------------------------------
// Helpers

/// Sends `op(args)` to `to`: `(response code, reply length)`.
fn call(to: TaskId, op: u16, args: &[u32], reply: &mut [u8]) -> (u32, usize) {
    let mut msg = [0u8; 16];
    sys_send(to, op, words(&mut msg, args), reply, &[])
}

/// Asks the runner for `op(args)` and returns its one-word answer (0 for
/// operations that answer nothing).
#[track_caller]
fn runner(op: RunnerOp, args: &[u32]) -> u32 {
    test_harness::call_word(RUNNER.get_task_id(), op as u16, args)
}

/// Asks the assistant for `op(args)`, which must succeed with one word.
#[track_caller]
fn call_assist(op: AssistOp, args: &[u32]) -> u32 {
    let mut r = [0u8; 4];
    let (rc, len) = call(ASSIST.get_task_id(), op as u16, args, &mut r);
    if rc != 0 || len != 4 {
        panic!("assist {op:?}: response code {rc:#x}, length {len}");
    }
    u32::from_le_bytes(r)
}

/// Checks that a SEND to `peer` came back with the dead code of `peer`'s
/// next generation (it died while we waited) and an empty reply.
#[track_caller]
fn expect_dead(rc: u32, len: usize, peer: TaskId) -> Generation {
    let Some(g) = extract_new_generation(rc) else {
        panic!(
            "expected a dead code from task {}, found {rc:#x}",
            peer.index()
        );
    };
    expect_eq!(g, peer.generation().next());
    expect_eq!(len, 0);
    g
}

/// The fault of task `index`, which must have faulted while running.
#[track_caller]
fn faulted_while_running(index: usize) -> FaultInfo {
    match kipc::read_task_status(index) {
        TaskState::Faulted {
            fault,
            original_state: SchedState::Runnable,
        } => fault,
        s => panic!("expected task {index} faulted while running, found {s:?}"),
    }
}

/// Asks the assistant for `op(args)`, which must fault it before it
/// replies, and returns the fault. The assistant stays faulted.
#[track_caller]
fn assist_fault(op: AssistOp, args: &[u32]) -> FaultInfo {
    let assist = ASSIST.get_task_id();
    let (rc, len) = call(assist, op as u16, args, &mut [0; 4]);
    expect_dead(rc, len, assist);
    faulted_while_running(assist.index())
}

#[track_caller]
fn restart_assist() {
    restart_server(ASSIST.index() as usize);
}

/// Restarts the caller and waits until it is parked on us again.
#[track_caller]
fn restart_caller() {
    kipc::reinit_task(tasks::CALLER, true);
    let parked = SchedState::InSend(my_task_id());
    wait_for_state(tasks::CALLER, TaskState::Healthy(parked));
}

/// Receives the caller's next message (it is the only task that may send
/// to us).
#[track_caller]
fn recv_from_caller(buf: &mut [u8]) -> RecvMessage {
    match sys_recv_closed(buf, 0, task_id(tasks::CALLER)) {
        Ok(m) => m,
        Err(e) => panic!("the caller died: {e:?}"),
    }
}

/// Takes the caller's parked `Ready` and answers it with `job(arg)`.
/// Returns the caller's id.
#[track_caller]
fn give_caller(job: CallerJob, arg: u32) -> TaskId {
    let m = recv_from_caller(&mut []);
    expect_eq!(m.operation, CallerOp::Ready as u32);
    let mut out = [0u8; 8];
    sys_reply(m.sender, 0, words(&mut out, &[job as u32, arg]));
    m.sender
}

/// Has the caller lend us its two loans, runs `check` on them while it
/// waits, then lets it go.
fn with_loans(check: impl FnOnce(TaskId)) {
    let caller = give_caller(CallerJob::SendBackWithLoans, 0);
    let m = recv_from_caller(&mut []);
    expect_eq!(m.operation, CallerOp::SendBackWithLoans as u32);
    expect_eq!(m.lease_count, 2);
    check(caller);
    sys_reply(caller, 0, &0u32.to_le_bytes());
}

// ---------------------------------------------------------------------
// IPC

/// A SEND reaches the assistant and its REPLY comes back.
fn test_send() {
    let challenge = 0xDEAD_BEEF_u32;
    let mut reply = [0u8; 4];
    let assist = ASSIST.get_task_id();
    let op = AssistOp::JustReply as u16;
    let (rc, len) = call(assist, op, &[challenge], &mut reply);
    expect_eq!(rc, 0);
    expect_eq!(len, 4);
    expect_eq!(u32::from_le_bytes(reply), !challenge);
}

/// We receive a client's message, see what RECV says about it, and our
/// REPLY reaches the client.
fn test_recv_reply() {
    let challenge = 0xCAFE_F00D_u32;
    let caller = give_caller(CallerJob::SendBack, challenge);
    let mut buf = [0u8; 4];
    let m = recv_from_caller(&mut buf);
    expect_eq!(m.sender, caller);
    expect_eq!(m.operation, CallerOp::SendBack as u32);
    expect_eq!(m.message_len, 4);
    expect_eq!(u32::from_le_bytes(buf), challenge);
    expect_eq!(m.response_capacity, 4);
    expect_eq!(m.lease_count, 0);
    let token = 0x1DE_u32;
    sys_reply(caller, 0, &token.to_le_bytes());

    // The caller kept our reply; have it send it back.
    give_caller(CallerJob::LastReply, 0);
    let m = recv_from_caller(&mut buf);
    expect_eq!(m.operation, CallerOp::LastReply as u32);
    expect_eq!(u32::from_le_bytes(buf), token);
    sys_reply(caller, 0, &[]);
}

/// REPLY_FAULT faults the client with `FromServer(us, reason)`.
fn test_recv_reply_fault() {
    let caller = give_caller(CallerJob::SendBack, 0);
    let m = recv_from_caller(&mut [0; 4]);
    expect_eq!(m.operation, CallerOp::SendBack as u32);
    sys_reply_fault(caller, ReplyFaultReason::AccessViolation);
    let me = my_task_id();
    let state = kipc::read_task_status(caller.index());
    restart_caller();
    expect_eq!(
        state,
        TaskState::Faulted {
            fault: FaultInfo::FromServer(me, ReplyFaultReason::AccessViolation),
            original_state: SchedState::InReply(me),
        }
    );
}

/// POST sets bits the target receives once; a stale id gets the dead
/// code.
fn test_post() {
    let assist = ASSIST.get_task_id();
    expect_eq!(sys_post(assist, ASSIST_POST_MASK), 0);
    expect_eq!(
        call_assist(AssistOp::ReadNotifications, &[]),
        ASSIST_POST_MASK
    );
    // Delivery cleared them.
    expect_eq!(call_assist(AssistOp::ReadNotifications, &[]), 0);
    let stale = assist.next_generation();
    let rc = sys_post(stale, ASSIST_POST_MASK);
    expect_eq!(rc, dead_response_code(assist.generation()));
}

/// After a restart, REFRESH_TASK_ID gives the same index with the next
/// generation.
fn test_refresh_task_id_basic() {
    let initial = ASSIST.get_task_id();
    restart_assist();
    let refreshed = sys_refresh_task_id(initial);
    expect_eq!(refreshed.index(), initial.index());
    expect_eq!(refreshed.generation(), initial.generation().next());
}

/// Refreshing the first index past the table faults the caller.
fn test_refresh_task_id_off_by_one() {
    let fault = assist_fault(AssistOp::RefreshTaskIdOffByOne, &[]);
    restart_assist();
    expect_eq!(fault, FaultInfo::SyscallUsage(UsageError::TaskOutOfRange));
}

/// Refreshing an index far past the table faults the caller.
fn test_refresh_task_id_off_by_many() {
    let fault = assist_fault(AssistOp::RefreshTaskIdOffByMany, &[]);
    restart_assist();
    expect_eq!(fault, FaultInfo::SyscallUsage(UsageError::TaskOutOfRange));
}

// ---------------------------------------------------------------------
// Leases

fn test_borrow_info() {
    with_loans(|caller| {
        let rw = LeaseAttributes::READ | LeaseAttributes::WRITE;
        expect_eq!(
            sys_borrow_info(caller, 0),
            Some(BorrowInfo {
                attributes: rw,
                len: LOAN0_LEN
            })
        );
        expect_eq!(
            sys_borrow_info(caller, 1),
            Some(BorrowInfo {
                attributes: LeaseAttributes::READ,
                len: LOAN1.len()
            })
        );
    });
}

fn test_borrow_read() {
    with_loans(|caller| {
        let mut dest = [0u8; 5];
        expect_eq!(sys_borrow_read(caller, 1, 0, &mut dest), (0, 5));
        expect_eq!(&dest, LOAN1);
        expect_eq!(sys_borrow_read(caller, 1, 2, &mut dest[..3]), (0, 3));
        expect_eq!(&dest[..3], b"llo");
    });
}

fn test_borrow_write() {
    with_loans(|caller| {
        let mut back = [0u8; 16];
        expect_eq!(
            sys_borrow_write(caller, 0, 0, b"hello, world(s)!"),
            (0, 16)
        );
        expect_eq!(sys_borrow_read(caller, 0, 0, &mut back), (0, 16));
        expect_eq!(&back, b"hello, world(s)!");
        expect_eq!(sys_borrow_write(caller, 0, 7, b"llama"), (0, 5));
        expect_eq!(sys_borrow_read(caller, 0, 0, &mut back), (0, 16));
        expect_eq!(&back, b"hello, llama(s)!");
    });
}

/// Borrowing from a task that is not waiting on us answers `DEFECT`
/// (`None` for BORROW_INFO) and does not fault us.
fn test_borrow_without_peer_waiting() {
    let assist = ASSIST.get_task_id();
    wait_for_state(assist.index(), WAITING_FOR_WORK);
    expect_eq!(sys_borrow_info(assist, 0), None);
    let mut buf = [0u8; 4];
    expect_eq!(sys_borrow_read(assist, 0, 0, &mut buf), (DEFECT, 0));
    expect_eq!(sys_borrow_write(assist, 0, 0, &buf), (DEFECT, 0));
    expect_eq!(ASSIST.get_task_id(), assist);
}

// ---------------------------------------------------------------------
// Faults

fn test_fault_badmem() {
    let fault = assist_fault(AssistOp::BadMemory, &[BAD_ADDRESS]);
    restart_assist();
    expect_eq!(
        fault,
        FaultInfo::MemoryAccess {
            address: Some(BAD_ADDRESS),
            source: FaultSource::User,
        }
    );
}

/// Memory that belongs to another task (ours) is not the assistant's.
fn test_fault_foreign_ram() {
    static MINE: AtomicU32 = AtomicU32::new(0);
    let address = MINE.as_ptr() as usize as u32;
    let fault = assist_fault(AssistOp::BadMemory, &[address]);
    restart_assist();
    expect_eq!(
        fault,
        FaultInfo::MemoryAccess {
            address: Some(address),
            source: FaultSource::User,
        }
    );
    expect_eq!(MINE.load(Ordering::Relaxed), 0);
}

/// RAM is never executable.
fn test_fault_execdata() {
    let fault = assist_fault(AssistOp::ExecData, &[]);
    restart_assist();
    expect_eq!(fault, FaultInfo::IllegalText);
}

fn test_fault_stackoverflow() {
    let fault = assist_fault(AssistOp::StackOverflow, &[]);
    restart_assist();
    if !matches!(fault, FaultInfo::StackOverflow { .. }) {
        panic!("expected StackOverflow, found {fault:?}");
    }
}

fn test_fault_illinst() {
    let fault = assist_fault(AssistOp::IllegalInstruction, &[]);
    restart_assist();
    expect_eq!(fault, FaultInfo::IllegalInstruction);
}

fn test_fault_divzero() {
    let fault = assist_fault(AssistOp::DivZero, &[]);
    restart_assist();
    expect_eq!(fault, FaultInfo::DivideByZero);
}

/// Has the assistant make kipc `op` on task `index`, which must fault it
/// with `expected`.
#[track_caller]
fn kipc_fault(op: AssistOp, index: u32, expected: UsageError) {
    let fault = assist_fault(op, &[index]);
    restart_assist();
    expect_eq!(fault, FaultInfo::SyscallUsage(expected));
}

fn test_fault_maxstatus() {
    let op = AssistOp::ReadTaskStatus;
    kipc_fault(op, u32::MAX, UsageError::TaskOutOfRange);
}

fn test_fault_badstatus() {
    let op = AssistOp::ReadTaskStatus;
    kipc_fault(op, tasks::NUM_TASKS as u32, UsageError::TaskOutOfRange);
}

fn test_fault_maxrestart() {
    let op = AssistOp::RestartTask;
    kipc_fault(op, u32::MAX, UsageError::TaskOutOfRange);
}

fn test_fault_badrestart() {
    let op = AssistOp::RestartTask;
    kipc_fault(op, tasks::NUM_TASKS as u32, UsageError::TaskOutOfRange);
}

fn test_fault_maxinjection() {
    let op = AssistOp::FaultTask;
    kipc_fault(op, u32::MAX, UsageError::TaskOutOfRange);
}

fn test_fault_badinjection() {
    let op = AssistOp::FaultTask;
    kipc_fault(op, tasks::NUM_TASKS as u32, UsageError::TaskOutOfRange);
}

/// No one may fault the supervisor.
fn test_fault_superinjection() {
    kipc_fault(AssistOp::FaultTask, 0, UsageError::IllegalTask);
}

/// A task may not fault itself with kipc.
fn test_fault_selfinjection() {
    let me = ASSIST.index() as u32;
    kipc_fault(AssistOp::FaultTask, me, UsageError::IllegalTask);
}

/// A panic after the reply (Hubris's order) leaves the task faulted with
/// `Panic`.
fn test_panic() {
    let assist = ASSIST.get_task_id();
    let (rc, len) = call(assist, AssistOp::Panic as u16, &[0], &mut [0; 4]);
    expect_eq!((rc, len), (0, 4));
    let state = wait_until_faulted(assist.index());
    restart_assist();
    expect_eq!(
        state,
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            original_state: SchedState::Runnable,
        }
    );
}

/// The supervisor can read a panicked task's message, and only while it
/// is panicked.
fn test_read_panic_message() {
    let index = ASSIST.index() as usize;
    let fault = assist_fault(AssistOp::FastPanic, &[]);
    expect_eq!(fault, FaultInfo::Panic);
    let mut buf = [0u8; PANIC_MESSAGE_MAX];
    match kipc::read_panic_message(index, &mut buf) {
        Ok(msg) if msg.ends_with(ASSIST_PANIC_MESSAGE.as_bytes()) => {}
        Ok(msg) => panic!("wrong panic message ({} bytes)", msg.len()),
        Err(e) => panic!("expected a panic message, found {e:?}"),
    }
    restart_assist();
    let r = kipc::read_panic_message(index, &mut buf);
    if !matches!(r, Err(kipc::PanicMessageError::TaskNotPanicked)) {
        panic!("expected TaskNotPanicked, found {r:?}");
    }
}

/// A restarted task starts from its image again: its statics are reset.
fn test_restart() {
    expect_eq!(call_assist(AssistOp::Store, &[0xDEAD_F00D]), 0);
    expect_eq!(call_assist(AssistOp::Store, &[0x1DE]), 0xDEAD_F00D);
    restart_assist();
    expect_eq!(call_assist(AssistOp::Store, &[0xDEAD_F00D]), 0);
}

/// After a restart, a SEND with the old id gets the dead code, which
/// carries the generation a refresh gives.
fn test_restart_taskgen() {
    let assist = ASSIST.get_task_id();
    let fault = assist_fault(AssistOp::FastPanic, &[]);
    expect_eq!(fault, FaultInfo::Panic);
    restart_assist();
    let (rc, len) = call(assist, AssistOp::JustReply as u16, &[0], &mut []);
    let g = expect_dead(rc, len, assist);
    expect_eq!(ASSIST.get_task_id().generation(), g);
}

/// A server that panics mid-call with auto-restart on: the client gets
/// the dead code with the new generation, and the restart that follows
/// keeps it (one death, one generation).
fn test_panic_taskgen() {
    runner(RunnerOp::AutoRestart, &[1]);
    let assist = ASSIST.get_task_id();
    let (rc, len) = call(assist, AssistOp::FastPanic as u16, &[], &mut []);
    let g = expect_dead(rc, len, assist);
    wait_for_state(assist.index(), WAITING_FOR_WORK);
    runner(RunnerOp::AutoRestart, &[0]);
    expect_eq!(ASSIST.get_task_id().generation(), g);
    expect_eq!(call_assist(AssistOp::JustReply, &[1]), !1);
}

/// Every fault posts bit 0 to the supervisor.
fn test_supervisor_fault_notification() {
    runner(RunnerOp::ReadAndClearNotes, &[]);
    expect_eq!(runner(RunnerOp::ReadAndClearNotes, &[]), 0);
    let fault = assist_fault(AssistOp::FastPanic, &[]);
    let notes = runner(RunnerOp::ReadAndClearNotes, &[]);
    restart_assist();
    expect_eq!(fault, FaultInfo::Panic);
    expect_eq!(notes, FAULT_NOTIFICATION);
}

/// READ_TASK_STATUS reports what each task is doing.
fn test_task_status() {
    let me = my_task_id();
    expect_eq!(
        kipc::read_task_status(me.index()),
        TaskState::Healthy(SchedState::Runnable)
    );
    wait_for_state(ASSIST.index() as usize, WAITING_FOR_WORK);
    wait_for_state(FORWARD.index() as usize, WAITING_FOR_WORK);
    // The runner waits in an open receive; the caller in a SEND to us.
    wait_for_state(RUNNER.index() as usize, WAITING_FOR_WORK);
    let parked = TaskState::Healthy(SchedState::InSend(me));
    wait_for_state(tasks::CALLER, parked);
}

/// kipc `fault_task` faults the target with `Injected(us)`, keeping what
/// it was doing.
fn test_task_fault_injection() {
    let index = ASSIST.index() as usize;
    wait_for_state(index, WAITING_FOR_WORK);
    kipc::fault_task(index);
    let state = kipc::read_task_status(index);
    restart_assist();
    expect_eq!(
        state,
        TaskState::Faulted {
            fault: FaultInfo::Injected(my_task_id()),
            original_state: SchedState::InRecv(None),
        }
    );
}

// ---------------------------------------------------------------------
// Timers and IRQs

/// The clock moves (a hang here is caught by the runner's timeout).
fn test_timer_advance() {
    let start = sys_get_timer().now;
    while sys_get_timer().now == start {}
}

/// A timer in the future fires once, not early.
fn test_timer_notify() {
    let deadline = sys_get_timer().now + 2;
    sys_set_timer(Some(deadline), notifications::TIMER_MASK);
    expect_eq!(sys_get_timer().deadline, Some(deadline));
    let fired = sys_recv_notification(notifications::TIMER_MASK);
    expect_eq!(fired, notifications::TIMER_MASK);
    let t = sys_get_timer();
    if t.now < deadline {
        panic!("woke at {} before the deadline {deadline}", t.now);
    }
    expect_eq!(t.deadline, None);
}

/// A deadline already past fires at once.
fn test_timer_notify_past() {
    let past = sys_get_timer().now.saturating_sub(1);
    sys_set_timer(Some(past), notifications::TIMER_MASK);
    let fired = sys_recv_notification(notifications::TIMER_MASK);
    expect_eq!(fired, notifications::TIMER_MASK);
}

const IRQ: u32 = notifications::IRQ_MASK;

/// Drops any stale IRQ notification left by an earlier case.
fn drain_irq() {
    poll_notifications(IRQ, notifications::POKE_MASK);
}

/// An enabled IRQ arrives as its notification.
fn test_irq_notif() {
    drain_irq();
    sys_irq_control(IRQ, IrqControlFlags::ENABLED);
    runner(RunnerOp::SoftIrq, &[IRQ]);
    expect_eq!(sys_recv_notification(IRQ), IRQ);
}

/// IRQ_STATUS through a disabled IRQ going pending, firing when enabled,
/// and an enabled IRQ firing at once (and disabling itself).
fn test_irq_status() {
    sys_irq_control(IRQ, IrqControlFlags::CLEAR_PENDING);
    drain_irq();
    expect_eq!(sys_irq_status(IRQ), IrqStatus::default());
    runner(RunnerOp::SoftIrq, &[IRQ]);
    expect_eq!(sys_irq_status(IRQ), IrqStatus::PENDING);
    sys_irq_control(IRQ, IrqControlFlags::ENABLED);
    expect_eq!(sys_irq_status(IRQ), IrqStatus::POSTED);
    expect_eq!(sys_recv_notification(IRQ), IRQ);
    expect_eq!(sys_irq_status(IRQ), IrqStatus::default());
    sys_irq_control(IRQ, IrqControlFlags::ENABLED);
    expect_eq!(sys_irq_status(IRQ), IrqStatus::ENABLED);
    runner(RunnerOp::SoftIrq, &[IRQ]);
    expect_eq!(sys_irq_status(IRQ), IrqStatus::POSTED);
    expect_eq!(sys_recv_notification(IRQ), IRQ);
}

// ---------------------------------------------------------------------
// Leasehold: capabilities

/// The kernel's RAM (mps2-an386: its first 512 KiB of SSRAM2) is outside
/// every task's regions: the MPU refuses it (MemManage).
#[cfg(target_arch = "arm")]
fn test_fault_kernel_ram() {
    const KERNEL_RAM: u32 = 0x2000_0000;
    let fault = assist_fault(AssistOp::BadMemory, &[KERNEL_RAM]);
    restart_assist();
    expect_eq!(
        fault,
        FaultInfo::MemoryAccess {
            address: Some(KERNEL_RAM),
            source: FaultSource::User,
        }
    );
}

/// A memory-mapped device no task was given (the console UART): the
/// MPU refuses it before the bus sees the access.
#[cfg(target_arch = "arm")]
fn test_fault_ungranted_device() {
    const UART0: u32 = 0x4000_4000;
    let fault = assist_fault(AssistOp::BadMemory, &[UART0]);
    restart_assist();
    expect_eq!(
        fault,
        FaultInfo::MemoryAccess {
            address: Some(UART0),
            source: FaultSource::User,
        }
    );
}

/// Writing MPU_CTRL (to turn protection off) from unprivileged code is a
/// precise BusFault at that address: a task cannot unconfine itself.
#[cfg(target_arch = "arm")]
fn test_fault_mpu_register_write() {
    const MPU_CTRL: u32 = 0xE000_ED94;
    let fault = assist_fault(AssistOp::BadMemory, &[MPU_CTRL]);
    restart_assist();
    expect_eq!(
        fault,
        FaultInfo::BusError {
            address: Some(MPU_CTRL),
            source: FaultSource::User,
        }
    );
    // Protection is still on: the next stray write faults as before.
    test_fault_badmem();
}

/// A Linux syscall kills the task with `HostSyscall`, naming the call and
/// the address after it.
#[cfg(target_arch = "x86_64")]
fn test_forbidden_host_syscall() {
    let pc = call_assist(AssistOp::HostSyscallPc, &[]);
    let fault = assist_fault(AssistOp::HostSyscall, &[]);
    restart_assist();
    expect_eq!(fault, FaultInfo::HostSyscall { number: 39, pc });
}

/// A SEND to a task outside the sender's task-slots faults the sender.
fn test_send_outside_task_slots() {
    let runner = RUNNER.index() as u32;
    let fault = assist_fault(AssistOp::SendOutsideSlots, &[runner]);
    restart_assist();
    expect_eq!(fault, FaultInfo::SyscallUsage(UsageError::NotInTaskSlots));
}

/// PERIPHERAL_IO on a peripheral the task does not `use` faults it.
fn test_peripheral_without_grant() {
    let fwd = FORWARD.get_task_id();
    let args = [peripherals::TESTDEV as u32, 0];
    let op = ForwardOp::PeripheralRead as u16;
    let (rc, len) = call(fwd, op, &args, &mut [0; 4]);
    expect_dead(rc, len, fwd);
    let fault = faulted_while_running(fwd.index());
    restart_server(fwd.index());
    expect_eq!(
        fault,
        FaultInfo::SyscallUsage(UsageError::NoPeripheralGrant)
    );
}

/// Once the peripheral's manager (us) revokes the grant, the next access
/// faults the driver; restoring it lets a restarted driver in again.
fn test_peripheral_grant_revoked() {
    let dev = peripherals::TESTDEV as u32;
    call_assist(AssistOp::PeripheralWrite, &[dev, 3, 0x1234]);
    expect_eq!(call_assist(AssistOp::PeripheralRead, &[dev, 3]), 0x1234);
    kipc::revoke_peripheral(peripherals::TESTDEV);
    let fault = assist_fault(AssistOp::PeripheralRead, &[dev, 3]);
    kipc::restore_peripheral(peripherals::TESTDEV);
    restart_assist();
    expect_eq!(
        fault,
        FaultInfo::SyscallUsage(UsageError::PeripheralGrantRevoked)
    );
    expect_eq!(call_assist(AssistOp::PeripheralRead, &[dev, 3]), 0x1234);
}

// ---------------------------------------------------------------------
// Leasehold: faults release peers, forwarded leases, injection

/// A fault releases a client waiting for the reply and one waiting to
/// send, at once, while the supervisor still holds the server faulted.
fn test_fault_unblocks_peers() {
    // Waiting for the reply.
    let assist = ASSIST.get_task_id();
    let (rc, len) = call(assist, AssistOp::FastPanic as u16, &[], &mut []);
    let g = expect_dead(rc, len, assist);
    hl::sleep_for(20);
    let held = faulted_while_running(assist.index());
    expect_eq!(held, FaultInfo::Panic);
    // The new generation is visible before any restart.
    expect_eq!(ASSIST.get_task_id().generation(), g);
    restart_assist();

    // Waiting to send: the assistant replies, sleeps 50 ms (not
    // receiving), then panics.
    expect_eq!(call_assist(AssistOp::PanicLater, &[50]), 0);
    let assist = ASSIST.get_task_id();
    let (rc, len) = call(assist, AssistOp::JustReply as u16, &[0], &mut []);
    expect_dead(rc, len, assist);
    let fault = faulted_while_running(assist.index());
    restart_assist();
    expect_eq!(fault, FaultInfo::Panic);
}

/// A server forwards part of our lease to another, which reads exactly
/// that part, with no more rights than we gave.
fn test_lease_forward_read() {
    let data = *b"0123456789abcdef";
    let mut msg = [0u8; 8];
    let mut answer = [0u8; 8 + 64];
    let (rc, len) = sys_send(
        ASSIST.get_task_id(),
        AssistOp::ForwardRead as u16,
        words(&mut msg, &[4, 8]),
        &mut answer,
        &[Lease::read_only(&data)],
    );
    expect_eq!((rc, len), (0, 16));
    expect_eq!(word(&answer, 0), LeaseAttributes::READ.0);
    expect_eq!(word(&answer, 1), 8);
    expect_eq!(&answer[8..16], &data[4..12]);
}

/// Forwarding a read-only lease as read-write faults the forwarder.
fn test_lease_forward_cannot_widen() {
    let data = [0u8; 8];
    let assist = ASSIST.get_task_id();
    let (rc, len) = sys_send(
        assist,
        AssistOp::ForwardWiden as u16,
        &[],
        &mut [0; 4],
        &[Lease::read_only(&data)],
    );
    expect_dead(rc, len, assist);
    let fault = faulted_while_running(assist.index());
    restart_assist();
    expect_eq!(fault, FaultInfo::SyscallUsage(UsageError::BadLeaseForward));
}

/// The caller lends to the assistant, which forwards to `forward`; when
/// the caller dies, `forward`'s next borrow finds the lease revoked
/// though the assistant is still waiting on it.
fn test_lease_forward_revoked_on_client_death() {
    let caller = give_caller(CallerJob::LendToAssist, 0);
    let assist = ASSIST.get_task_id();
    let fwd = FORWARD.get_task_id();
    // `forward` has borrowed once and waits for our go.
    let holding = SchedState::InRecv(Some(TaskId::KERNEL));
    wait_for_state(fwd.index(), TaskState::Healthy(holding));
    let chain = [
        kipc::read_task_status(assist.index()),
        kipc::read_task_status(caller.index()),
    ];
    kipc::fault_task(caller.index());
    expect_eq!(sys_post(fwd, FORWARD_GO_MASK), 0);
    let mut buf = [0u8; HoldReport::SIZE];
    let (rc, len) = call(fwd, ForwardOp::Report as u16, &[], &mut buf);
    restart_caller();
    expect_eq!(chain[0], TaskState::Healthy(SchedState::InReply(fwd)));
    expect_eq!(chain[1], TaskState::Healthy(SchedState::InReply(assist)));
    expect_eq!((rc, len), (0, HoldReport::SIZE));
    let r = HoldReport::from_bytes(&buf);
    expect_eq!(r.before, (0, CALLER_LEASE_DATA.len() as u32));
    expect_eq!(&r.data, CALLER_LEASE_DATA);
    expect_eq!(r.after, (DEFECT, 0));
    // The forwarder is still waiting on the borrower, so the lease is still
    // described; what the client's death revoked is its data.
    expect_eq!(r.info_after, true);
    // The forwarder was not blamed.
    wait_for_state(assist.index(), WAITING_FOR_WORK);
}

// ---------------------------------------------------------------------
// Forged and stale forwarded leases (issue 16): the assistant forwards
// to `forward` whatever lease we name, and `forward` borrows through it.

/// What came back from a forged forward: the response code, the reply
/// length and the reply (`forward`'s BORROW_INFO words, then the bytes),
/// and the assistant's id as we sent to it.
type ForwardAnswer = (u32, usize, [u8; 8 + 64], TaskId);

/// Has the assistant forward lease `lease` of `who` ([`lender`]),
/// `len` bytes at `offset`, read-only, with `leases` lent to it by us.
fn forward_forged(
    who: u32,
    lease: u32,
    offset: u32,
    len: u32,
    leases: &[Lease<'_>],
) -> ForwardAnswer {
    let mut msg = [0u8; 16];
    let mut answer = [0u8; 8 + 64];
    let assist = ASSIST.get_task_id();
    let (rc, n) = sys_send(
        assist,
        AssistOp::ForwardForged as u16,
        words(&mut msg, &[who, lease, offset, len]),
        &mut answer,
        leases,
    );
    (rc, n, answer, assist)
}

/// `forward` was refused (DEFECT), copied nothing, and blamed nobody.
#[track_caller]
fn refused_quietly(answer: ForwardAnswer, len: u32) {
    let (rc, n, bytes, _) = answer;
    expect_eq!((rc, n), (DEFECT, 8));
    expect_eq!(word(&bytes, 0), LeaseAttributes::READ.0);
    expect_eq!(word(&bytes, 1), len);
    expect_eq!(&bytes[8..], &[0u8; 64][..]);
    wait_for_state(ASSIST.index() as usize, WAITING_FOR_WORK);
    wait_for_state(FORWARD.index() as usize, WAITING_FOR_WORK);
}

/// The forwarder's table is its own mistake: the SEND that carries the
/// bad forward faults it, and nothing reaches `forward`.
#[track_caller]
fn forwarder_blamed(answer: ForwardAnswer) {
    let (rc, n, _, assist) = answer;
    expect_dead(rc, n, assist);
    let fault = faulted_while_running(ASSIST.index() as usize);
    restart_assist();
    expect_eq!(fault, FaultInfo::SyscallUsage(UsageError::BadLeaseForward));
    wait_for_state(FORWARD.index() as usize, WAITING_FOR_WORK);
}

/// A forward naming a task that is alive and lending, but not to the
/// forwarder (the caller lends to us; the assistant names it anyway):
/// every link of a chain must be waiting on the next, so `forward` gets
/// DEFECT with nothing copied, and the caller still waits on us.
fn test_lease_forward_from_task_not_lending() {
    with_loans(|caller| {
        let len = LOAN1.len() as u32;
        refused_quietly(forward_forged(lender::CALLER, 1, 0, len, &[]), len);
        let waiting = SchedState::InReply(my_task_id());
        expect_eq!(
            kipc::read_task_status(caller.index()),
            TaskState::Healthy(waiting)
        );
    });
}

/// A forward naming the right lender at the wrong generation is a lease
/// of a task that no longer (or never) lent it: DEFECT, nothing copied.
fn test_lease_forward_wrong_generation() {
    let data = *b"0123456789abcdef";
    let who = lender::SENDER_WRONG_GENERATION;
    let leases = [Lease::read_only(&data)];
    refused_quietly(forward_forged(who, 0, 0, 16, &leases), 16);
}

/// A forward of a lease index past what its lender lent.
fn test_lease_forward_index_past_count() {
    let data = *b"0123456789abcdef";
    let leases = [Lease::read_only(&data)];
    forwarder_blamed(forward_forged(lender::SENDER, 1, 0, 4, &leases));
}

/// A forward whose window runs one byte past the lease it passes on.
fn test_lease_forward_window_past_end() {
    let data = *b"0123456789abcdef";
    let leases = [Lease::read_only(&data)];
    forwarder_blamed(forward_forged(lender::SENDER, 0, 4, 13, &leases));
}

/// A task cannot forward a lease from itself (it would lend its own
/// memory with rights nobody checked).
fn test_lease_forward_from_itself() {
    let data = *b"0123456789abcdef";
    let leases = [Lease::read_only(&data)];
    forwarder_blamed(forward_forged(lender::ITSELF, 0, 0, 4, &leases));
}

// ---------------------------------------------------------------------
// PERIPHERAL_IO WriteFromLease: the device reads lent memory in place,
// within the lease and only with its READ right. The test device keeps
// a bulk write's length in register 0 and its bytes from register 1.
// Hosted only: the Cortex-M test device has no bulk write.
#[cfg(target_arch = "x86_64")]
use lease_streaming::*;

#[cfg(target_arch = "x86_64")]
mod lease_streaming {
    use super::*;

    /// What register 0 holds while no bulk write has happened.
    const NO_BULK: u32 = 0xB1B1_B1B1;

    /// Clears the test device's record of the last bulk write.
    fn forget_bulk() {
        sys_write_register(peripherals::TESTDEV, 0, NO_BULK);
    }

    /// The test device's record: (length, first bytes).
    fn device_bulk() -> (u32, [u8; 60]) {
        let mut bytes = [0u8; 60];
        for (r, chunk) in bytes.chunks_exact_mut(4).enumerate() {
            let word = sys_read_register(peripherals::TESTDEV, r as u32 + 1);
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        (sys_read_register(peripherals::TESTDEV, 0), bytes)
    }

    /// Has the assistant stream `len` bytes at `offset` of lease `lease` of
    /// `who` ([`lender`]) to the test device, with `leases` lent by us:
    /// (response code, reply length, the assistant's PERIPHERAL_IO code) and
    /// the assistant's id as we sent to it.
    fn stream_from_lease(
        who: u32,
        lease: u32,
        offset: u32,
        len: u32,
        leases: &[Lease<'_>],
    ) -> Streamed {
        let mut msg = [0u8; 20];
        let mut reply = [0u8; 4];
        let args = [peripherals::TESTDEV as u32, who, lease, offset, len];
        let assist = ASSIST.get_task_id();
        let (rc, n) = sys_send(
            assist,
            AssistOp::StreamFromLease as u16,
            words(&mut msg, &args),
            &mut reply,
            leases,
        );
        Streamed {
            sent: (rc, n, u32::from_le_bytes(reply)),
            assist,
        }
    }

    /// What [`stream_from_lease`] returns.
    struct Streamed {
        sent: (u32, usize, u32),
        assist: TaskId,
    }

    /// The assistant must have been faulted with `usage` before the device
    /// saw anything.
    #[track_caller]
    fn streamer_faulted(streamed: Streamed, usage: UsageError) {
        let (rc, n, _) = streamed.sent;
        expect_dead(rc, n, streamed.assist);
        let fault = faulted_while_running(ASSIST.index() as usize);
        restart_assist();
        expect_eq!(fault, FaultInfo::SyscallUsage(usage));
        expect_eq!(device_bulk().0, NO_BULK);
    }

    /// A window that ends exactly at the lease's end reaches the device
    /// byte for byte; an empty one at the very end is done without it.
    pub(crate) fn test_peripheral_from_lease() {
        let data = *b"0123456789abcdef";
        forget_bulk();
        let leases = [Lease::read_only(&data)];
        let sent = stream_from_lease(lender::SENDER, 0, 4, 12, &leases);
        expect_eq!(sent.sent, (0, 4, 0));
        let (len, bytes) = device_bulk();
        expect_eq!(len, 12);
        expect_eq!(&bytes[..12], &data[4..]);
        expect_eq!(&bytes[12..], &[0u8; 48][..]);
        forget_bulk();
        let leases = [Lease::read_only(&data)];
        let sent = stream_from_lease(lender::SENDER, 0, 16, 0, &leases);
        expect_eq!(sent.sent, (0, 4, 0));
        expect_eq!(device_bulk().0, NO_BULK);
    }

    /// One byte past the window is the streamer's mistake: it is faulted and
    /// the device reads nothing.
    pub(crate) fn test_peripheral_from_lease_past_window() {
        let data = *b"0123456789abcdef";
        forget_bulk();
        let leases = [Lease::read_only(&data)];
        let sent = stream_from_lease(lender::SENDER, 0, 4, 13, &leases);
        streamer_faulted(sent, UsageError::OffsetOutOfRange);
    }

    /// An offset past the lease, and a lease index past those lent.
    pub(crate) fn test_peripheral_from_lease_offset_past_end() {
        let data = *b"0123456789abcdef";
        forget_bulk();
        let leases = [Lease::read_only(&data)];
        let sent = stream_from_lease(lender::SENDER, 0, 17, 0, &leases);
        streamer_faulted(sent, UsageError::OffsetOutOfRange);
        let leases = [Lease::read_only(&data)];
        let sent = stream_from_lease(lender::SENDER, 1, 0, 1, &leases);
        streamer_faulted(sent, UsageError::LeaseOutOfRange);
    }

    /// The device reads the lease, so it needs the READ right: a write-only
    /// lease is refused with DEFECT (the lender gave no more), and the
    /// device reads nothing.
    pub(crate) fn test_peripheral_from_lease_without_read_right() {
        let mut data = *b"0123456789abcdef";
        forget_bulk();
        let leases = [Lease::write_only(&mut data)];
        let sent = stream_from_lease(lender::SENDER, 0, 0, 16, &leases);
        expect_eq!(sent.sent, (0, 4, DEFECT));
        expect_eq!(device_bulk().0, NO_BULK);
    }

    /// A lease of a task that lends, but to us and not to the streamer.
    pub(crate) fn test_peripheral_from_lease_not_lent_to_us() {
        forget_bulk();
        with_loans(|_| {
            let sent = stream_from_lease(lender::CALLER, 1, 0, 5, &[]);
            expect_eq!(sent.sent, (0, 4, DEFECT));
        });
        expect_eq!(device_bulk().0, NO_BULK);
    }

    /// Through a forward (the caller's LOAN1 window "ell", forwarded by us to
    /// the streamer): the device gets exactly the window, and a byte more
    /// (still inside the caller's lease) is past what was forwarded.
    pub(crate) fn test_peripheral_from_forwarded_lease() {
        forget_bulk();
        with_loans(|caller| {
            let window =
                [Lease::forwarded(caller, 1, LeaseAttributes::READ, 1, 3)];
            let sent = stream_from_lease(lender::SENDER, 0, 0, 3, &window);
            expect_eq!(sent.sent, (0, 4, 0));
            let (len, bytes) = device_bulk();
            expect_eq!(len, 3);
            expect_eq!(&bytes[..3], &LOAN1[1..4]);
            forget_bulk();
            let window =
                [Lease::forwarded(caller, 1, LeaseAttributes::READ, 1, 3)];
            let sent = stream_from_lease(lender::SENDER, 0, 0, 4, &window);
            streamer_faulted(sent, UsageError::OffsetOutOfRange);
        });
    }
}

/// An injection armed for the N-th syscall fires at exactly that one; a
/// disarmed one never fires.
fn test_inject_at_nth_syscall() {
    let assist = ASSIST.get_task_id();
    let index = assist.index();
    wait_for_state(index, WAITING_FOR_WORK);
    let before = kipc::read_syscall_count(index);
    kipc::inject_at_syscall(index, 3, InjectionAction::Fault);
    let op = AssistOp::CountSyscalls as u16;
    let (rc, len) = call(assist, op, &[5], &mut [0; 4]);
    expect_dead(rc, len, assist);
    let fault = faulted_while_running(index);
    let count = kipc::read_syscall_count(index);
    restart_assist();
    expect_eq!(fault, FaultInfo::Injected(my_task_id()));
    expect_eq!(count, before + 3);

    kipc::inject_at_syscall(index, 2, InjectionAction::Fault);
    kipc::inject_at_syscall(index, 0, InjectionAction::Fault);
    expect_eq!(call_assist(AssistOp::CountSyscalls, &[5]), 5);
}
