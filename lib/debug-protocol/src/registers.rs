//! A task's registers, as the probe's `registers` answer and a dump carry
//! them, and the pattern the kernel paints stacks with.
//!
//! The hosted kernel can read a task's registers three ways, and they do
//! not all give the same registers, so every set says how it was read
//! ([`Capture`]) and a register it could not read is absent rather than
//! zero: a debugger that unwinds from a made-up `rbp` prints a confident
//! wrong stack.
//!
//! Registers are indexed by their DWARF number for x86_64 (0-15 the
//! general registers, 16 the return address, which is `rip`), so an
//! unwinder can use them as they are; `rflags` follows at 17.

use serde::{Deserialize, Serialize};

/// Register names, by index ([`Registers::values`]): the DWARF x86_64
/// numbering, then `rflags`.
pub const REGISTER_NAMES: [&str; 18] = [
    "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10",
    "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
];

/// Index of `rsp` in [`Registers::values`] (its DWARF number).
pub const RSP: usize = 7;
/// Index of `rbp`.
pub const RBP: usize = 6;
/// Index of `rip` (DWARF's return-address column).
pub const RIP: usize = 16;
/// Index of `rflags`.
pub const RFLAGS: usize = 17;

/// The stack paint, defined with the ABI (both boards' kernels lay it).
pub use abi::STACK_PAINT;

/// How the registers were read, which says which are there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capture {
    /// At the task's fault (a signal stop): every register, as the
    /// faulting instruction left them.
    Fault,
    /// The task was stopped briefly (it was running in its own code):
    /// every register.
    Stopped,
    /// The task is (or was, when it faulted) waiting in a kernel call:
    /// `rip` and `rsp` from Linux, and what userlib's syscall stub hands
    /// the kernel in argument registers (`rax` the call, `rdi` its frame,
    /// and the callee-saved `rbp`, `rbx`, `r12`-`r14`). `rcx` and `r11`
    /// the `syscall` instruction itself overwrote; the rest are unknown.
    Syscall,
}

/// One task's registers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registers {
    pub capture: Capture,
    /// By [`REGISTER_NAMES`] index; `None` where unknown.
    pub values: [Option<u64>; 18],
    /// The address a faulting access touched (`si_addr`), for a fault.
    #[serde(default)]
    pub fault_address: Option<u64>,
    /// The signal of a fault.
    #[serde(default)]
    pub signal: Option<u32>,
}

impl Registers {
    /// An empty set read by `capture`.
    pub fn new(capture: Capture) -> Self {
        Self {
            capture,
            values: [None; 18],
            fault_address: None,
            signal: None,
        }
    }

    /// The register with DWARF number `n` (16 is `rip`).
    pub fn dwarf(&self, n: u16) -> Option<u64> {
        self.values.get(usize::from(n)).copied().flatten()
    }

    /// `rip`.
    pub fn pc(&self) -> Option<u64> {
        self.values[RIP]
    }

    /// `rsp`.
    pub fn sp(&self) -> Option<u64> {
        self.values[RSP]
    }

    /// The register called `name` (`rax`, `rip`, ...), if it exists.
    pub fn named(&self, name: &str) -> Option<Option<u64>> {
        let i = REGISTER_NAMES.iter().position(|n| *n == name)?;
        Some(self.values[i])
    }

    /// Every register with its name, in [`REGISTER_NAMES`] order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Option<u64>)> {
        REGISTER_NAMES.iter().copied().zip(self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_round_trip_and_missing_ones_stay_missing() {
        let mut r = Registers::new(Capture::Syscall);
        r.values[RIP] = Some(0x1234);
        r.values[RSP] = Some(0x2000_0f00);
        let text = serde_json::to_string(&r).unwrap();
        let back: Registers = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.pc(), Some(0x1234));
        assert_eq!(back.dwarf(7), Some(0x2000_0f00));
        assert_eq!(back.named("rax"), Some(None));
        assert_eq!(back.named("xmm0"), None);
        assert_eq!(back.dwarf(99), None);
        // The wrong number of registers is refused, not padded.
        let short = text.replacen("[null,", "[", 1);
        assert!(serde_json::from_str::<Registers>(&short).is_err());
    }
}
