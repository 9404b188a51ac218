//! Task identity: an index into the task table plus a generation that
//! changes every time the task dies, so that a stale name is detectable.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Names a task *incarnation*: bits 9:0 are the index, bits 15:10 the
/// generation (as Hubris; its `syscalls.adoc` text saying 15:12 is stale).
#[derive(
    Copy,
    Clone,
    Default,
    Eq,
    PartialEq,
    Hash,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(transparent)]
pub struct TaskId(pub u16);

impl TaskId {
    pub const INDEX_BITS: u32 = 10;
    pub const INDEX_MASK: u16 = (1 << Self::INDEX_BITS) - 1;

    /// The virtual kernel task: kipc goes to it and notifications come
    /// from it.
    pub const KERNEL: Self = Self(0xFFFF);

    /// Marks a task slot the build has not patched.
    pub const UNBOUND: Self = Self(Self::INDEX_MASK - 1);

    pub const fn for_index_and_gen(
        index: usize,
        generation: Generation,
    ) -> Self {
        TaskId(
            (index as u16 & Self::INDEX_MASK)
                | ((generation.0 as u16) << Self::INDEX_BITS),
        )
    }

    pub const fn index(self) -> usize {
        (self.0 & Self::INDEX_MASK) as usize
    }

    pub const fn generation(self) -> Generation {
        Generation((self.0 >> Self::INDEX_BITS) as u8)
    }

    /// The same task, one generation later.
    pub const fn next_generation(self) -> Self {
        Self::for_index_and_gen(self.index(), self.generation().next())
    }
}

impl core::fmt::Debug for TaskId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if *self == Self::KERNEL {
            write!(f, "TaskId(KERNEL)")
        } else {
            write!(f, "TaskId({}/gen{})", self.index(), self.generation().0)
        }
    }
}

/// A task's generation, 6 bits wide and wrapping modulo 64.
#[derive(Copy, Clone, Debug, Default, Eq, PartialEq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Generation(u8);

impl Generation {
    pub const MASK: u8 = 0x3F;
    pub const ZERO: Self = Self(0);

    pub const fn new(raw: u8) -> Self {
        Self(raw & Self::MASK)
    }

    pub const fn get(self) -> u8 {
        self.0
    }

    pub const fn next(self) -> Self {
        Self::new(self.0.wrapping_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_packs_index_and_generation_like_hubris() {
        assert_eq!(TaskId::INDEX_MASK, 0x3FF);
        assert_eq!(TaskId::UNBOUND.0, 0x3FE);
        let t = TaskId::for_index_and_gen(5, Generation::new(3));
        assert_eq!(t.0, 5 | (3 << 10));
        assert_eq!(t.index(), 5);
        assert_eq!(t.generation(), Generation::new(3));
    }

    #[test]
    fn generation_wraps_at_64() {
        assert_eq!(Generation::new(63).next(), Generation::new(0));
        assert_eq!(Generation::new(64), Generation::new(0));
        let t = TaskId::for_index_and_gen(1, Generation::new(63));
        assert_eq!(t.next_generation().generation().get(), 0);
        assert_eq!(t.next_generation().index(), 1);
    }
}
