//! The debug probe: a Unix socket through which a debugger (humility)
//! reads and writes task memory, reads the task table, asks for a dump,
//! and injects faults.
//!
//! The protocol is one JSON object per line each way, so it can be driven
//! by hand with `socat` when humility itself is what is being debugged.
//! Requests (`op` selects the rest):
//!
//! | op | fields | answer |
//! | --- | --- | --- |
//! | `identity` | | `name`, `image_id` (hex), `git_revision`, `uptime_ms` |
//! | `tasks` | | `tasks`: index, name, generation, priority, state (hex of `abi::TaskState::encode`), syscalls, notifications, timer deadline, ram and flash ranges; `recv_mask` for a task in RECV; `panic` (`address`, `length` in its RAM) for a task that panicked |
//! | `read` | `task`, `address`, `length` | `data` (hex) |
//! | `write` | `task`, `address`, `data` (hex) | |
//! | `dump` | `path` (optional) | `path` of the dump written |
//! | `inject` | `task`, `nth`, `action` (`fault`/`restart`) | |
//! | `fault` | `task` | |
//! | `trace` | | `entries`: the kernel's own ringbuf, oldest first |
//!
//! Every answer has `ok`; a failed request has `ok: false` and `error`.
//! The socket is created with owner-only permissions: whoever can use it
//! can rewrite any task's memory.

use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Identity,
    Tasks,
    Read {
        task: usize,
        address: u32,
        length: u32,
    },
    Write {
        task: usize,
        address: u32,
        data: String,
    },
    Dump {
        path: Option<String>,
    },
    Inject {
        task: usize,
        nth: u32,
        action: String,
    },
    Fault {
        task: usize,
    },
    Trace,
}

/// Largest read a single request may ask for.
pub const MAX_READ: u32 = 16 << 20;

pub fn parse(line: &str) -> Result<Request, String> {
    serde_json::from_str(line).map_err(|e| format!("bad request: {e}"))
}

pub fn error(msg: impl std::fmt::Display) -> Value {
    json!({ "ok": false, "error": msg.to_string() })
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err("hex data has an odd length".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .map_err(|_| format!("bad hex at {i}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_garbage_is_refused() {
        assert!(matches!(parse(r#"{"op":"tasks"}"#), Ok(Request::Tasks)));
        assert!(matches!(
            parse(r#"{"op":"read","task":1,"address":16,"length":4}"#),
            Ok(Request::Read {
                task: 1,
                address: 16,
                length: 4
            })
        ));
        assert!(parse(r#"{"op":"read","task":1}"#).is_err());
        assert!(parse(r#"{"op":"format_disk"}"#).is_err());
        assert!(parse("not json").is_err());
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])).unwrap(),
            vec![0, 1, 0xab, 0xff]
        );
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }
}
