//! The two seccomp filters every task runs under (see
//! `shared/reference/hosted-syscall-trap.md`, "variant A").
//!
//! F1 is installed first, with a listener the kernel receives over a
//! socket: it routes the kernel's private syscall range, `execve`,
//! `execveat` and `mmap` to the kernel and allows everything else, so the
//! child can still send us the listener and install F2. F2 then allows
//! exactly what F1 routes to us and *traps* everything else, so any other
//! host syscall after `execve` raises `SIGSYS`, which the kernel (the
//! task's ptrace tracer) sees with the syscall number and address.
//!
//! The kernel checks the routed `mmap` by its arguments (the one mapping of
//! the task's RAM memfd) and lets it continue; it lets the first `execveat`
//! continue and treats any later one as a forbidden syscall.
//!
//! The notification protocol itself ([`receive`], [`respond`],
//! [`set_sync_wake_up`]) is three `ioctl`s on the listener. They stay on
//! `libc`: rustix has no typed wrapper for them, only its generic
//! `ioctl`, which is as `unsafe` as `libc::ioctl` and adds nothing for a
//! request whose argument is a plain `#[repr(C)]` struct (its size checked
//! by a test below).

use std::os::fd::{AsRawFd, BorrowedFd};

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

const ARCH_X86_64: u32 = 0xC000_003E;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_USER_NOTIF: u32 = 0x7FC0_0000;
const RET_ALLOW: u32 = 0x7FFF_0000;

pub const NR_MMAP: u32 = 9;
pub const NR_EXECVE: u32 = 59;
pub const NR_EXECVEAT: u32 = 322;

/// Private syscall range: `HOSTED_SYSCALL_BASE ..` 256 numbers.
const PRIVATE_START: u32 = abi::HOSTED_SYSCALL_BASE as u32;
const PRIVATE_END: u32 = PRIVATE_START + 0x100;

fn ins(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// One program, two readings: `routed` is returned for the kernel's
/// syscalls, `other` for everything else.
fn program(routed: u32, other: u32) -> Vec<libc::sock_filter> {
    vec![
        ins(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        ins(JEQ_K, 1, 0, ARCH_X86_64),
        ins(RET_K, 0, 0, RET_KILL_PROCESS), // e.g. `int 0x80`
        ins(LD_W_ABS, 0, 0, 0),             // seccomp_data.nr
        ins(JGE_K, 4, 0, PRIVATE_END),
        ins(JGE_K, 4, 0, PRIVATE_START),
        ins(JEQ_K, 3, 0, NR_EXECVE),
        ins(JEQ_K, 2, 0, NR_EXECVEAT),
        ins(JEQ_K, 1, 0, NR_MMAP),
        ins(RET_K, 0, 0, other),
        ins(RET_K, 0, 0, routed),
    ]
}

pub fn listener_filter() -> Vec<libc::sock_filter> {
    program(RET_USER_NOTIF, RET_ALLOW)
}

pub fn confinement_filter() -> Vec<libc::sock_filter> {
    program(RET_ALLOW, RET_TRAP)
}

pub const SET_MODE_FILTER: libc::c_uint = 1;
pub const FLAG_NEW_LISTENER: libc::c_uint = 1 << 3;
pub const FLAG_WAIT_KILLABLE_RECV: libc::c_uint = 1 << 5;

const IOCTL_NOTIF_RECV: libc::c_ulong = 0xC050_2100;
const IOCTL_NOTIF_SEND: libc::c_ulong = 0xC018_2101;
const IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
const USER_NOTIF_FD_SYNC_WAKE_UP: libc::c_ulong = 1;
const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

/// `struct seccomp_data`.
#[repr(C)]
#[derive(Copy, Clone, Default, Debug)]
pub struct SeccompData {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// `struct seccomp_notif`.
#[repr(C)]
#[derive(Copy, Clone, Default, Debug)]
pub struct Notif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub data: SeccompData,
}

/// `struct seccomp_notif_resp`.
#[repr(C)]
#[derive(Copy, Clone, Default, Debug)]
struct NotifResp {
    pub id: u64,
    pub val: i64,
    pub error: i32,
    pub flags: u32,
}

/// Takes the next trapped syscall from `listener`. Blocks unless the
/// listener is readable (a notification waits) or hung up (it fails at
/// once): callers wait for `EPOLLIN` or poll first.
///
/// # Errors
///
/// The process died (or was killed) since; its exit arrives as `SIGCHLD`.
pub fn receive(listener: BorrowedFd<'_>) -> std::io::Result<Notif> {
    let mut n = Notif::default();
    // Safety: RECV fills a zeroed `seccomp_notif` of the kernel's size
    // (checked by `struct_sizes_match_the_kernel`).
    let r =
        unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_RECV, &mut n) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n)
}

/// Answers trapped syscall `id`: resume it with result 0, or with
/// `continue_it` let the host syscall itself run as the task asked.
///
/// # Errors
///
/// `ENOENT` when the process died meanwhile (which `SIGCHLD` reports).
pub fn respond(
    listener: BorrowedFd<'_>,
    id: u64,
    continue_it: bool,
) -> std::io::Result<()> {
    let resp = NotifResp {
        id,
        val: 0,
        error: 0,
        flags: if continue_it {
            USER_NOTIF_FLAG_CONTINUE
        } else {
            0
        },
    };
    // Safety: SEND reads a `seccomp_notif_resp` of the kernel's size.
    let r =
        unsafe { libc::ioctl(listener.as_raw_fd(), IOCTL_NOTIF_SEND, &resp) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Asks the kernel to wake the trapped task on the CPU that answers it.
/// Best effort: without it, cross-CPU wake-ups are ~12x slower.
pub fn set_sync_wake_up(listener: BorrowedFd<'_>) {
    // Safety: a flag-only ioctl on our listener; no memory is passed.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            IOCTL_NOTIF_SET_FLAGS,
            USER_NOTIF_FD_SYNC_WAKE_UP,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_sizes_match_the_kernel() {
        assert_eq!(std::mem::size_of::<Notif>(), 80);
        assert_eq!(std::mem::size_of::<NotifResp>(), 24);
        assert_eq!(std::mem::size_of::<SeccompData>(), 64);
    }

    /// Runs the program on a syscall number, as the kernel would.
    fn eval(p: &[libc::sock_filter], arch: u32, nr: u32) -> u32 {
        let mut acc = 0;
        let mut pc = 0;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = if i.k == 4 { arch } else { nr },
                JEQ_K | JGE_K => {
                    let hit = if i.code == JEQ_K {
                        acc == i.k
                    } else {
                        acc >= i.k
                    };
                    pc += if hit { i.jt } else { i.jf } as usize;
                }
                RET_K => return i.k,
                _ => panic!("bad instruction"),
            }
        }
    }

    #[test]
    fn listener_routes_only_the_kernel_calls() {
        let p = listener_filter();
        assert_eq!(eval(&p, ARCH_X86_64, 0x1000), RET_USER_NOTIF);
        assert_eq!(eval(&p, ARCH_X86_64, 0x10FF), RET_USER_NOTIF);
        assert_eq!(eval(&p, ARCH_X86_64, NR_EXECVEAT), RET_USER_NOTIF);
        assert_eq!(eval(&p, ARCH_X86_64, NR_MMAP), RET_USER_NOTIF);
        assert_eq!(eval(&p, ARCH_X86_64, 39), RET_ALLOW);
        assert_eq!(eval(&p, ARCH_X86_64, 0x1100), RET_ALLOW);
        assert_eq!(eval(&p, 0x4000_0003, 0x1000), RET_KILL_PROCESS);
    }

    #[test]
    fn confinement_traps_every_other_syscall() {
        let p = confinement_filter();
        assert_eq!(eval(&p, ARCH_X86_64, 0x1001), RET_ALLOW);
        assert_eq!(eval(&p, ARCH_X86_64, 39), RET_TRAP);
        assert_eq!(eval(&p, ARCH_X86_64, 231), RET_TRAP);
        assert_eq!(eval(&p, ARCH_X86_64, 0x4000_0027), RET_TRAP);
    }
}
