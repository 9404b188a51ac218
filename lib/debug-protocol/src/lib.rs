//! What the hosted kernel's debug probe and its clients agree on.
//!
//! The kernel (`sys/hosted`) serves the probe and writes dumps; humility
//! (`build/humility`) and xtask's host-side tests talk to the probe and
//! read dumps. Everything both sides must spell the same way lives here,
//! once, so that the two cannot drift apart:
//!
//! - [`path`]: where the probe socket is when nobody says otherwise;
//! - [`wire`]: the requests, the answers and their limits (one JSON
//!   object per line each way);
//! - [`TaskRow`]: one row of the kernel's task table, as the probe's
//!   `tasks` answer and a dump's header carry it;
//! - [`dump`]: the dump file format, its writer and a reader that never
//!   trusts the file; [`coredump`]: the same as an ELF core file any
//!   debugger opens (what the kernel writes now);
//! - [`registers`]: a task's registers, and the stack paint pattern.
//!
//! Deliberately not here: how the kernel serves connections or creates
//! files (that is the kernel's business), and how humility presents
//! anything.

pub mod connection;
pub mod coredump;
pub mod dump;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz_connection;
pub mod path;
pub mod registers;
pub mod wire;

pub use path::default_probe_path;
pub use registers::Registers;

use serde::{Deserialize, Serialize};

/// Bytes that travel as lower-case hex in JSON. Decoding takes the text
/// as bytes, so anything that is not hex (including non-ASCII) is an
/// error, never a panic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HexBytes(#[serde(with = "hex::serde")] pub Vec<u8>);

impl From<Vec<u8>> for HexBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

/// An address range of a task, `[base, base + size)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub base: u32,
    pub size: u32,
}

/// Where a panicked task's message is in its RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicAt {
    pub address: u32,
    pub length: u32,
}

/// One row of the kernel's task table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRow {
    pub index: usize,
    pub name: String,
    pub generation: u8,
    pub priority: u8,
    /// `abi::TaskState::encode`; see [`TaskRow::decode_state`].
    pub state: HexBytes,
    /// Syscalls the task has made in this incarnation.
    #[serde(default)]
    pub syscalls: u64,
    /// Pending (posted, not yet delivered) notification bits.
    #[serde(default)]
    pub notifications: u32,
    /// Timer deadline, ms since boot.
    #[serde(default)]
    pub timer: Option<u64>,
    pub ram: Range,
    pub flash: Range,
    /// The notification mask of the task's RECV, for a task in RECV (what
    /// the state alone does not say: what would wake it).
    #[serde(default)]
    pub recv_mask: Option<u32>,
    /// Where the message of a task that panicked is in its RAM.
    #[serde(default)]
    pub panic: Option<PanicAt>,
}

impl TaskRow {
    /// The decoded state.
    ///
    /// # Errors
    ///
    /// If the bytes are not a `TaskState`.
    pub fn decode_state(&self) -> Result<abi::TaskState, BadState> {
        abi::TaskState::decode(&self.state.0).ok_or_else(|| BadState {
            task: self.name.clone(),
            state: hex::encode(&self.state.0),
        })
    }
}

/// A task row whose state does not decode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("task {task}: undecodable state {state}")]
pub struct BadState {
    pub task: String,
    pub state: String,
}

/// One entry of the kernel's own trace (its ringbuf), oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    /// Source line that recorded it.
    pub line: u16,
    pub generation: u16,
    /// How many times in a row it was recorded.
    pub count: u16,
    /// The event, as `Debug` prints it.
    pub event: String,
}

/// Is `name` acceptable as a dump file name a debugger asks for? It is
/// one component of a path in the kernel's dump directory, so it may not
/// climb out (`..`, `/`), hide (a leading `.`), or smuggle anything a
/// shell or a terminal would read (spaces, control characters): letters,
/// digits, `-`, `_` and `.`, at most 64, starting with a letter, digit or
/// `_`, and never `..`.
pub fn is_dump_name(name: &str) -> bool {
    let ok =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(ok)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_names_may_have_dots_but_never_climb() {
        assert!(is_dump_name("held.dump"));
        assert!(is_dump_name("a.b.c"));
        for bad in ["..", "../held.dump", "a..b", ".dump", "/etc/passwd", ""] {
            assert!(!is_dump_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn hex_bytes_refuse_non_hex_and_non_ascii_without_panicking() {
        let ok: HexBytes = serde_json::from_str(r#""00abFF""#).unwrap();
        assert_eq!(ok.0, vec![0, 0xab, 0xff]);
        for bad in [r#""abc""#, r#""zz""#, r#""é0""#, r#""0é""#, r#""ü""#] {
            assert!(serde_json::from_str::<HexBytes>(bad).is_err(), "{bad}");
        }
        let text = serde_json::to_string(&HexBytes(vec![1, 0xfe])).unwrap();
        assert_eq!(text, r#""01fe""#);
    }
}
