//! Supervisor of the fuzz image (`test/fuzz.toml`).
//!
//! It hands the fuzzer a fresh seed on every start, and on every fault
//! checks that the kernel blamed the fuzzer for a usage or memory error —
//! never a host syscall or signal, which would mean the kernel resumed it
//! wrongly — and that no other task faulted. Meanwhile ping and pong keep
//! talking: pong must have served messages during the run, and go on
//! serving after it, showing the kernel kept serving everyone else. Nothing here depends on how fast the host is:
//! the run ends after a number of the fuzzer's syscalls, however long they
//! take (xtask's image timeout is the guard against a hang). Prints
//! `test_syscall_fuzz ... ok` (or FAILED with the reason) and the usual
//! summary, then shuts down.

#![no_std]
#![no_main]

use userlib::*;

include!(concat!(env!("OUT_DIR"), "/notifications.rs"));
include!(concat!(env!("OUT_DIR"), "/tasks.rs"));

/// Fuzzer syscalls to make in all before passing.
const TARGET_SYSCALLS: u32 = 10_000;

fn say(args: core::fmt::Arguments<'_>) {
    kipc::console_fmt(args);
}

fn finish(failure: Option<core::fmt::Arguments<'_>>) -> ! {
    match failure {
        None => {
            say(format_args!("test_syscall_fuzz ... ok"));
            say(format_args!("1 passed, 0 failed"));
            kipc::shutdown(0);
        }
        Some(why) => {
            say(format_args!("test_syscall_fuzz ... FAILED ({why})"));
            say(format_args!("0 passed, 1 failed"));
            kipc::shutdown(1);
        }
    }
    loop {
        sys_recv_notification(0);
    }
}

/// A fault the kernel may rightly give a task that makes garbage calls.
fn acceptable(f: &FaultInfo) -> bool {
    matches!(
        f,
        FaultInfo::SyscallUsage(_)
            | FaultInfo::MemoryAccess { .. }
            | FaultInfo::Panic
            | FaultInfo::FromServer(..)
    )
}

/// After the run, pong must still be serving ping: its syscall count
/// moves on. We look every few milliseconds until it does; a kernel that
/// stopped serving it never ends this wait, and xtask's image timeout
/// reports the hang.
fn still_serving() -> Option<core::fmt::Arguments<'static>> {
    let before = kipc::read_syscall_count(PONG);
    while kipc::read_syscall_count(PONG) == before {
        let now = sys_get_timer().now;
        sys_set_timer(Some(now + 5), notifications::TIMER_MASK);
        sys_recv_notification(notifications::TIMER_MASK);
    }
    None
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let pong_before = kipc::read_syscall_count(PONG);
    let mut total: u32 = 0;
    let mut restarts: u32 = 0;
    let mut usage: u32 = 0;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = [0u8; 16];
    loop {
        let msg = sys_recv_open(&mut buf, notifications::FAULT_MASK);
        if msg.sender == TaskId::KERNEL {
            // The fault bit is the kernel's alone (POST refuses it), but
            // each task's status is checked rather than trusting the bit.
            for i in 1..TASKS {
                let TaskState::Faulted { fault, .. } =
                    kipc::read_task_status(i)
                else {
                    continue;
                };
                if i != FUZZ {
                    finish(Some(format_args!("task {i} faulted: {fault:?}")));
                }
                if !acceptable(&fault) {
                    finish(Some(format_args!("fuzzer took {fault:?}")));
                }
                if matches!(fault, FaultInfo::SyscallUsage(_)) {
                    usage += 1;
                }
                total = total.saturating_add(kipc::read_syscall_count(FUZZ));
                restarts += 1;
                if total >= TARGET_SYSCALLS {
                    let served = kipc::read_syscall_count(PONG)
                        .wrapping_sub(pong_before);
                    say(format_args!(
                        "fuzz: {total} syscalls, {restarts} faults ({usage} usage), pong served {served} syscalls meanwhile"
                    ));
                    if served == 0 {
                        finish(Some(format_args!(
                            "pong served nothing during the run"
                        )));
                    }
                    finish(still_serving());
                }
                kipc::reinit_task(FUZZ, true);
            }
            continue;
        }
        // The fuzzer asking for a seed (op 1); anything else it sends is
        // garbage, answered with an error code.
        if msg.operation == 1 && msg.message_len == 0 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(restarts as u64 + 1);
            sys_reply(msg.sender, 0, &seed.to_le_bytes());
        } else {
            sys_reply(msg.sender, 1, &[]);
        }
    }
}
