//! Property test: random interleavings of syscalls with garbage
//! arguments, faults, restarts and ticks keep the kernel's invariants.

use super::*;

#[derive(Clone, Debug)]
enum Step {
    Syscall {
        task: usize,
        nr: u32,
        args: [u32; 8],
    },
    Fault {
        task: usize,
    },
    Reinit {
        task: usize,
        start: bool,
    },
    Tick {
        ms: u64,
    },
}

/// Arguments that are sometimes sensible (ids, in-RAM addresses, small
/// lengths) and sometimes garbage.
fn arg() -> impl Strategy<Value = u32> {
    prop_oneof![
        (0u32..4).prop_map(|i| i << 16 | 1),
        (0u32..4, 0u32..RAM_SIZE).prop_map(|(i, o)| ram_base(i as usize) + o),
        0u32..64,
        any::<u32>(),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (1usize..4, 0u32..16, prop::array::uniform8(arg()))
            .prop_map(|(task, nr, args)| Step::Syscall { task, nr, args }),
        1 => (1usize..4).prop_map(|task| Step::Fault { task }),
        1 => (1usize..4, any::<bool>()).prop_map(|(task, start)| Step::Reinit { task, start }),
        1 => (0u64..100).prop_map(|ms| Step::Tick { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_syscalls_faults_and_restarts_keep_the_invariants(
        steps in prop::collection::vec(step(), 1..200)
    ) {
        let (mut t, mut p, plat) = system();
        let mut k = Kernel::new(&mut t, &mut p, plat);
        let mut generations: Vec<Generation> =
            k.tasks.iter().map(|t| t.generation()).collect();
        for s in steps {
            k.platform.copies.clear();
            let mut borrower = None;
            match s {
                Step::Syscall { task, nr, args } => {
                    if !k.tasks[task].is_faulted() {
                        if matches!(nr, 4 | 5) { borrower = Some(task); }
                        k.tasks[task].save.args = args;
                        k.handle_syscall(task, nr);
                    }
                }
                Step::Fault { task } => { k.fault(task, FaultInfo::Panic); }
                Step::Reinit { task, start } => { k.reinit(task, start); }
                Step::Tick { ms } => { k.platform.now += ms; k.tick(); }
            }
            // Generations only move forward, by one per death.
            for (i, g) in generations.iter_mut().enumerate() {
                let now = k.tasks[i].generation();
                prop_assert!(now == *g || now == g.next(), "task {i} gen jumped");
                *g = now;
            }
            no_one_blocked_on_the_dead(k.tasks.as_slice()).map_err(TestCaseError::fail)?;
            // The core never asked the platform for memory outside a task.
            prop_assert!(k.platform.refused.is_empty(), "{:?}", k.platform.refused);
            // A borrow only ever touched a lender blocked on the borrower
            // (directly, or through a chain of forwarders).
            if let Some(b) = borrower {
                for (src, dst) in k.platform.copies.clone() {
                    for other in [src.task, dst.task] {
                        if other != b {
                            prop_assert!(reaches(k.tasks.as_slice(), other, b, 8),
                                "borrow by {b} touched {other}, which is not lending to it");
                        }
                    }
                }
            }
        }
    }
}
