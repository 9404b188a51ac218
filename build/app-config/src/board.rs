//! The boards an image can be built for, and each one's placement policy.
//!
//! A board is chosen by app.toml's `board` key. What app-config needs to
//! know about it is where tasks may go and how their regions must be
//! shaped ([`MemoryMap`]); how to build for it and boot it is xtask's.
//! Adding a board is adding an entry to [`BOARDS`].

use crate::layout::{HOSTED_MEMORY, MPS2_AN386_MEMORY, MemoryMap};

/// A board app.toml may name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Board {
    /// Its `board = "..."` name.
    pub name: &'static str,
    /// Where its tasks go and the rule their regions follow.
    pub memory: MemoryMap,
}

/// The hosted board's name: tasks are Linux processes.
pub const HOSTED_BOARD: &str = "hosted";

/// QEMU's `mps2-an386` (a Cortex-M4F with an ARMv7-M MPU): tasks are
/// unprivileged threads of a kernel that runs in handler mode.
pub const MPS2_AN386_BOARD: &str = "mps2-an386";

/// Every board, in the order messages list them.
pub const BOARDS: &[Board] = &[
    Board {
        name: HOSTED_BOARD,
        memory: HOSTED_MEMORY,
    },
    Board {
        name: MPS2_AN386_BOARD,
        memory: MPS2_AN386_MEMORY,
    },
];

/// The board called `name`, if there is one.
pub fn board(name: &str) -> Option<&'static Board> {
    BOARDS.iter().find(|b| b.name == name)
}
