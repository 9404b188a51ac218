//! Jefe's IPC interface (`idl/jefe.idol`): the ops other tasks call.
//! Who may call each op is app.toml's `allowed-callers`, checked by the
//! generated server before any of these runs.

use idol_runtime::{ClientError, Leased, RequestError, W};
use ringbuf::ringbuf_entry_root;
use task_jefe_api::{Disposition, JefeError};
use userlib::RecvMessage;

use crate::generated::{NUM_TASKS, STATE_CHANGE_LIST};
use crate::{
    ServerImpl, Trace, checked_index, idl, now, post, task_id, watchdog,
};

type Simple<T> = Result<T, RequestError<core::convert::Infallible>>;
type Fallible<T> = Result<T, RequestError<JefeError>>;

impl idl::InOrderJefeImpl for ServerImpl {
    fn get_state(&mut self, _: &RecvMessage) -> Simple<u32> {
        Ok(self.state)
    }

    fn set_state(&mut self, _: &RecvMessage, state: u32) -> Simple<()> {
        if state != self.state {
            self.state = state;
            ringbuf_entry_root!(Trace::StateChanged(state));
            STATE_CHANGE_LIST.iter().copied().for_each(post);
        }
        Ok(())
    }

    fn restart_me_raw(&mut self, msg: &RecvMessage) -> Simple<()> {
        let i = msg.sender.index();
        // The kernel never delivers a message from task 0 (us) or from
        // past the table; refuse rather than index out of bounds.
        if i == 0 || i >= NUM_TASKS {
            return Err(RequestError::Fail(ClientError::BadMessageContents));
        }
        ringbuf_entry_root!(Trace::RestartMe(msg.sender));
        self.restart(i, now());
        // The stub's reply goes to the old generation, so the kernel
        // drops it: the new incarnation starts from `main`.
        Ok(())
    }

    fn read_fault_counts(
        &mut self,
        _: &RecvMessage,
        data: Leased<W, [u32]>,
    ) -> Simple<u32> {
        let n = data.len().min(NUM_TASKS);
        data.write_range(0..n, &self.fault_counts[..n])
            .map_err(|()| RequestError::went_away())?;
        // NUM_TASKS is at most 1024 (a TaskId index has 10 bits).
        Ok(NUM_TASKS as u32)
    }

    fn set_disposition(
        &mut self,
        _: &RecvMessage,
        task_index: u32,
        disposition: Disposition,
    ) -> Fallible<()> {
        let i = checked_index(task_index)?;
        match disposition {
            Disposition::Hold => self.hold(i),
            Disposition::Restart => self.release(i, now()),
        }
        ringbuf_entry_root!(Trace::SetDisposition {
            task: task_id(i),
            disposition,
        });
        Ok(())
    }

    fn arm_watchdog(
        &mut self,
        msg: &RecvMessage,
        task_index: u32,
        ms: u32,
    ) -> Fallible<()> {
        let i = checked_index(task_index)?;
        let deadline = now().saturating_add(u64::from(ms));
        let w = watchdog::Watchdog {
            target: task_id(i),
            armer: msg.sender,
            deadline,
        };
        self.watchdogs[i] = Some(w);
        ringbuf_entry_root!(Trace::WatchdogArmed {
            task: w.target,
            by: msg.sender,
            deadline,
        });
        self.arm_timer();
        Ok(())
    }

    fn disarm_watchdog(
        &mut self,
        _: &RecvMessage,
        task_index: u32,
    ) -> Fallible<()> {
        let i = checked_index(task_index)?;
        if let Some(w) = self.watchdogs[i].take() {
            ringbuf_entry_root!(Trace::WatchdogDisarmed(w.target));
        }
        Ok(())
    }

    fn get_disposition(
        &mut self,
        _: &RecvMessage,
        task_index: u32,
    ) -> Fallible<Disposition> {
        Ok(self.disposition[checked_index(task_index)?])
    }

    fn dump_task(&mut self, _: &RecvMessage, task_index: u32) -> Fallible<()> {
        let i = checked_index(task_index)?;
        let ok = userlib::kipc::dump_task(i);
        ringbuf_entry_root!(Trace::Dumped {
            task: task_id(i),
            ok
        });
        if ok {
            Ok(())
        } else {
            Err(JefeError::DumpFailed.into())
        }
    }
}
