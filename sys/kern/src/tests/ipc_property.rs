//! A property test of well-formed IPC: random interleavings of SEND,
//! RECV (open and closed), REPLY and BORROW that a real task could make
//! (targets in the caller's task slots, buffers in its own RAM, valid
//! lease tables, leases forwarded from a client actually waiting), mixed
//! with faults and restarts.
//!
//! The random-garbage test in `random_syscalls.rs` never left a task blocked in
//! SEND, in REPLY or in a closed RECV (issue 16), so its invariants held
//! vacuously. This one counts how often each state was reached and fails
//! if any count is below its floor; the run is seeded, so the counts are
//! the same every time (`--nocapture` prints them).

use super::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;

mod invariants;
use invariants::*;

/// What a task does next. Indices are into the three non-supervisor
/// tasks of `system()`; every choice is reduced to one the task may make.
#[derive(Clone, Debug)]
enum Op {
    /// Task 1 or 2 sends to its `slot`-th task slot with `leases` leases
    /// (forwarding its waiting client's lease 0 if `forward` and it has
    /// one).
    Send {
        from: usize,
        slot: usize,
        leases: u32,
        forward: bool,
    },
    /// Open, or closed on task `from`.
    Recv {
        task: usize,
        from: Option<usize>,
    },
    /// Replies `len` bytes to a task waiting on us (or to `fallback`,
    /// which the kernel drops if it is not waiting).
    Reply {
        task: usize,
        fallback: usize,
        len: u32,
    },
    /// Borrows from a task waiting on us (or `fallback`).
    Borrow {
        task: usize,
        fallback: usize,
        index: u32,
        offset: u32,
        len: u32,
        write: bool,
    },
    Fault {
        task: usize,
    },
    Reinit {
        task: usize,
        start: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let task = 1usize..4;
    prop_oneof![
        6 => (1usize..3, 0usize..2, 0u32..3, prop::bool::weighted(0.8))
            .prop_map(|(from, slot, leases, forward)| Op::Send { from, slot, leases, forward }),
        // Servers 1 and 3 receive (nobody sends to 2), mostly open.
        5 => (prop::sample::select(vec![1usize, 3]), prop::option::weighted(0.3, 1usize..3))
            .prop_map(|(task, from)| Op::Recv { task, from }),
        2 => (task.clone(), 1usize..4, 0u32..17)
            .prop_map(|(task, fallback, len)| Op::Reply { task, fallback, len }),
        6 => (task.clone(), 1usize..4, 0u32..3, 0u32..0x48, 0u32..0x48, any::<bool>())
            .prop_map(|(task, fallback, index, offset, len, write)| {
                Op::Borrow { task, fallback, index, offset, len, write }
            }),
        1 => task.clone().prop_map(|task| Op::Fault { task }),
        1 => (task, any::<bool>()).prop_map(|(task, start)| Op::Reinit { task, start }),
    ]
}

/// Task `from`'s lease table at RAM+0x300: `count` read-write leases of
/// 0x40 bytes at 0x600, 0x640, ..., or as lease 0 a read forward of its
/// waiting client's lease 0.
fn write_lease_table(
    k: &mut Kernel<'_, FakePlatform>,
    from: usize,
    count: u32,
    forward: bool,
    cov: &mut Coverage,
) {
    let rw = LeaseAttributes::READ | LeaseAttributes::WRITE;
    for i in 0..count {
        let base = ram_base(from) + 0x600 + 0x40 * i;
        put_lease(k, from, i, ULease::new(rw, base, 0x40));
    }
    if count == 0 || !forward {
        return;
    }
    let Some(client) = waiting_on(k, from) else {
        return;
    };
    let (_, leases) = k.tasks[client].save.lease_table();
    if leases == 0 {
        return;
    }
    let id = k.task_id(client);
    // Every lease these tasks lend is 0x40 bytes read-write.
    put_lease(
        k,
        from,
        0,
        ULease::forwarded(id, 0, LeaseAttributes::READ, 8, 0x30),
    );
    cov.forwards_sent += 1;
}

/// `op` as made by a running task: the one it names, else the next that
/// may make it (SEND: 1 or 2; RECV: 1 or 3; the rest: 1, 2 or 3).
fn runnable(k: &Kernel<'_, FakePlatform>, op: &Op) -> Option<Op> {
    let running = |t: usize| k.tasks[t].sched() == Some(SchedState::Runnable);
    let pick = |named: usize, may: &[usize]| {
        let start = may.iter().position(|&t| t == named).unwrap_or(0);
        (0..may.len())
            .map(|i| may[(start + i) % may.len()])
            .find(|&t| running(t))
    };
    let mut op = op.clone();
    match &mut op {
        Op::Send { from, .. } => *from = pick(*from, &[1, 2])?,
        Op::Recv { task, .. } => *task = pick(*task, &[1, 3])?,
        Op::Reply { task, .. } | Op::Borrow { task, .. } => {
            *task = pick(*task, &[1, 2, 3])?
        }
        Op::Fault { .. } | Op::Reinit { .. } => {}
    }
    Some(op)
}

fn apply(k: &mut Kernel<'_, FakePlatform>, op: &Op, cov: &mut Coverage) {
    match *op {
        Op::Send {
            from,
            slot,
            leases,
            forward,
        } => {
            let slots = k.tasks[from].desc.slots;
            let to = usize::from(slots[slot % slots.len()]);
            write_lease_table(k, from, leases, forward, cov);
            send(k, from, to, leases);
        }
        Op::Recv { task, from } => {
            let b = ram_base(task);
            let filter = from.map_or(0, |f| RECV_CLOSED | id(k, f));
            call(
                k,
                task,
                Sysnum::Recv,
                [b + 0x400, 64, 0, filter, 0, 0, 0, 0],
            );
        }
        Op::Reply {
            task,
            fallback,
            len,
        } => {
            let peer = waiting_on(k, task).unwrap_or(fallback);
            let b = ram_base(task);
            let peer = id(k, peer);
            call(
                k,
                task,
                Sysnum::Reply,
                [peer, 0, b + 0x500, len, 0, 0, 0, 0],
            );
        }
        Op::Borrow { .. } => apply_borrow(k, op, cov),
        Op::Fault { task } => {
            k.fault(task, FaultInfo::Panic);
        }
        Op::Reinit { task, start } => {
            k.reinit(task, start);
        }
    }
}

/// A BORROW by `op`'s task, counting direct and forwarded borrows and
/// DEFECTs for the coverage floors.
fn apply_borrow(k: &mut Kernel<'_, FakePlatform>, op: &Op, cov: &mut Coverage) {
    let Op::Borrow {
        task,
        fallback,
        index,
        offset,
        len,
        write,
    } = *op
    else {
        return;
    };
    // A lender waiting on us is asked about a lease it lent (at
    // an offset inside it, mostly); anyone else, as generated.
    let (lender, index, offset) = match waiting_on(k, task) {
        Some(lender) => {
            let (_, count) = k.tasks[lender].save.lease_table();
            (lender, index % count.max(1), offset % 0x31)
        }
        None => (fallback, index, offset),
    };
    let nr = if write {
        Sysnum::BorrowWrite
    } else {
        Sysnum::BorrowRead
    };
    k.platform.copies.clear();
    let b = ram_base(task);
    let lender_id = id(k, lender);
    let args = [lender_id, index, offset, b + 0x700, len, 0, 0, 0];
    call(k, task, nr, args);
    let rets = k.tasks[task].save.rets;
    if k.tasks[task].is_faulted() {
        return;
    }
    if rets[0] == DEFECT {
        cov.defects += 1;
    }
    for (src, dst) in &k.platform.copies {
        let other = if src.task == task { dst.task } else { src.task };
        if other == lender {
            cov.direct_borrows += 1;
        } else {
            cov.forwarded_borrows += 1;
        }
    }
}

#[test]
fn well_formed_ipc_reaches_every_blocked_state_and_keeps_the_invariants() {
    let config = Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let coverage = RefCell::new(Coverage::default());
    let ops = prop::collection::vec(op(), 1..200);
    runner
        .run(&ops, |ops| {
            let mut cov = coverage.borrow_mut();
            let (mut t, mut p, plat) = system();
            let mut k = Kernel::new(&mut t, &mut p, plat);
            k.boot();
            for op in &ops {
                step(&mut k, op, &mut cov)?;
            }
            Ok(())
        })
        .unwrap();
    assert_coverage_floors(&coverage.into_inner());
}

/// Runs one generated op and checks the invariants after it. Only a
/// running task makes syscalls: the op goes to the first running task
/// (from the one named on) that may make it, and is skipped if there is
/// none.
fn step(
    k: &mut Kernel<'_, FakePlatform>,
    op: &Op,
    cov: &mut Coverage,
) -> Result<(), TestCaseError> {
    let before: Vec<_> = (0..4).map(|t| k.tasks[t].sched()).collect();
    let before_gen: Vec<_> = (0..4).map(|t| k.tasks[t].generation()).collect();
    let Some(op) = runnable(k, op) else {
        return Ok(());
    };
    let borrower = match op {
        Op::Borrow { task, .. } => Some(task),
        _ => None,
    };
    apply(k, &op, cov);
    check(k, &op, &before, &before_gen, borrower, cov)
}

/// Fails unless the run reached every state the invariants are about
/// often enough, so that they cannot hold vacuously.
fn assert_coverage_floors(cov: &Coverage) {
    eprintln!("{cov:#?}");
    // Floors about half what the seeded run reaches (steps 16,746: in
    // SEND 3,006, in REPLY 2,597, closed RECV 1,272, forwards sent 61,
    // live 34, borrowed through 4; direct borrows 450, DEFECTs 3,947;
    // released by a death: senders 331, reply waiters 273, closed
    // receivers 115),
    // so that a generator change that stops reaching a state fails here.
    let floors = [
        ("blocked_in_send", cov.blocked_in_send, 1500),
        ("blocked_in_reply", cov.blocked_in_reply, 1200),
        ("closed_recv", cov.closed_recv, 600),
        ("forwards_sent", cov.forwards_sent, 30),
        ("live_forwards", cov.live_forwards, 15),
        ("forwarded_borrows", cov.forwarded_borrows, 2),
        ("direct_borrows", cov.direct_borrows, 200),
        ("defects", cov.defects, 1000),
        ("released_senders", cov.released_senders, 150),
        ("released_reply_waiters", cov.released_reply_waiters, 130),
        ("released_closed_recvs", cov.released_closed_recvs, 50),
    ];
    for (name, count, floor) in floors {
        assert!(
            count >= floor,
            "{name}: reached {count} times, floor {floor}"
        );
    }
}
