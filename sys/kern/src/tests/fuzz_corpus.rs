//! The kernel-core fuzz target on stable Rust: every input in the
//! checked-in corpus (`fuzz/corpus/kernel_core`) and every named
//! regression (`fuzz/regressions/kernel_core`) replays through
//! [`crate::fuzz::run`] with no violation. The seed scenarios below are
//! encoded here, so the corpus can be rebuilt
//! (`LEASEHOLD_BLESS_CORPUS=1 cargo test -p kern fuzz_corpus`).

use crate::fuzz;
use abi::Sysnum;
use std::path::PathBuf;

/// An argument as the harness decodes it (see `fuzz::Input::argument`).
#[derive(Copy, Clone)]
enum Arg {
    Small(u8),
    /// Byte `4 * .1` of task `.0`'s RAM.
    Ram(u8, u8),
    /// Task `.0`'s current id, in the high half with `op` in the low.
    IdOp(u8, u8),
    /// Task `.0`'s current id, in the low half.
    Id(u8),
    Flash(u8, u8),
}

#[derive(Default)]
struct Script(Vec<u8>);

impl Script {
    fn arg(&mut self, arg: Arg) {
        let bytes: &[u8] = match arg {
            Arg::Small(v) => &[0, v],
            Arg::Ram(task, word) => &[1, word, task],
            Arg::IdOp(task, op) => &[3, op, task, 1],
            Arg::Id(task) => &[3, 0, task, 0],
            Arg::Flash(task, offset) => &[4, offset, task],
        };
        self.0.extend_from_slice(bytes);
    }

    fn syscall(&mut self, task: u8, nr: Sysnum, args: &[Arg]) -> &mut Self {
        self.0.extend_from_slice(&[task, 0, nr as u8]);
        for i in 0..8 {
            self.arg(args.get(i).copied().unwrap_or(Arg::Small(0)));
        }
        self
    }

    /// Writes an ordinary lease entry at slot `slot` of `task`'s RAM.
    fn lease(
        &mut self,
        task: u8,
        slot: u8,
        rights: u8,
        base: Arg,
        len: u8,
    ) -> &mut Self {
        self.0.extend_from_slice(&[task, 4, slot, rights, 0]);
        self.arg(base);
        self.0.push(len);
        self
    }

    /// Writes a forwarded lease at slot `slot` of `task`'s RAM.
    fn forward(
        &mut self,
        task: u8,
        slot: u8,
        rights: u8,
        lender: u8,
        offset: u8,
        len: u8,
    ) -> &mut Self {
        self.0.extend_from_slice(&[
            task, 4, slot, rights, 1, lender, 0, offset, len,
        ]);
        self
    }
}

/// Round trip: 1 receives, 2 sends, 1 replies.
fn round_trip() -> Vec<u8> {
    let mut s = Script::default();
    s.syscall(1, Sysnum::Recv, &[Arg::Ram(1, 64), Arg::Small(64)])
        .syscall(
            2,
            Sysnum::Send,
            &[
                Arg::IdOp(1, 7),
                Arg::Ram(2, 64),
                Arg::Small(4),
                Arg::Ram(2, 80),
                Arg::Small(16),
                Arg::Ram(2, 0),
                Arg::Small(0),
            ],
        )
        .syscall(
            1,
            Sysnum::Reply,
            &[Arg::Id(2), Arg::Small(0), Arg::Ram(1, 96), Arg::Small(4)],
        );
    s.0
}

/// The hole this harness was written for: 2 lends its own lease table
/// writable; 1 rewrites entry 0 (from its RAM slot 10, pointing RW at 2's
/// flash) and borrows through it again.
fn lease_table_rewrite() -> Vec<u8> {
    let mut s = Script::default();
    s.lease(2, 0, 3, Arg::Ram(2, 0), 12)
        .lease(1, 10, 3, Arg::Flash(2, 0), 32)
        .syscall(1, Sysnum::Recv, &[Arg::Ram(1, 64), Arg::Small(64)])
        .syscall(
            2,
            Sysnum::Send,
            &[
                Arg::IdOp(1, 7),
                Arg::Ram(2, 64),
                Arg::Small(4),
                Arg::Ram(2, 80),
                Arg::Small(16),
                Arg::Ram(2, 0),
                Arg::Small(1),
            ],
        )
        .syscall(
            1,
            Sysnum::BorrowWrite,
            &[
                Arg::Id(2),
                Arg::Small(0),
                Arg::Small(0),
                Arg::Ram(1, 30),
                Arg::Small(12),
            ],
        )
        .syscall(
            1,
            Sysnum::BorrowWrite,
            &[
                Arg::Id(2),
                Arg::Small(0),
                Arg::Small(0),
                Arg::Ram(1, 100),
                Arg::Small(16),
            ],
        );
    s.0
}

/// 2 lends to 1, which forwards part to 3, which borrows; then 2 dies.
fn forwarded_chain() -> Vec<u8> {
    let mut s = Script::default();
    s.lease(2, 0, 1, Arg::Ram(2, 100), 32)
        .syscall(1, Sysnum::Recv, &[Arg::Ram(1, 64), Arg::Small(64)])
        .syscall(
            2,
            Sysnum::Send,
            &[
                Arg::IdOp(1, 7),
                Arg::Ram(2, 64),
                Arg::Small(4),
                Arg::Ram(2, 80),
                Arg::Small(16),
                Arg::Ram(2, 0),
                Arg::Small(1),
            ],
        )
        .forward(1, 0, 1, 2, 4, 8)
        .syscall(3, Sysnum::Recv, &[Arg::Ram(3, 64), Arg::Small(64)])
        .syscall(
            1,
            Sysnum::Send,
            &[
                Arg::IdOp(3, 1),
                Arg::Ram(1, 64),
                Arg::Small(4),
                Arg::Ram(1, 80),
                Arg::Small(16),
                Arg::Ram(1, 0),
                Arg::Small(1),
            ],
        )
        .syscall(
            3,
            Sysnum::BorrowRead,
            &[
                Arg::Id(1),
                Arg::Small(0),
                Arg::Small(0),
                Arg::Ram(3, 120),
                Arg::Small(8),
            ],
        );
    s.0.extend_from_slice(&[2, 5]); // fault task 2
    s.syscall(
        3,
        Sysnum::BorrowRead,
        &[
            Arg::Id(1),
            Arg::Small(0),
            Arg::Small(0),
            Arg::Ram(3, 120),
            Arg::Small(8),
        ],
    );
    s.0
}

fn seeds() -> [(&'static str, Vec<u8>); 3] {
    [
        ("round-trip", round_trip()),
        ("lease-table-rewrite", lease_table_rewrite()),
        ("forwarded-chain", forwarded_chain()),
    ]
}

fn fuzz_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join("kernel_core")
}

#[test]
fn seed_scenarios_do_what_they_say() {
    use abi::{FaultInfo, FaultSource, SchedState, TaskState};
    let healthy = |s: &TaskState| !s.is_faulted();
    let states = fuzz::run(&round_trip()).unwrap();
    assert!(states.iter().all(healthy), "{states:?}");
    assert_eq!(states[2], TaskState::Healthy(SchedState::Runnable));

    // The rewritten entry faults the lender (2), not the borrower (1).
    let states = fuzz::run(&lease_table_rewrite()).unwrap();
    assert_eq!(
        states[2],
        TaskState::Faulted {
            fault: FaultInfo::MemoryAccess {
                address: Some(0x1020_0000),
                source: FaultSource::User,
            },
            original_state: SchedState::InReply(abi::TaskId(1)),
        }
    );
    assert!(healthy(&states[1]), "{:?}", states[1]);

    // 3 borrowed through the chain; 2's death released 1 (dead code), and
    // 3 is still healthy.
    let states = fuzz::run(&forwarded_chain()).unwrap();
    assert!(states[2].is_faulted());
    assert!(healthy(&states[3]) && healthy(&states[1]), "{states:?}");
}

#[test]
fn the_harness_catches_a_violation() {
    // A harness that cannot fail proves nothing: the in-memory platform
    // must refuse, and remember, an access outside a task (which `run`
    // then reports as `AccessOutsideRegions`).
    use crate::Platform;
    let mut platform_check = fuzz::MemoryPlatform::new();
    let outside = crate::Location {
        task: 0,
        address: 0x7000_0000,
    };
    assert!(platform_check.write(outside, &[1]).is_err());
    assert_eq!(
        platform_check.first_refusal(),
        Some(crate::MemoryError {
            task: 0,
            address: 0x7000_0000
        })
    );
    let flash = crate::Location {
        task: 1,
        address: 0x1010_0000,
    };
    let mut fresh = fuzz::MemoryPlatform::new();
    assert!(fresh.read(flash, &mut [0; 4]).is_ok(), "flash is readable");
    assert!(fresh.write(flash, &[1]).is_err(), "but never writable");
}

#[test]
fn the_checked_in_corpus_and_regressions_replay_clean() {
    if std::env::var_os("LEASEHOLD_BLESS_CORPUS").is_some() {
        let dir = fuzz_dir("corpus");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut replayed = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir(kind)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let outcome = fuzz::run(&bytes);
            assert!(outcome.is_ok(), "{}: {outcome:?}", path.display());
            replayed += 1;
        }
    }
    assert!(replayed >= seeds().len(), "only {replayed} inputs replayed");
}
