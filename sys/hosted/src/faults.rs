//! Turning what Linux tells us about a dead or stopped task into a
//! `FaultInfo`.

use abi::{FaultInfo, FaultSource};
use image_manifest::TaskEntry;

/// Offsets in `siginfo_t` on x86_64 (the union starts at 16).
const SI_ADDR: usize = 16;
const SI_SYSCALL: usize = 24;
/// `si_code` of an integer divide by zero.
const FPE_INTDIV: i32 = 1;

fn word(raw: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&raw[at..at + 8]);
    u64::from_le_bytes(b)
}

fn narrow(a: u64) -> Option<u32> {
    u32::try_from(a).ok()
}

/// Classifies a signal-delivery stop of task `t` (siginfo from
/// `PTRACE_GETSIGINFO`, `rip` from its registers).
pub fn classify(t: &TaskEntry, raw: &[u8; 128], rip: u64) -> FaultInfo {
    let signo = i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let code = i32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]);
    let addr = word(raw, SI_ADDR);
    let guard = (t.ram.base - abi::HOSTED_GUARD_SIZE) as u64..t.ram.base as u64;
    match signo {
        libc::SIGSEGV if guard.contains(&addr) => FaultInfo::StackOverflow {
            address: addr as u32,
        },
        libc::SIGSEGV if addr == rip && rip != 0 => FaultInfo::IllegalText,
        libc::SIGSEGV => FaultInfo::MemoryAccess {
            address: narrow(addr),
            source: FaultSource::User,
        },
        libc::SIGBUS => FaultInfo::BusError {
            address: narrow(addr),
            source: FaultSource::User,
        },
        libc::SIGILL => FaultInfo::IllegalInstruction,
        libc::SIGFPE if code == FPE_INTDIV => FaultInfo::DivideByZero,
        libc::SIGFPE => FaultInfo::InvalidOperation(code as u32),
        libc::SIGSYS => {
            let nr = u32::from_le_bytes([
                raw[SI_SYSCALL],
                raw[SI_SYSCALL + 1],
                raw[SI_SYSCALL + 2],
                raw[SI_SYSCALL + 3],
            ]);
            FaultInfo::HostSyscall {
                number: nr,
                pc: narrow(addr).unwrap_or(0),
            }
        }
        s => FaultInfo::HostSignal { signal: s as u32 },
    }
}

/// Is this a signal that means the task itself faulted (and should stop
/// rather than be resumed)?
pub fn is_fault_signal(signo: i32) -> bool {
    matches!(
        signo,
        libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGSYS
            | libc::SIGTRAP
    )
}
