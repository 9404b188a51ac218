//! idol server dispatch under a fuzzer: [`run`] decodes a received
//! message (its `RecvMessage` header, the buffer it landed in, and what
//! each lease the client sent grants) from arbitrary bytes and passes it
//! through the checks `dispatch` and the generated stubs make before any
//! server code runs ([`check_message`], then [`check_lease`] per lease),
//! for a three-op interface with no, one and two leases. Each verdict is
//! compared with the rules stated again independently here: a message the
//! checks accept must satisfy every rule, and one they reject must break
//! the rule they name. A panic is a crash the fuzzer reports by itself.
//!
//! `fuzz/fuzz_targets/idol_dispatch.rs` calls this, and a unit test
//! replays the checked-in corpus on stable Rust.

use crate::{ClientError, LeaseAccess, LeaseSpec, ServerOp};
use crate::{check_lease, check_message};
use userlib::{
    BorrowInfo, LeaseAttributes, RecvMessage, ReplyFaultReason, TaskId,
};

/// A three-op interface: `ping` (no leases, 4-byte reply), `load` (one
/// read lease of at most 8 bytes), `filter` (a read-write `[u16]` of at
/// most 64 elements and a read-only `u64`).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum FuzzOp {
    Ping = 1,
    Load = 2,
    Filter = 3,
}

impl TryFrom<u32> for FuzzOp {
    type Error = ();

    fn try_from(code: u32) -> Result<Self, ()> {
        match code {
            1 => Ok(Self::Ping),
            2 => Ok(Self::Load),
            3 => Ok(Self::Filter),
            _ => Err(()),
        }
    }
}

const LOAD_LEASES: &[LeaseSpec] =
    &[LeaseSpec::slice::<u8>(LeaseAccess::Read, Some(8))];
const FILTER_LEASES: &[LeaseSpec] = &[
    LeaseSpec::slice::<u16>(LeaseAccess::ReadWrite, Some(64)),
    LeaseSpec::sized::<u64>(LeaseAccess::Read),
];

impl ServerOp for FuzzOp {
    fn max_reply_size(self) -> usize {
        match self {
            Self::Ping => 4,
            Self::Load => 0,
            Self::Filter => 4,
        }
    }

    fn leases(self) -> &'static [LeaseSpec] {
        match self {
            Self::Ping => &[],
            Self::Load => LOAD_LEASES,
            Self::Filter => FILTER_LEASES,
        }
    }
}

/// A check that disagreed with the rules.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Violation {
    /// `check_message` accepted a message that breaks a rule, or
    /// rejected one for a rule it keeps.
    Message(Option<ReplyFaultReason>),
    /// `check_lease` accepted a lease that breaks its declaration, or
    /// rejected a good one.
    Lease { index: usize },
}

/// Most leases a message in the harness carries.
const MAX_LEASES: usize = 4;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&first, rest)) => {
                self.0 = rest;
                first
            }
            None => 0,
        }
    }

    /// Usually a small number, sometimes a whole word.
    fn number(&mut self) -> u32 {
        let small = self.byte();
        if small & 0x80 == 0 {
            return u32::from(small);
        }
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
}

/// What the rules say about a message: the first one it breaks.
fn expected_message_verdict(
    msg: &RecvMessage,
    buffer_len: usize,
) -> Result<FuzzOp, ReplyFaultReason> {
    if usize::try_from(msg.message_len).is_err()
        || usize::try_from(msg.message_len).is_ok_and(|n| n > buffer_len)
    {
        return Err(ReplyFaultReason::BadMessageSize);
    }
    let op = FuzzOp::try_from(msg.operation)
        .map_err(|()| ReplyFaultReason::UndefinedOperation)?;
    if usize::try_from(msg.response_capacity)
        .is_ok_and(|c| c < op.max_reply_size())
    {
        return Err(ReplyFaultReason::ReplyBufferTooSmall);
    }
    if usize::try_from(msg.lease_count).map_or(true, |n| n != op.leases().len())
    {
        return Err(ReplyFaultReason::BadLeases);
    }
    Ok(op)
}

/// Whether a lease granting `info` satisfies `spec`, and its element count.
fn expected_lease_verdict(
    spec: &LeaseSpec,
    info: &BorrowInfo,
) -> Option<usize> {
    if !info.attributes.contains(spec.access.attributes()) {
        return None;
    }
    if !spec.is_slice {
        return (info.len == spec.element_size).then_some(1);
    }
    if spec.element_size == 0 {
        return (info.len == 0).then_some(0);
    }
    let elements = info.len.checked_div(spec.element_size)?;
    if elements.checked_mul(spec.element_size) != Some(info.len) {
        return None;
    }
    match spec.max_len {
        Some(max) if elements > max as usize => None,
        _ => Some(elements),
    }
}

/// Runs one received message through the dispatch checks.
///
/// # Errors
///
/// The first [`Violation`] found.
pub fn run(data: &[u8]) -> Result<(), Violation> {
    let mut input = Input(data);
    let msg = RecvMessage {
        sender: TaskId(u16::from(input.byte())),
        operation: input.number(),
        message_len: input.number(),
        response_capacity: input.number(),
        lease_count: input.number(),
        ..RecvMessage::default()
    };
    let buffer_len = usize::from(input.byte());
    let mut infos = [BorrowInfo {
        attributes: LeaseAttributes(0),
        len: 0,
    }; MAX_LEASES];
    for info in &mut infos {
        info.attributes = LeaseAttributes(u32::from(input.byte() & 0x7));
        info.len = input.number() as usize;
    }
    let verdict = check_message::<FuzzOp>(&msg, buffer_len);
    let expected = expected_message_verdict(&msg, buffer_len);
    if verdict != expected {
        return Err(Violation::Message(verdict.err()));
    }
    let Ok(op) = verdict else { return Ok(()) };
    for (index, (spec, info)) in op.leases().iter().zip(&infos).enumerate() {
        let verdict = check_lease(spec, Some(*info));
        let expected =
            expected_lease_verdict(spec, info).ok_or(ClientError::BadLease);
        if verdict != expected {
            return Err(Violation::Lease { index });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Seeds: a good `filter`, a `load` over its length limit, a message
    /// longer than its buffer, an unknown op.
    fn seeds() -> [(&'static str, Vec<u8>); 4] {
        [
            (
                "filter-ok",
                vec![3, 3, 8, 4, 2, 16, 3, 64, 1, 8, 0, 0, 0, 0],
            ),
            (
                "load-too-long",
                vec![3, 2, 0, 0, 1, 16, 1, 9, 0, 0, 0, 0, 0, 0],
            ),
            ("message-too-long", vec![3, 1, 17, 4, 0, 16]),
            (
                "unknown-op",
                vec![3, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0, 4, 0, 16],
            ),
        ]
    }

    fn dir(kind: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz")
            .join(kind)
            .join("idol_dispatch")
    }

    #[test]
    fn seeds_pass_the_oracle_and_reach_each_verdict() {
        for (name, bytes) in seeds() {
            assert_eq!(run(&bytes), Ok(()), "{name}");
        }
    }

    #[test]
    fn the_oracle_notices_a_wrong_verdict() {
        // A lease one element over `load`'s limit must be refused; the
        // oracle says so independently.
        let spec = LOAD_LEASES[0];
        let over = BorrowInfo {
            attributes: LeaseAttributes::READ,
            len: 9,
        };
        assert_eq!(expected_lease_verdict(&spec, &over), None);
        assert_eq!(check_lease(&spec, Some(over)), Err(ClientError::BadLease));
    }

    #[test]
    fn the_checked_in_corpus_and_regressions_replay_clean() {
        if std::env::var_os("LEASEHOLD_BLESS_CORPUS").is_some() {
            std::fs::create_dir_all(dir("corpus")).unwrap();
            for (name, bytes) in seeds() {
                std::fs::write(dir("corpus").join(name), bytes).unwrap();
            }
        }
        let mut replayed = 0;
        for kind in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(dir(kind)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let outcome = run(&std::fs::read(&path).unwrap());
                assert_eq!(outcome, Ok(()), "{}", path.display());
                replayed += 1;
            }
        }
        assert!(replayed >= seeds().len(), "only {replayed} inputs replayed");
    }
}
