//! Target selection: everything target-specific about entering the kernel
//! and starting a task lives in one module per architecture, as in
//! Hubris's `arch` modules, and each defines the same names (`syscall`,
//! `syscall_raw`, `_start`).

#[cfg(target_arch = "arm")]
mod arm_m;
#[cfg(target_arch = "arm")]
pub use arm_m::*;

#[cfg(not(target_arch = "arm"))]
mod x86_64;
#[cfg(not(target_arch = "arm"))]
pub use self::x86_64::*;
