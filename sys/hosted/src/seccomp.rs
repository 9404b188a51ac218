//! The two seccomp filters every task runs under, and the one listener
//! they all report to (see `shared/reference/hosted-syscall-trap.md`,
//! "variant C").
//!
//! F1 ([`kernel_filter`]) is installed by the kernel on *itself*, once, at
//! boot, with the listener ([`install_kernel_filter`]): on its zygote
//! thread ([`crate::process::zygote`]), which forks every task process, so
//! each inherits it. It routes the kernel's private
//! syscall range, `execve`, `execveat` and the one `mmap` shape a task may
//! make (its RAM memfd, shared and fixed) to the listener and allows
//! everything else, so the kernel itself runs unhindered (it makes none of
//! the routed calls, except its own doorbell thread's, which is the point:
//! see [`crate::event_loop`]). One listener for all tasks means the kernel
//! can block in RECV rather than in `epoll_wait` over one listener per
//! task: one host syscall less per trap.
//!
//! F2 ([`confinement_filter`]), installed by each child before `execveat`,
//! allows exactly what F1 routes and *traps* everything else, so any other
//! host syscall after `execveat` raises `SIGSYS`, which the kernel (the
//! task's ptrace tracer) sees with the syscall number and address.
//!
//! The kernel checks the routed `mmap` by all its arguments (the one
//! mapping of the task's RAM memfd) and lets it continue; it lets the
//! first `execveat` continue and treats any later one as a forbidden
//! syscall.
//!
//! The notification protocol itself ([`receive`], [`respond`],
//! [`set_sync_wake_up`]) is three `ioctl`s on the listener. They stay on
//! `libc`: rustix has no typed wrapper for them, only its generic
//! `ioctl`, which is as `unsafe` as `libc::ioctl` and adds nothing for a
//! request whose argument is a plain `#[repr(C)]` struct (its size checked
//! by a test below). So does `seccomp(2)` itself, which rustix lacks.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

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

/// Offsets in `struct seccomp_data`: the low words of `mmap`'s `flags`
/// and `fd` arguments (little-endian; the host reads `fd` as 32 bits).
const DATA_ARCH: u32 = 4;
const DATA_NR: u32 = 0;
const DATA_ARG3_LOW: u32 = 16 + 3 * 8;
const DATA_ARG4_LOW: u32 = 16 + 4 * 8;

/// `MAP_SHARED | MAP_FIXED`: the only flags of the one `mmap` a task
/// makes, and flags the kernel itself never uses (its own mappings are
/// placed by the host), so F1 never routes one of the kernel's own.
pub const RAM_MMAP_FLAGS: u32 = 0x11;

/// One program, two readings: `routed` is returned for the kernel's
/// syscalls (and an `mmap` shaped like the RAM mapping), `other` for
/// everything else.
fn program(routed: u32, other: u32) -> Vec<libc::sock_filter> {
    let ram_fd = abi::HOSTED_RAM_FD;
    vec![
        ins(LD_W_ABS, 0, 0, DATA_ARCH),
        ins(JEQ_K, 1, 0, ARCH_X86_64),
        ins(RET_K, 0, 0, RET_KILL_PROCESS), // e.g. `int 0x80`
        ins(LD_W_ABS, 0, 0, DATA_NR),
        ins(JGE_K, 9, 0, PRIVATE_END),   // -> other
        ins(JGE_K, 9, 0, PRIVATE_START), // -> routed
        ins(JEQ_K, 8, 0, NR_EXECVE),     // -> routed
        ins(JEQ_K, 7, 0, NR_EXECVEAT),   // -> routed
        ins(JEQ_K, 0, 5, NR_MMAP),       // else -> other
        ins(LD_W_ABS, 0, 0, DATA_ARG3_LOW),
        ins(JEQ_K, 0, 3, RAM_MMAP_FLAGS), // else -> other
        ins(LD_W_ABS, 0, 0, DATA_ARG4_LOW),
        ins(JEQ_K, 0, 1, ram_fd), // else -> other
        ins(RET_K, 0, 0, routed),
        ins(RET_K, 0, 0, other),
        ins(RET_K, 0, 0, routed),
    ]
}

/// F1: what every task (and the kernel's doorbell) reports to the one
/// listener; everything else is allowed.
pub fn kernel_filter() -> Vec<libc::sock_filter> {
    program(RET_USER_NOTIF, RET_ALLOW)
}

/// F2: a task may make only what F1 routes; anything else traps.
pub fn confinement_filter() -> Vec<libc::sock_filter> {
    program(RET_ALLOW, RET_TRAP)
}

/// Installs `filter` on the calling thread (and so on every thread and
/// process it creates afterwards), setting `no_new_privs` first as an
/// unprivileged filter requires; with `listener`, returns its listener.
///
/// # Safety
///
/// Async-signal-safe (a child between `fork` and `execveat` calls it):
/// two raw syscalls on memory the caller prepared.
pub unsafe fn install(
    filter: &[libc::sock_filter],
    listener: bool,
) -> std::io::Result<Option<OwnedFd>> {
    rustix::thread::set_no_new_privs(true)?;
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    let flags = if listener {
        FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV
    } else {
        0
    };
    // Safety: the program points at a filter alive for the call.
    let fd = unsafe {
        libc::syscall(libc::SYS_seccomp, SET_MODE_FILTER, flags, &prog)
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Safety: with NEW_LISTENER the result is a fresh descriptor we own.
    Ok(listener.then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// Puts the calling thread under F1 and returns the listener every task
/// it forks will report to, with synchronous wake-ups.
///
/// # Errors
///
/// A host without seccomp user notification (Linux 5.0+ with
/// `CONFIG_SECCOMP_FILTER`); the kernel cannot run there.
pub fn install_kernel_filter() -> std::io::Result<OwnedFd> {
    let f1 = kernel_filter();
    // Safety: `install`'s contract holds anywhere (plain syscalls).
    let listener = unsafe { install(&f1, true)? };
    let listener = listener.ok_or(std::io::ErrorKind::Other)?;
    set_sync_wake_up(listener.as_fd());
    Ok(listener)
}

const SET_MODE_FILTER: libc::c_uint = 1;
const FLAG_NEW_LISTENER: libc::c_uint = 1 << 3;
const FLAG_WAIT_KILLABLE_RECV: libc::c_uint = 1 << 5;

const IOCTL_NOTIF_RECV: libc::c_ulong = 0xC050_2100;
const IOCTL_NOTIF_SEND: libc::c_ulong = 0xC018_2101;
const IOCTL_NOTIF_SET_FLAGS: libc::c_ulong = 0x4008_2104;
const USER_NOTIF_FD_SYNC_WAKE_UP: libc::c_ulong = 1;
const USER_NOTIF_FLAG_CONTINUE: u32 = 1;

/// `struct seccomp_data`.
#[repr(C)]
#[derive(
    Copy, Clone, Default, Debug, zerocopy::IntoBytes, zerocopy::Immutable,
)]
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

/// Takes the next trapped syscall from `listener`, waiting for one.
///
/// # Errors
///
/// `ENOENT`: the process that trapped died (or was killed) before we took
/// it; its exit arrives as `SIGCHLD`. `EINTR`: a signal interrupted the
/// wait.
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

    /// Runs the program on a `seccomp_data`, as the host would.
    fn run(p: &[libc::sock_filter], data: &SeccompData) -> u32 {
        let words: &[u8] = zerocopy::IntoBytes::as_bytes(data);
        let word = |k: u32| {
            let k = k as usize;
            u32::from_le_bytes(words[k..k + 4].try_into().unwrap())
        };
        let mut acc = 0;
        let mut pc = 0;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                LD_W_ABS => acc = word(i.k),
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

    fn eval(p: &[libc::sock_filter], arch: u32, nr: u32) -> u32 {
        let data = SeccompData {
            nr: nr as i32,
            arch,
            ..Default::default()
        };
        run(p, &data)
    }

    /// The task's RAM mapping, as `trap::is_ram_mmap` wants it.
    fn ram_mmap() -> SeccompData {
        SeccompData {
            nr: NR_MMAP as i32,
            arch: ARCH_X86_64,
            instruction_pointer: 0,
            args: [0x4000_0000, 0x1000, 3, 0x11, 3, 0],
        }
    }

    #[test]
    fn listener_routes_only_the_kernel_calls() {
        let p = kernel_filter();
        assert_eq!(eval(&p, ARCH_X86_64, 0x1000), RET_USER_NOTIF);
        assert_eq!(eval(&p, ARCH_X86_64, 0x10FF), RET_USER_NOTIF);
        assert_eq!(eval(&p, ARCH_X86_64, NR_EXECVE), RET_USER_NOTIF);
        assert_eq!(eval(&p, ARCH_X86_64, NR_EXECVEAT), RET_USER_NOTIF);
        assert_eq!(run(&p, &ram_mmap()), RET_USER_NOTIF);
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
        assert_eq!(run(&p, &ram_mmap()), RET_ALLOW);
    }

    #[test]
    fn only_the_ram_shaped_mmap_is_routed() {
        // The kernel runs under F1 too: its own mappings (no fixed
        // address, or another descriptor) must never reach the listener,
        // which it would be waiting on itself.
        let f1 = kernel_filter();
        let f2 = confinement_filter();
        let mut private = ram_mmap();
        private.args[3] = 0x22; // MAP_PRIVATE | MAP_ANONYMOUS
        private.args[4] = u64::MAX;
        let mut shared = ram_mmap();
        shared.args[3] = 0x01; // MAP_SHARED, host-placed (`Ram::new`)
        let mut other_fd = ram_mmap();
        other_fd.args[4] = 4;
        for d in [private, shared, other_fd] {
            assert_eq!(run(&f1, &d), RET_ALLOW, "{d:?}");
            assert_eq!(run(&f2, &d), RET_TRAP, "{d:?}");
        }
    }
}
