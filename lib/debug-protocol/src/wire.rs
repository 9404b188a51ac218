//! The probe protocol: one JSON object per line each way, so it can be
//! driven by hand with `socat` when humility itself is what is being
//! debugged.
//!
//! | request (`op`) | fields | answer |
//! | --- | --- | --- |
//! | `identity` | | [`Identity`] |
//! | `tasks` | | [`TaskTable`] |
//! | `read` | `task`, `address`, `length` (at most [`MAX_READ`]) | [`MemoryData`] |
//! | `write` | `task`, `address`, `data` (hex) | [`Done`] |
//! | `dump` | `name` (optional; a file name, see [`crate::is_dump_name`]) | [`DumpWritten`] |
//! | `inject` | `task`, `nth`, `action` (`fault`/`restart`) | [`Done`] |
//! | `fault` | `task` | [`Done`] |
//! | `trace` | | [`TraceEntries`] |
//! | `registers` | `task` | [`crate::Registers`] |
//! | `halt` | `task` | [`Done`] |
//! | `release` | `task` | [`Done`] |
//! | `step` | `task` | [`Done`] |
//! | `breakpoint` | `address`, `set` | [`Done`] |
//! | `holds` | | [`HoldTable`] |
//!
//! `halt`, `release` and `breakpoint` are a debugger's (`humility gdb`):
//! a held task runs none of its own code until released, while the rest
//! of the system goes on; a breakpoint is an `int3` the kernel puts in the
//! task whose flash has the address, and a task that reaches one is held.
//! Holds and breakpoints belong to the connection that made them, and the
//! kernel lifts them when it closes, so a debugger that dies leaves
//! nothing stopped behind.
//!
//! Every answer has `ok`; a refused request has `ok: false` and `error`
//! (one line). The kernel answers requests in order, one answer per line.
//!
//! Limits, which the kernel enforces by closing the connection (and
//! saying so on its log): a request line of at most [`MAX_LINE`] bytes,
//! and at most [`MAX_QUEUE`] bytes of answers the client has not read.
//! A client that reads each answer before sending the next request never
//! meets the second; [`MAX_READ`] keeps any one answer well inside it.

use crate::{HexBytes, TaskRow, TraceEntry};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Longest request line the kernel accepts, newline included.
pub const MAX_LINE: usize = 1 << 20;

/// Most answer bytes the kernel holds for a client that does not read.
pub const MAX_QUEUE: usize = 1 << 20;

/// Largest read one request may ask for: its answer (hex, twice the
/// size) stays under half of [`MAX_QUEUE`]. Clients split larger reads.
pub const MAX_READ: u32 = 256 << 10;

/// What a fault injection does when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectAction {
    Fault,
    Restart,
}

/// A request to the probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Which image is running.
    Identity,
    /// The task table.
    Tasks,
    /// Task memory: flash or RAM, even of a dead task.
    Read {
        task: usize,
        address: u32,
        length: u32,
    },
    /// Task RAM.
    Write {
        task: usize,
        address: u32,
        data: HexBytes,
    },
    /// A dump in the kernel's dump directory, under `name` if given.
    Dump {
        #[serde(default)]
        name: Option<String>,
    },
    /// Fault or restart `task` at its `nth` syscall from now.
    Inject {
        task: usize,
        nth: u32,
        action: InjectAction,
    },
    /// Fault `task` now.
    Fault { task: usize },
    /// The kernel's own trace.
    Trace,
    /// A task's registers: at its fault for a faulted task, else read
    /// now (see [`crate::registers::Capture`]).
    Registers { task: usize },
    /// Hold `task`: it runs none of its own code until released.
    Halt { task: usize },
    /// Let a held task go on (over the breakpoint it stopped at, if any).
    Release { task: usize },
    /// Let a held task execute one instruction and stop again.
    Step { task: usize },
    /// Put (`set`) or take away a breakpoint at a flash address.
    Breakpoint { address: u32, set: bool },
    /// Which tasks are held, and why.
    Holds,
}

impl Request {
    /// Parses one request line (without its newline). Never panics,
    /// whatever the bytes.
    ///
    /// # Errors
    ///
    /// A one-line reason: not JSON, not UTF-8, an unknown `op` or field,
    /// a missing field, bad hex.
    pub fn parse(line: &[u8]) -> Result<Self, String> {
        // serde's message quotes what it could not match (an unknown op,
        // field or variant) as decoded text, which may hold a newline: a
        // client's line must not become two lines of anyone's log.
        serde_json::from_slice(line).map_err(|e| {
            format!("bad request: {}", escape_controls(&e.to_string()))
        })
    }

    /// The request as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// `text` with its control characters (newlines, escapes) written as
/// Rust escapes, so that it stays one printable line.
pub fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Answer to `identity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub name: String,
    /// 16 hex digits, as the archive's manifest has it.
    pub image_id: String,
    pub git_revision: String,
    pub uptime_ms: u64,
    /// Where the kernel writes dumps (absolute).
    #[serde(default)]
    pub dump_dir: Option<String>,
}

/// Answer to `tasks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTable {
    pub tasks: Vec<TaskRow>,
}

/// Answer to `read`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryData {
    pub data: HexBytes,
}

/// Answer to a request that returns nothing but success.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {}

/// Answer to `dump`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpWritten {
    /// The dump file, absolute.
    pub path: String,
}

/// Answer to `trace`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntries {
    pub entries: Vec<TraceEntry>,
}

/// Why a task is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// A debugger asked (`halt`).
    Halted,
    /// The task reached a breakpoint; `address` is the breakpoint's.
    Breakpoint,
    /// A debugger let it execute one instruction (`step`).
    Step,
}

/// One held task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub task: usize,
    pub reason: HoldReason,
    /// The breakpoint it reached, for [`HoldReason::Breakpoint`].
    #[serde(default)]
    pub address: Option<u32>,
    /// Whether the task has stopped yet: a task held while it waits in a
    /// kernel call stops when the call returns.
    pub stopped: bool,
    /// Whether this connection holds it (else another debugger does).
    pub ours: bool,
}

/// Answer to `holds`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldTable {
    pub holds: Vec<Hold>,
}

/// Encodes an answer as one line, newline included: the answer's fields
/// and `ok: true`, or `ok: false` and `error`.
pub fn answer_line<T: Serialize>(answer: &Result<T, String>) -> String {
    let value = match answer {
        Ok(body) => match serde_json::to_value(body) {
            Ok(serde_json::Value::Object(mut fields)) => {
                fields.insert("ok".into(), true.into());
                serde_json::Value::Object(fields)
            }
            _ => refusal("the kernel could not encode its answer"),
        },
        Err(why) => refusal(why),
    };
    let mut line = value.to_string();
    line.push('\n');
    line
}

fn refusal(why: &str) -> serde_json::Value {
    // One line: the error text itself may not break the framing (JSON
    // escapes newlines anyway; this keeps the log readable too).
    let why = why.replace('\n', " ");
    serde_json::json!({ "ok": false, "error": why })
}

/// Why an answer could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnswerError {
    #[error("the kernel refused: {0}")]
    Refused(String),
    #[error("the probe sent a malformed answer: {0}")]
    Malformed(String),
}

/// Decodes one answer line into the answer type the request expects.
///
/// # Errors
///
/// [`AnswerError::Refused`] with the kernel's reason if `ok` is false;
/// [`AnswerError::Malformed`] if it is not an answer of that type.
pub fn parse_answer<T: DeserializeOwned>(line: &str) -> Result<T, AnswerError> {
    #[derive(Deserialize)]
    struct Status {
        ok: bool,
        #[serde(default)]
        error: Option<String>,
    }
    let malformed =
        |e: serde_json::Error| AnswerError::Malformed(e.to_string());
    let status: Status = serde_json::from_str(line).map_err(malformed)?;
    if !status.ok {
        let why = status.error.unwrap_or_else(|| "no reason given".into());
        return Err(AnswerError::Refused(why));
    }
    serde_json::from_str(line).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the probe_request fuzz target: an unknown op whose JSON
    /// escapes decode to a newline made the error two lines.
    #[test]
    fn an_error_quoting_the_request_stays_one_line() {
        let e = Request::parse(br#"{"op":"x\ny"}"#).unwrap_err();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains(r"x\ny"), "{e}");
    }

    #[test]
    fn requests_round_trip_and_garbage_is_refused() {
        let all = [
            Request::Identity,
            Request::Tasks,
            Request::Read {
                task: 1,
                address: 16,
                length: 4,
            },
            Request::Write {
                task: 2,
                address: 0x2000_0000,
                data: HexBytes(vec![0, 0xff]),
            },
            Request::Dump { name: None },
            Request::Dump {
                name: Some("held.dump".into()),
            },
            Request::Inject {
                task: 3,
                nth: 7,
                action: InjectAction::Restart,
            },
            Request::Fault { task: 1 },
            Request::Trace,
            Request::Registers { task: 4 },
            Request::Halt { task: 2 },
            Request::Release { task: 2 },
            Request::Step { task: 2 },
            Request::Breakpoint {
                address: 0x10_2000,
                set: true,
            },
            Request::Holds,
        ];
        for r in all {
            let line = r.to_line();
            assert!(
                line.ends_with('\n') && !line[..line.len() - 1].contains('\n')
            );
            assert_eq!(Request::parse(line.trim_end().as_bytes()), Ok(r));
        }
        assert_eq!(
            Request::parse(
                br#"{"op":"read","task":1,"address":16,"length":4}"#
            ),
            Ok(Request::Read {
                task: 1,
                address: 16,
                length: 4
            })
        );
        for bad in [
            &br#"{"op":"read","task":1}"#[..],
            br#"{"op":"format_disk"}"#,
            br#"{"op":"read","task":1,"address":0,"length":4,"x":1}"#,
            b"not json",
            b"\xff\xfe",
            br#"{"op":"write","task":1,"address":0,"data":"\xc3\xa90"}"#,
            br#"{"op":"write","task":1,"address":0,"data":"abc"}"#,
            br#"{"op":"inject","task":1,"nth":1,"action":"explode"}"#,
            br#"{"op":"registers"}"#,
            br#"{"op":"registers","task":-1}"#,
            br#"{"op":"registers","task":"jefe"}"#,
            br#"{"op":"halt"}"#,
            br#"{"op":"breakpoint","address":-1,"set":true}"#,
            br#"{"op":"breakpoint","address":4096}"#,
            br#"{"op":"breakpoint","address":4294967296,"set":true}"#,
        ] {
            assert!(Request::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_carry_ok_and_refusals_their_reason() {
        let line = answer_line(&Ok(DumpWritten {
            path: "/d/x.dump".into(),
        }));
        assert_eq!(
            parse_answer::<DumpWritten>(&line),
            Ok(DumpWritten {
                path: "/d/x.dump".into()
            })
        );
        let line = answer_line::<Done>(&Err("no task 9\n(image has 3)".into()));
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(
            parse_answer::<Done>(&line),
            Err(AnswerError::Refused("no task 9 (image has 3)".into()))
        );
        assert!(matches!(
            parse_answer::<MemoryData>(r#"{"ok":true}"#),
            Err(AnswerError::Malformed(_))
        ));
        assert!(matches!(
            parse_answer::<Done>("garbage"),
            Err(AnswerError::Malformed(_))
        ));
        assert_eq!(parse_answer::<Done>(r#"{"ok":true}"#), Ok(Done {}));
    }

    #[test]
    fn the_largest_read_answer_fits_in_the_queue() {
        let data = HexBytes(vec![0xab; MAX_READ as usize]);
        let line = answer_line(&Ok(MemoryData { data }));
        assert!(line.len() < MAX_QUEUE, "{}", line.len());
    }
}
