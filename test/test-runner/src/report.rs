//! The runner's console lines: built without allocation, and the reason
//! a task faulted, as a failed case's line gives it.

use core::fmt::Write;
use userlib::*;

/// Why task `index` is faulted: its panic message, or its fault.
pub fn write_fault(line: &mut Line, index: usize) {
    match kipc::read_task_status(index) {
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            ..
        } => {
            let mut buf = [0u8; PANIC_MESSAGE_MAX];
            match kipc::read_panic_message(index, &mut buf) {
                Ok([]) => line.push(b"panic"),
                Ok(msg) => line.push(msg),
                Err(e) => {
                    let _ = write!(line, "panic; message unreadable: {e:?}");
                }
            }
        }
        TaskState::Faulted { fault, .. } => {
            let _ = write!(line, "fault: {fault:?}");
        }
        s => {
            let _ = write!(line, "not faulted: {s:?}");
        }
    }
}

/// One console line, built without allocation. Newlines become spaces
/// (a panic message has one after its location) and what does not fit is
/// dropped.
pub struct Line {
    buf: [u8; MAX_MESSAGE_LEN],
    len: usize,
}

impl Line {
    pub fn new() -> Self {
        Self {
            buf: [0; MAX_MESSAGE_LEN],
            len: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len == self.buf.len() {
                return;
            }
            self.buf[self.len] = if b == b'\n' { b' ' } else { b };
            self.len += 1;
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}
