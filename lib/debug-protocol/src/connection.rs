//! One debugger connection: the bytes it sent that we have not answered,
//! and the answers it has not read.
//!
//! Nothing here blocks or grows without bound. Input is searched for
//! newlines once (only bytes not searched before), and a line longer than
//! [`MAX_LINE`] ends the connection; answers wait in a queue written
//! whenever the socket will take them, and a client that lets more than
//! [`MAX_QUEUE`] pile up is cut off. The kernel's attention never waits
//! for a client.

use crate::wire::{MAX_LINE, MAX_QUEUE};
use std::io::{ErrorKind, Read, Write};

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The client hung up, or the socket failed.
    Gone,
    /// A line longer than [`MAX_LINE`].
    LineTooLong,
    /// More than [`MAX_QUEUE`] bytes of unread answers.
    QueueFull,
}

impl Closed {
    /// What the kernel log says, or `None` for an ordinary hang-up.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Gone => None,
            Self::LineTooLong => {
                Some(format!("sent a line over {MAX_LINE} bytes"))
            }
            Self::QueueFull => {
                Some(format!("left over {MAX_QUEUE} bytes of answers unread"))
            }
        }
    }
}

/// Buffers of one connection, over any byte stream.
pub struct Connection<S> {
    pub stream: S,
    input: Vec<u8>,
    /// `input[..searched]` holds no newline.
    searched: usize,
    output: Vec<u8>,
    /// `output[..sent]` has been written.
    sent: usize,
}

/// Bytes read per readiness event: a busy client waits its turn behind
/// tasks and other clients instead of holding the loop.
pub const READ_CHUNK: usize = 64 << 10;

impl<S: Read + Write> Connection<S> {
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            input: Vec::new(),
            searched: 0,
            output: Vec::new(),
            sent: 0,
        }
    }

    /// Does the queue hold answers the socket has not taken yet?
    pub fn has_output(&self) -> bool {
        self.sent < self.output.len()
    }

    /// Reads what the client sent (once: the event loop comes back if
    /// there is more) and answers every complete line with `answer`,
    /// then writes what the socket takes.
    pub fn on_readable(
        &mut self,
        mut answer: impl FnMut(&[u8]) -> String,
    ) -> Result<(), Closed> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = match self.stream.read(&mut chunk) {
            Ok(0) => return Err(Closed::Gone),
            Ok(n) => n,
            Err(e) if would_block(&e) => return Ok(()),
            Err(_) => return Err(Closed::Gone),
        };
        self.input
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut start = 0;
        while let Some(offset) = self
            .input
            .get(self.searched..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        {
            let end = self.searched.saturating_add(offset);
            let line = self.input.get(start..end).unwrap_or_default();
            let reply = answer(trim_cr(line));
            self.queue(reply.as_bytes())?;
            start = end.saturating_add(1);
            self.searched = start;
        }
        self.input.drain(..start.min(self.input.len()));
        self.searched = self.input.len();
        if self.input.len() > MAX_LINE {
            return Err(Closed::LineTooLong);
        }
        self.flush()
    }

    /// Writes queued answers until the socket would block.
    pub fn flush(&mut self) -> Result<(), Closed> {
        while let Some(rest) =
            self.output.get(self.sent..).filter(|r| !r.is_empty())
        {
            match self.stream.write(rest) {
                Ok(0) => return Err(Closed::Gone),
                Ok(n) => self.sent = self.sent.saturating_add(n),
                Err(e) if would_block(&e) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(Closed::Gone),
            }
        }
        self.output.clear();
        self.sent = 0;
        Ok(())
    }

    fn queue(&mut self, bytes: &[u8]) -> Result<(), Closed> {
        let pending = self.output.len().saturating_sub(self.sent);
        if pending.saturating_add(bytes.len()) > MAX_QUEUE {
            return Err(Closed::QueueFull);
        }
        if self.sent > 0 && self.sent >= self.output.len() / 2 {
            self.output.drain(..self.sent);
            self.sent = 0;
        }
        self.output.extend_from_slice(bytes);
        Ok(())
    }
}

fn would_block(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::WouldBlock
}

/// A line as `socat` or a terminal may send it, `\r\n`.
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A socket double: reads come from `incoming` (then `WouldBlock`, or
    /// EOF once `hung_up`); writes take at most `room` bytes.
    #[derive(Default)]
    struct FakeSocket {
        incoming: VecDeque<Vec<u8>>,
        hung_up: bool,
        written: Vec<u8>,
        room: usize,
    }

    impl Read for FakeSocket {
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
                None if self.hung_up => Ok(0),
                None => Err(ErrorKind::WouldBlock.into()),
            }
        }
    }

    impl Write for FakeSocket {
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

    fn conn(room: usize) -> Connection<FakeSocket> {
        Connection::new(FakeSocket {
            room,
            ..Default::default()
        })
    }

    fn echo(line: &[u8]) -> String {
        format!("<{}>\n", String::from_utf8_lossy(line))
    }

    #[test]
    fn lines_split_across_reads_are_answered_in_order() {
        let mut c = conn(usize::MAX);
        for part in [&b"one\ntw"[..], b"o\r\nthr", b"ee", b"\n\n"] {
            c.stream.incoming.push_back(part.to_vec());
            c.on_readable(echo).unwrap();
        }
        assert_eq!(c.stream.written, b"<one>\n<two>\n<three>\n<>\n");
        c.stream.hung_up = true;
        assert_eq!(c.on_readable(echo), Err(Closed::Gone));
    }

    #[test]
    fn a_client_that_never_reads_is_cut_off_at_the_queue_limit() {
        let mut c = conn(0);
        let big = |_: &[u8]| "x".repeat(100 << 10) + "\n";
        let mut result = Ok(());
        for _ in 0..20 {
            c.stream.incoming.push_back(b"req\n".to_vec());
            result = c.on_readable(big);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(Closed::QueueFull));
        assert!(c.output.len() <= MAX_QUEUE);
    }

    #[test]
    fn answers_wait_for_room_and_are_written_whole_later() {
        let mut c = conn(3);
        c.stream.incoming.push_back(b"ab\ncd\n".to_vec());
        c.on_readable(echo).unwrap();
        assert_eq!(c.stream.written, b"<ab");
        assert!(c.has_output());
        c.stream.room = usize::MAX;
        c.flush().unwrap();
        assert_eq!(c.stream.written, b"<ab>\n<cd>\n");
        assert!(!c.has_output());
    }

    #[test]
    fn a_line_over_the_limit_closes_the_connection() {
        let mut c = conn(usize::MAX);
        let mut result = Ok(());
        let mut sent = 0;
        while result.is_ok() && sent <= MAX_LINE + READ_CHUNK {
            c.stream.incoming.push_back(vec![b'a'; READ_CHUNK]);
            sent += READ_CHUNK;
            result = c.on_readable(|_| panic!("no complete line"));
        }
        assert_eq!(result, Err(Closed::LineTooLong));
    }

    #[test]
    fn a_long_partial_line_is_searched_once() {
        // Many small reads of one long line: each byte is looked at once,
        // so the searched mark always ends at the buffer's end.
        let mut c = conn(usize::MAX);
        for _ in 0..1000 {
            c.stream.incoming.push_back(vec![b'a'; 100]);
            c.on_readable(|_| panic!("no line yet")).unwrap();
            assert_eq!(c.searched, c.input.len());
        }
        c.stream.incoming.push_back(b"\n".to_vec());
        let mut lines = 0;
        c.on_readable(|l| {
            lines += 1;
            assert_eq!(l.len(), 100_000);
            String::new()
        })
        .unwrap();
        assert_eq!(lines, 1);
        assert!(c.input.is_empty());
    }
}
