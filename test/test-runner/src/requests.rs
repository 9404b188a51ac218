//! The suite's requests ([`RunnerOp`]): the case loop's, and the
//! supervisor-only ones, which a runner under another supervisor refuses.

use crate::report::Line;
use crate::{Case, MAX_NAME, Runner, image, notifications};
use test_harness::{RunnerOp, word};
use userlib::*;

impl Runner {
    pub(crate) fn on_message(&mut self, m: &RecvMessage, data: &[u8]) {
        let Some(op) = RunnerOp::try_from(m.operation).ok() else {
            sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
            return;
        };
        let arg = word(data, 0);
        let supervisor_only = matches!(
            op,
            RunnerOp::ReadAndClearNotes
                | RunnerOp::SoftIrq
                | RunnerOp::AutoRestart
        );
        if supervisor_only && !image::SUPERVISOR {
            // Faults are our supervisor's business, not ours.
            sys_reply_fault(m.sender, ReplyFaultReason::UndefinedOperation);
            return;
        }
        match op {
            RunnerOp::ReadAndClearNotes => {
                let notes = core::mem::take(&mut self.notes);
                reply(m, &notes.to_le_bytes());
            }
            RunnerOp::SoftIrq => {
                // The kernel faults *us* for a mask that is not the
                // sender's IRQs; the suite only ever sends its own.
                kipc::software_irq(m.sender.index(), arg);
                reply(m, &[]);
            }
            RunnerOp::AutoRestart => {
                self.auto_restart = arg != 0;
                reply(m, &[]);
            }
            RunnerOp::NextCase => reply(m, &self.next.to_le_bytes()),
            RunnerOp::TestStart => {
                self.start(arg, data.get(4..).unwrap_or(&[]));
                reply(m, &[]);
            }
            RunnerOp::TestResult => {
                self.pass(arg);
                reply(m, &[]);
            }
            RunnerOp::TestComplete => self.finish(),
        }
    }

    fn start(&mut self, index: u32, name: &[u8]) {
        let mut case = Case {
            index,
            name: [0; MAX_NAME],
            name_len: name.len().min(MAX_NAME),
            deadline: sys_get_timer().now + image::CASE_TIMEOUT_MS,
        };
        case.name[..case.name_len].copy_from_slice(&name[..case.name_len]);
        sys_set_timer(Some(case.deadline), notifications::TIMER_MASK);
        self.auto_restart = false;
        self.current = Some(case);
    }

    fn pass(&mut self, index: u32) {
        let Some(case) = self.current.take_if(|c| c.index == index) else {
            return;
        };
        sys_set_timer(None, notifications::TIMER_MASK);
        self.passed += 1;
        self.next = case.index + 1;
        let mut line = Line::new();
        line.push(case.name());
        line.push(b" ... ok");
        kipc::console_write(line.bytes());
    }
}

/// Replies to `m`, or faults the sender if its reply buffer is too small:
/// a reply that does not fit would fault *us* (`ReplyTooBig`).
fn reply(m: &RecvMessage, data: &[u8]) {
    if (m.response_capacity as usize) < data.len() {
        sys_reply_fault(m.sender, ReplyFaultReason::ReplyBufferTooSmall);
    } else {
        sys_reply(m.sender, 0, data);
    }
}
