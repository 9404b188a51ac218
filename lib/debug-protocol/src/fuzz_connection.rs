//! The probe's server side under a fuzzer: [`run`] plays a debugger
//! client against [`Connection`], the code the kernel serves each probe
//! socket with, over an in-memory socket whose reads and writes the
//! fuzzer schedules (chunks of any size, lines split anywhere, a socket
//! that takes a few bytes or none), and answers each line as the kernel
//! does: [`Request::parse`], then an answer of the size the kernel's would
//! have (a `read` answers `length` bytes, up to [`MAX_READ`]).
//!
//! What must hold, checked after every step against a model kept here:
//! every complete line the client sent is answered once, in order, with
//! one answer line; what the socket took is exactly those answers in
//! order; nothing waits beyond [`MAX_LINE`] unframed or [`MAX_QUEUE`]
//! unread, and the connection is cut for exactly those reasons; a request
//! that parses survives its own round trip through [`Request::to_line`];
//! a refusal is one line that [`parse_answer`] reads as a refusal.
//!
//! `fuzz/fuzz_targets/probe_connection.rs` calls this (the
//! `probe_request` target fuzzes request lines alone, `crate::fuzz`).

use crate::HexBytes;
use crate::connection::{Closed, Connection, READ_CHUNK};
use crate::wire::{
    self, AnswerError, Done, InjectAction, MAX_LINE, MAX_QUEUE, MAX_READ,
    MemoryData, Request,
};
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};

/// An invariant that broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A line was answered that the client did not send (or out of order).
    WrongLine { expected: Vec<u8>, got: Vec<u8> },
    /// The socket received bytes that are not the answers, in order.
    OutputMismatch,
    /// An answer is not exactly one line.
    NotOneLine(String),
    /// A refusal that `parse_answer` does not read as one.
    BadRefusal(String),
    /// A parsed request that does not survive `to_line` and `parse`.
    RoundTrip(String),
    /// Closed for a reason that did not apply.
    WrongClose(Closed),
    /// A bound that did not hold.
    Unbounded(&'static str, usize),
    /// Still open with a complete line unanswered.
    Unanswered,
}

/// The socket double: reads come from `incoming`, then `WouldBlock`;
/// writes take at most `room` bytes.
#[derive(Default)]
struct Socket {
    incoming: VecDeque<Vec<u8>>,
    written: Vec<u8>,
    room: usize,
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.incoming.pop_front() {
            Some(mut chunk) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.incoming.push_front(chunk.split_off(n));
                }
                Ok(n)
            }
            None => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The kernel's answer to `line`, in size and shape (its content is the
/// kernel's business, and needs a live system).
fn answer(line: &[u8]) -> Result<String, Violation> {
    let request = match Request::parse(line) {
        Ok(r) => r,
        Err(why) => {
            let a = wire::answer_line::<Done>(&Err(why.clone()));
            return match wire::parse_answer::<Done>(a.trim_end()) {
                Err(AnswerError::Refused(r)) if r == why.replace('\n', " ") => {
                    Ok(a)
                }
                other => {
                    Err(Violation::BadRefusal(format!("{a:?}: {other:?}")))
                }
            };
        }
    };
    let again = Request::parse(request.to_line().trim_end().as_bytes());
    if again.as_ref() != Ok(&request) {
        return Err(Violation::RoundTrip(format!("{request:?} -> {again:?}")));
    }
    Ok(match request {
        Request::Read { length, .. } if length <= MAX_READ => {
            wire::answer_line(&Ok(MemoryData {
                data: HexBytes(vec![0; length as usize]),
            }))
        }
        Request::Read { .. } => {
            wire::answer_line::<Done>(&Err("read too large".into()))
        }
        _ => wire::answer_line(&Ok(Done {})),
    })
}

/// A well-formed request from 9 fuzzer bytes, so that the fuzzer reaches
/// the accepted paths without having to spell JSON.
fn request_from(b: &[u8; 9]) -> Request {
    let task = usize::from(b[1]);
    let x = u32::from_le_bytes([b[1], b[2], b[3], b[4]]);
    let y = u32::from_le_bytes([b[5], b[6], b[7], b[8]]);
    match b[0] % 8 {
        0 => Request::Identity,
        1 => Request::Tasks,
        // Mostly small reads; one kind in sixteen up to twice MAX_READ.
        2 => Request::Read {
            task,
            address: x,
            length: y % if b[0] & 8 != 0 { 2 * MAX_READ } else { 4096 },
        },
        3 => Request::Write {
            task,
            address: x,
            data: HexBytes(b[5..].to_vec()),
        },
        4 => Request::Dump {
            name: (b[2] & 1 == 1)
                .then(|| String::from_utf8_lossy(&b[3..]).into_owned()),
        },
        5 => Request::Inject {
            task,
            nth: y,
            action: if b[2] & 1 == 0 {
                InjectAction::Fault
            } else {
                InjectAction::Restart
            },
        },
        6 => Request::Fault { task },
        _ => Request::Trace,
    }
}

/// What the model expects of the connection.
#[derive(Default)]
struct Model {
    /// Every byte the client has sent.
    sent: Vec<u8>,
    /// `sent[..framed]` has been split into lines already answered.
    framed: usize,
    /// Every answer produced, concatenated.
    answers: Vec<u8>,
}

impl Model {
    /// The next complete line the client sent (without `\r\n`), and
    /// where the bytes after it start.
    fn next_line(&self) -> Option<(&[u8], usize)> {
        let rest = self.sent.get(self.framed..)?;
        let n = rest.iter().position(|&b| b == b'\n')?;
        let line = &rest[..n];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        Some((line, self.framed + n + 1))
    }
}

/// Runs one scripted session. The first byte is the socket's initial
/// room; then each op is one byte (`op & 3` says what, `op >> 2` how
/// much): 0 send a chunk (`len` byte, then the bytes, repeated `1 <<
/// (op >> 2 & 7)` times, or 4096 times if `op >> 2` is 15), 1 set the room to `next * 64`
/// bytes (0: none), 2 the socket became writable, 3 send a well-formed
/// request made from the next 9 bytes.
///
/// # Errors
///
/// The first [`Violation`].
pub fn run(data: &[u8]) -> Result<(), Violation> {
    session(data).map(|_| ())
}

/// [`run`], also saying why the connection was cut, if it was.
///
/// # Errors
///
/// The first [`Violation`].
pub fn session(data: &[u8]) -> Result<Option<Closed>, Violation> {
    let Some((&room, mut script)) = data.split_first() else {
        return Ok(None);
    };
    let mut conn = Connection::new(Socket {
        room: usize::from(room) * 64,
        ..Socket::default()
    });
    let mut model = Model::default();
    while let Some((&op, rest)) = script.split_first() {
        script = rest;
        let outcome = match op & 3 {
            0 => {
                let Some((&len, rest)) = script.split_first() else {
                    break;
                };
                let n = usize::from(len).min(rest.len());
                let chunk = &rest[..n];
                script = &rest[n..];
                // Up to 128 times, or 4096 (past MAX_LINE in two ops):
                // most inputs stay small and fast.
                let times = match op >> 2 {
                    15 => 4096,
                    n => 1usize << (n % 8),
                };
                let mut bytes = Vec::with_capacity(chunk.len() * times);
                for _ in 0..times {
                    bytes.extend_from_slice(chunk);
                }
                read(&mut conn, &mut model, bytes)?
            }
            1 => {
                let Some((&r, rest)) = script.split_first() else {
                    break;
                };
                script = rest;
                conn.stream.room = usize::from(r) * 64;
                Ok(())
            }
            2 => conn.flush(),
            _ => {
                let Some(b) = script.first_chunk::<9>() else {
                    break;
                };
                script = &script[9..];
                let line = request_from(b).to_line().into_bytes();
                read(&mut conn, &mut model, line)?
            }
        };
        check_output(&conn, &model)?;
        if let Err(closed) = outcome {
            check_close(&closed, &model, &conn)?;
            return Ok(Some(closed));
        }
    }
    Ok(None)
}

/// Hands `bytes` to the connection as the kernel's event loop does (one
/// read per readiness event, until the socket has nothing more).
fn read(
    conn: &mut Connection<Socket>,
    model: &mut Model,
    bytes: Vec<u8>,
) -> Result<Result<(), Closed>, Violation> {
    // A socket read returns 0 bytes only at the end of the stream, which
    // an empty chunk would fake.
    if bytes.is_empty() {
        return Ok(Ok(()));
    }
    model.sent.extend_from_slice(&bytes);
    conn.stream.incoming.push_back(bytes);
    while !conn.stream.incoming.is_empty() {
        let mut problem = None;
        let outcome = conn.on_readable(|line| {
            let expected = model.next_line();
            match expected {
                Some((want, next)) if want == line => {
                    model.framed = next;
                }
                _ => {
                    problem.get_or_insert(Violation::WrongLine {
                        expected: expected
                            .map(|e| e.0.to_vec())
                            .unwrap_or_default(),
                        got: line.to_vec(),
                    });
                }
            }
            if line.len() > MAX_LINE + READ_CHUNK {
                problem.get_or_insert(Violation::Unbounded("line", line.len()));
            }
            let a = answer(line).unwrap_or_else(|v| {
                problem.get_or_insert(v);
                String::new()
            });
            if !a.ends_with('\n') || a.matches('\n').count() != 1 {
                problem.get_or_insert(Violation::NotOneLine(a.clone()));
            }
            model.answers.extend_from_slice(a.as_bytes());
            a
        });
        if let Some(v) = problem {
            return Err(v);
        }
        if outcome.is_err() {
            return Ok(outcome);
        }
        // Every complete line read has been answered; what is left of
        // the input is short.
        if conn.stream.incoming.is_empty() {
            if model.next_line().is_some() {
                return Err(Violation::Unanswered);
            }
            let unframed = model.sent.len() - model.framed;
            if unframed > MAX_LINE {
                return Err(Violation::Unbounded("unframed input", unframed));
            }
        }
    }
    Ok(Ok(()))
}

/// The socket holds a prefix of the answers, and what it does not hold
/// yet is within the queue bound.
fn check_output(
    conn: &Connection<Socket>,
    model: &Model,
) -> Result<(), Violation> {
    let written = &conn.stream.written;
    if !model.answers.starts_with(written) {
        return Err(Violation::OutputMismatch);
    }
    Ok(())
}

/// The connection was cut: it must have been for a reason that applied.
fn check_close(
    closed: &Closed,
    model: &Model,
    conn: &Connection<Socket>,
) -> Result<(), Violation> {
    let unread = model
        .answers
        .len()
        .saturating_sub(conn.stream.written.len());
    let not_read_yet: usize = conn.stream.incoming.iter().map(Vec::len).sum();
    let unframed = model.sent.len().saturating_sub(model.framed + not_read_yet);
    let fair = match closed {
        Closed::Gone => false,
        Closed::LineTooLong => unframed > MAX_LINE,
        // The answer that did not fit was produced but never queued.
        Closed::QueueFull => unread > MAX_QUEUE,
    };
    if fair {
        Ok(())
    } else {
        Err(Violation::WrongClose(closed.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuzz_dir() -> std::path::PathBuf {
        fuzz_replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"))
    }

    /// Seeds: a session of well-formed requests, lines split and joined
    /// across reads with `\r\n`, garbage and non-ASCII hex, a client that
    /// never reads (queue cut), and a line past the bound.
    fn seeds() -> Vec<(String, Vec<u8>)> {
        let line = |s: &str| {
            let mut v = vec![0u8, s.len() as u8];
            v.extend_from_slice(s.as_bytes());
            v
        };
        let mut requests = vec![255u8];
        for k in 0..8u8 {
            requests.extend([3, k, 1, 0, 0, 16, 64, 0, 0, 0]);
        }
        let mut split = vec![4u8];
        split.extend(line("{\"op\":\"ide"));
        split.extend(line("ntity\"}\r\n{\"op\":\"tasks\"}\n{\"op\""));
        split.extend([2]);
        split.extend(line(":\"trace\"}\n"));
        let mut garbage = vec![1u8];
        for l in [
            "\u{ff}\u{fe}garbage\n",
            "{\"op\":\"write\",\"task\":1,\"address\":0,\"data\":\"\u{e9}0\"}\n",
            "{\"op\":\"read\",\"task\":1e400,\"address\":0,\"length\":1}\n",
            "[1,2,3]\n\n\r\n",
        ] {
            garbage.extend(line(l));
        }
        // Reads of MAX_READ with a socket that takes nothing: the queue
        // is cut at the fifth.
        let mut stalled = vec![0u8];
        for _ in 0..8 {
            stalled.extend([3, 10, 1, 0, 0, 0, 0, 0, 4, 0]);
        }
        // 255 bytes, 4096 times, twice: a line over 1 MiB.
        let mut long = vec![0u8];
        for _ in 0..2 {
            long.extend([15 << 2, 255]);
            long.extend([b'a'; 255]);
        }
        [
            ("requests", requests),
            ("split-lines", split),
            ("garbage", garbage),
            ("stalled-reader", stalled),
            ("huge-line", long),
        ]
        .into_iter()
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .collect()
    }

    #[test]
    fn seeds_hold_and_reach_both_cuts() {
        let mut cuts = Vec::new();
        for (name, bytes) in seeds() {
            match session(&bytes) {
                Ok(closed) => cuts.push((name.clone(), closed)),
                Err(v) => panic!("{name}: {v:?}"),
            }
        }
        let cuts: Vec<(&str, Option<Closed>)> =
            cuts.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
        assert_eq!(
            cuts,
            [
                ("requests", None),
                ("split-lines", None),
                ("garbage", None),
                ("stalled-reader", Some(Closed::QueueFull)),
                ("huge-line", Some(Closed::LineTooLong)),
            ]
        );
    }

    #[test]
    fn the_model_notices_a_lost_answer() {
        let model = Model {
            answers: b"{\"ok\":true}\n".to_vec(),
            ..Model::default()
        };
        let mut conn = Connection::new(Socket::default());
        conn.stream.written = b"{\"ok\":false}\n".to_vec();
        assert_eq!(check_output(&conn, &model), Err(Violation::OutputMismatch));
        assert_eq!(
            check_close(&Closed::QueueFull, &model, &conn),
            Err(Violation::WrongClose(Closed::QueueFull))
        );
    }

    #[test]
    fn the_checked_in_corpus_and_regressions_replay_clean() {
        fuzz_replay::bless(&fuzz_dir(), "probe_connection", &seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "probe_connection", run);
        assert!(n >= seeds().len(), "only {n} inputs replayed");
    }
}
