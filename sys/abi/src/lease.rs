//! Leases: memory a client lends a server for the duration of one SEND.

use crate::bitflags_like;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

bitflags_like! {
    /// Rights a lease grants, plus Leasehold's `FORWARD` marker.
    LeaseAttributes: u32 {
        READ = 1 << 0,
        WRITE = 1 << 1,
        FORWARD = 1 << 2,
    }
}

/// One entry of a SEND's lease table, as Hubris lays it out: 12 bytes,
/// 4-byte aligned. Hosted tasks are linked below 4 GiB, so a `u32` address
/// is enough on x86_64 too.
///
/// For an ordinary lease, `base_address` and `length` name the lent slice.
/// For a *forwarded* lease (`FORWARD` set), the server passes on part of a
/// lease it was itself lent: bits 31:16 of `attributes` hold the original
/// lender's `TaskId`, bits 15:8 the index of its lease, `base_address` is
/// the offset into that lease, and `length` the length. Rights (bits 1:0)
/// may only shrink along a chain.
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    Eq,
    PartialEq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
)]
#[repr(C)]
pub struct ULease {
    pub attributes: u32,
    pub base_address: u32,
    pub length: u32,
}

impl ULease {
    /// Bits of `attributes` that mean something in an ordinary lease.
    pub const PLAIN_ATTRIBUTE_MASK: u32 = 0b11;

    pub const fn new(rights: LeaseAttributes, base: u32, length: u32) -> Self {
        Self {
            attributes: rights.0,
            base_address: base,
            length,
        }
    }

    /// A lease that passes on `length` bytes at `offset` of lease
    /// `lease_index` of `lender`, with at most `rights`.
    pub const fn forwarded(
        lender: crate::TaskId,
        lease_index: u8,
        rights: LeaseAttributes,
        offset: u32,
        length: u32,
    ) -> Self {
        Self {
            attributes: (rights.0 & Self::PLAIN_ATTRIBUTE_MASK)
                | LeaseAttributes::FORWARD.0
                | (lease_index as u32) << 8
                | (lender.0 as u32) << 16,
            base_address: offset,
            length,
        }
    }

    pub const fn rights(&self) -> LeaseAttributes {
        LeaseAttributes(self.attributes & Self::PLAIN_ATTRIBUTE_MASK)
    }

    pub const fn is_forwarded(&self) -> bool {
        self.attributes & LeaseAttributes::FORWARD.0 != 0
    }

    /// For a forwarded lease: the original lender and its lease index.
    pub const fn forward_source(&self) -> (crate::TaskId, usize) {
        (
            crate::TaskId((self.attributes >> 16) as u16),
            ((self.attributes >> 8) & 0xFF) as usize,
        )
    }

    /// Whether the attribute word is well formed: no undefined bits in an
    /// ordinary lease (bits 7:3 are reserved in a forwarded one).
    pub const fn attributes_valid(&self) -> bool {
        if self.is_forwarded() {
            self.attributes & 0xF8 == 0
        } else {
            self.attributes & !Self::PLAIN_ATTRIBUTE_MASK == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Generation, TaskId};

    #[test]
    fn lease_layout_is_hubris_12_bytes() {
        assert_eq!(core::mem::size_of::<ULease>(), 12);
        assert_eq!(core::mem::align_of::<ULease>(), 4);
        assert_eq!(LeaseAttributes::READ.0, 1);
        assert_eq!(LeaseAttributes::WRITE.0, 2);
    }

    #[test]
    fn forwarded_lease_round_trips() {
        let t = TaskId::for_index_and_gen(7, Generation::new(2));
        let l = ULease::forwarded(t, 3, LeaseAttributes::READ, 100, 50);
        assert!(l.is_forwarded());
        assert!(l.attributes_valid());
        assert_eq!(l.forward_source(), (t, 3));
        assert_eq!(l.rights(), LeaseAttributes::READ);
        assert!(!ULease::new(LeaseAttributes(8), 0, 0).attributes_valid());
    }
}
