//! What the well-formed IPC property test checks after each step, and
//! the coverage it counts.

use super::*;

/// How often each interesting state was reached, over the whole run.
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    pub(crate) steps: u64,
    /// Steps after which some task was blocked in SEND.
    pub(crate) blocked_in_send: u64,
    /// ... blocked waiting for a reply.
    pub(crate) blocked_in_reply: u64,
    /// ... blocked in a closed RECV from a task.
    pub(crate) closed_recv: u64,
    /// SENDs that carried a forwarded lease.
    pub(crate) forwards_sent: u64,
    /// Steps after which a forwarded lease was live: its forwarder
    /// waiting on the borrower, its original lender on the forwarder.
    pub(crate) live_forwards: u64,
    /// Borrows that copied through a forwarded lease (memory of a task
    /// other than the direct lender).
    pub(crate) forwarded_borrows: u64,
    /// Borrows that copied directly.
    pub(crate) direct_borrows: u64,
    /// Borrows refused with DEFECT.
    pub(crate) defects: u64,
    /// Faults or restarts that released a task blocked in SEND to the
    /// victim / waiting for its reply / in a closed RECV from it.
    pub(crate) released_senders: u64,
    pub(crate) released_reply_waiters: u64,
    pub(crate) released_closed_recvs: u64,
}

/// The task waiting for `task`'s reply, if any (the first in table order).
pub(crate) fn waiting_on(
    k: &Kernel<'_, FakePlatform>,
    task: usize,
) -> Option<usize> {
    let me = k.task_id(task);
    (1..4).find(|&t| k.tasks[t].sched() == Some(SchedState::InReply(me)))
}

/// Whether task `t` waits on someone with a forwarded lease 0 whose
/// source still waits on `t`.
pub(crate) fn live_forward(k: &Kernel<'_, FakePlatform>, t: usize) -> bool {
    let Some(SchedState::InReply(_)) = k.tasks[t].sched() else {
        return false;
    };
    let (table, count) = k.tasks[t].save.lease_table();
    if count == 0 {
        return false;
    }
    let at = Location {
        task: t,
        address: table,
    };
    let mut raw = [0u8; 12];
    if k.platform.read(at, &mut raw).is_err() {
        return false;
    }
    let entry = ULease {
        attributes: u32::from_le_bytes(raw[..4].try_into().unwrap()),
        base_address: 0,
        length: 0,
    };
    if !entry.is_forwarded() {
        return false;
    }
    let (source, _) = entry.forward_source();
    let me = k.task_id(t);
    source.index() < 4
        && k.tasks[source.index()].generation() == source.generation()
        && k.tasks[source.index()].sched() == Some(SchedState::InReply(me))
}

/// The peer a blocked task names, and how it is blocked.
pub(crate) fn blocked_on(t: &Task) -> Option<(TaskId, &'static str)> {
    match t.sched() {
        Some(SchedState::InSend(p)) => Some((p, "send")),
        Some(SchedState::InReply(p)) => Some((p, "reply")),
        Some(SchedState::InRecv(Some(p))) if p != TaskId::KERNEL => {
            Some((p, "closed recv"))
        }
        _ => None,
    }
}

/// The invariants after each step: see the asserts.
#[allow(clippy::needless_range_loop)] // tasks are indexed by number in the kernel too
pub(crate) fn check(
    k: &Kernel<'_, FakePlatform>,
    op: &Op,
    before: &[Option<SchedState>],
    before_gen: &[Generation],
    borrower: Option<usize>,
    cov: &mut Coverage,
) -> Result<(), TestCaseError> {
    no_one_blocked_on_the_dead(k.tasks.as_slice())
        .map_err(TestCaseError::fail)?;
    prop_assert!(k.platform.refused.is_empty(), "{:?}", k.platform.refused);
    for t in 0..4 {
        let now = k.tasks[t].generation();
        prop_assert!(now == before_gen[t] || now == before_gen[t].next());
        // Nobody waits in SEND on a task ready to receive from it.
        if let Some(SchedState::InSend(peer)) = k.tasks[t].sched() {
            let me = k.task_id(t);
            let ready = matches!(
                k.tasks[peer.index()].sched(),
                Some(SchedState::InRecv(None))
            ) || k.tasks[peer.index()].sched()
                == Some(SchedState::InRecv(Some(me)));
            prop_assert!(!ready, "task {t} waits to send to ready {peer:?}");
        }
    }
    // A borrow only touched lenders blocked (through a chain) on it.
    if let Some(b) = borrower {
        for (src, dst) in &k.platform.copies {
            for other in [src.task, dst.task] {
                prop_assert!(
                    other == b || reaches(k.tasks.as_slice(), other, b, 8),
                    "borrow by {b} touched {other}"
                );
            }
        }
    }
    if let Op::Fault { task: victim } | Op::Reinit { task: victim, .. } = *op {
        check_death(k, victim, before, cov)?;
    }
    cov.steps += 1;
    let any = |f: &dyn Fn(&Task) -> bool| k.tasks.iter().any(f);
    let blocked = |kind: &'static str| {
        move |t: &Task| blocked_on(t).is_some_and(|(_, k)| k == kind)
    };
    cov.blocked_in_send += u64::from(any(&blocked("send")));
    cov.blocked_in_reply += u64::from(any(&blocked("reply")));
    cov.closed_recv += u64::from(any(&blocked("closed recv")));
    cov.live_forwards += u64::from((1..4).any(|t| live_forward(k, t)));
    Ok(())
}

/// A death releases exactly the tasks blocked on the victim, each with
/// the dead code, and no one else.
#[allow(clippy::needless_range_loop)] // tasks are indexed by number in the kernel too
fn check_death(
    k: &Kernel<'_, FakePlatform>,
    victim: usize,
    before: &[Option<SchedState>],
    cov: &mut Coverage,
) -> Result<(), TestCaseError> {
    for t in 1..4 {
        if t == victim {
            continue;
        }
        let was = before[t];
        let named = match was {
            Some(SchedState::InSend(p)) => Some((p, 0)),
            Some(SchedState::InReply(p)) => Some((p, 1)),
            Some(SchedState::InRecv(Some(p))) => Some((p, 2)),
            _ => None,
        };
        match named {
            Some((p, kind)) if p.index() == victim => {
                prop_assert_eq!(k.tasks[t].sched(), Some(SchedState::Runnable));
                let dead = dead_response_code(k.tasks[victim].generation());
                prop_assert_eq!(k.tasks[t].save.rets[0], dead);
                match kind {
                    0 => cov.released_senders += 1,
                    1 => cov.released_reply_waiters += 1,
                    _ => cov.released_closed_recvs += 1,
                }
            }
            _ => prop_assert_eq!(
                k.tasks[t].sched(),
                was,
                "task {} not blocked on victim {} moved",
                t,
                victim
            ),
        }
    }
    Ok(())
}
