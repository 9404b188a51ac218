//! The hosted board's second core: SHA-256 engine transfers
//! (`sim_devices::sha256_engine`) run on a worker thread while the kernel
//! goes on serving tasks.
//!
//! A bulk write to an engine's DATA returns at once with the engine BUSY;
//! the worker hashes the bytes and sends the job back, then wakes the
//! event loop through an eventfd in its epoll set. The loop gives the job
//! back to the board ([`crate::devices::Devices::collect_finished`]),
//! which sets DONE and raises `done` through the usual
//! `take_irqs`/`raise_irq` path. Nothing else crosses threads: the worker
//! never touches the board or the task table.
//!
//! Memory safety. The worker reads task memory after the call that
//! started the transfer has returned, so it holds the memory, not a
//! borrow: a [`SharedBytes`] keeps the RAM incarnation's mapping (an
//! `Arc`, see [`crate::ram::Mapping`]) or the flash copy alive until
//! the job is done. A lender that dies or restarts meanwhile gets fresh
//! RAM; the worker finishes reading the old mapping, which is unmapped
//! when it lets go. An aborted transfer is cancelled between pieces and
//! its job dropped by the board (its id is stale).
//!
//! The thread starts with the first transfer (after the event loop has
//! blocked the signals it reads from its signalfd, which the thread
//! inherits) and ends when the kernel process does.

use crate::placement;
use crate::ram::Mapping;
use anyhow::{Context, Result};
use rustix::event::{EventfdFlags, eventfd};
use rustix::process::Pid;
use rustix::thread::CpuSet;
use sim_devices::sha256_engine::Job;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

/// How many bytes the worker hashes between looks at its cancel flag:
/// an abort waits at most this long (well under a millisecond).
const PIECE: usize = 1 << 20;

/// What keeps a [`SharedBytes`]'s memory alive.
enum Keep {
    Ram(Arc<Mapping>),
    Flash(Arc<[u8]>),
}

/// A checked range of task memory that outlives the call it came from.
pub struct SharedBytes {
    keep: Keep,
    offset: usize,
    len: usize,
}

impl SharedBytes {
    /// `len` bytes at `offset` of a RAM mapping; `None` if outside it.
    pub fn ram(map: Arc<Mapping>, offset: usize, len: usize) -> Option<Self> {
        (offset.checked_add(len)? <= map.len()).then_some(Self {
            keep: Keep::Ram(map),
            offset,
            len,
        })
    }

    /// `len` bytes at `offset` of a task's flash; `None` if outside it.
    pub fn flash(flash: Arc<[u8]>, offset: usize, len: usize) -> Option<Self> {
        (offset.checked_add(len)? <= flash.len()).then_some(Self {
            keep: Keep::Flash(flash),
            offset,
            len,
        })
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.keep {
            // Safety: `offset + len` is within the mapping (checked when
            // made), which lives as long as `self` holds its `Arc`.
            Keep::Ram(map) => unsafe {
                std::slice::from_raw_parts(map.ptr().add(self.offset), self.len)
            },
            Keep::Flash(flash) => &flash[self.offset..self.offset + self.len],
        }
    }
}

/// One transfer for the worker.
struct Work {
    /// The board index of the engine.
    engine: usize,
    job: Job,
    bytes: SharedBytes,
    cancel: Arc<AtomicBool>,
}

/// A finished (or cancelled) transfer: the engine and its job.
pub struct Finished {
    pub engine: usize,
    pub job: Job,
}

/// What the worker and the event loop share to hand finished jobs over
/// without waking a thread for nothing. The worker raises `finished`
/// after queueing a job and writes the eventfd (which rings the loop's
/// doorbell, [`crate::event_loop`]) only if the loop has said it is
/// waiting; a loop busy with traps collects the job at its next turn.
/// Both sides store, then load the other's flag, all `SeqCst`, so at
/// least one of them sees the other: the loop never waits on a job it
/// was not told about.
#[derive(Default)]
pub struct Handoff {
    finished: AtomicBool,
    loop_waiting: AtomicBool,
}

impl Handoff {
    /// The loop is about to wait for a trap. `true` if a job finished
    /// meanwhile, which it must collect instead of waiting.
    pub fn loop_will_wait(&self) -> bool {
        self.loop_waiting.store(true, Ordering::SeqCst);
        self.finished.load(Ordering::SeqCst)
    }

    /// The loop is running again. Relaxed: a worker that still sees the
    /// loop waiting only wakes it once for nothing.
    pub fn loop_runs(&self) {
        self.loop_waiting.store(false, Ordering::Relaxed);
    }

    /// The worker queued a job: whether the loop must be woken.
    fn job_finished(&self) -> bool {
        self.finished.store(true, Ordering::SeqCst);
        self.loop_waiting.load(Ordering::SeqCst)
    }
}

/// The worker thread and its channels.
pub struct Worker {
    work: mpsc::Sender<Work>,
    finished: mpsc::Receiver<Finished>,
    wake: Arc<OwnedFd>,
    handoff: Arc<Handoff>,
    /// The cancel flag of each transfer under way: (engine, job id).
    under_way: Vec<(usize, u64, Arc<AtomicBool>)>,
    /// The thread, for [`crate::placement`].
    thread: Pid,
    /// The CPUs the kernel may use, if more than one.
    allowed: Option<CpuSet>,
}

impl Worker {
    /// Starts the thread.
    pub fn start() -> Result<Self> {
        let flags = EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK;
        let wake = Arc::new(eventfd(0, flags).context("eventfd")?);
        let (work, inbox) = mpsc::channel::<Work>();
        let (outbox, finished) = mpsc::channel();
        let waker = Arc::clone(&wake);
        let handoff = Arc::new(Handoff::default());
        let theirs = Arc::clone(&handoff);
        let (tell_tid, tid) = mpsc::channel();
        std::thread::Builder::new()
            .name("sha256-engine".into())
            .spawn(move || {
                let _ = tell_tid.send(rustix::thread::gettid());
                run(&inbox, &outbox, &waker, &theirs);
            })
            .context("starting the hash engine's thread")?;
        let thread = tid.recv().context("the hash engine's thread died")?;
        let allowed = crate::placement::kernel_cpus();
        Ok(Self {
            work,
            finished,
            wake,
            handoff,
            under_way: Vec::new(),
            thread,
            allowed,
        })
    }

    /// The eventfd the worker writes when a job is finished and the loop
    /// is waiting.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// What the loop tells the worker about its waiting.
    pub fn handoff(&self) -> &Handoff {
        &self.handoff
    }

    /// The thread's id.
    pub fn thread(&self) -> Pid {
        self.thread
    }

    /// Whether a transfer is under way.
    pub fn busy(&self) -> bool {
        !self.under_way.is_empty()
    }

    /// Hands `job` over `bytes` to the thread. The first transfer after
    /// a rest moves the thread off our CPU before it wakes it: woken
    /// here, it would start behind the loop ([`crate::placement`] holds
    /// the loop and the tasks on this CPU at the loop's next turn).
    pub fn submit(&mut self, engine: usize, job: Job, bytes: SharedBytes) {
        if let (false, Some(allowed), Some(cpu)) =
            (self.busy(), &self.allowed, placement::current_cpu())
        {
            let (_, others) = placement::split(allowed, cpu);
            let _ =
                rustix::thread::sched_setaffinity(Some(self.thread), &others);
        }
        let cancel = Arc::new(AtomicBool::new(false));
        self.under_way.push((engine, job.id(), Arc::clone(&cancel)));
        let work = Work {
            engine,
            job,
            bytes,
            cancel,
        };
        // The thread only ends with the process: a send cannot fail.
        let _ = self.work.send(work);
    }

    /// Stops `engine`'s transfers under way, if any, at their next
    /// piece (the board has already dropped them).
    pub fn cancel(&mut self, engine: usize) {
        for (_, _, flag) in self.under_way.iter().filter(|w| w.0 == engine) {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Jobs finished since the last call (the flag lowered and the
    /// eventfd drained first, so a job finished after that raises them
    /// again).
    pub fn take_finished(&mut self) -> Vec<Finished> {
        self.handoff.finished.store(false, Ordering::SeqCst);
        let _ = rustix::io::read(&*self.wake, &mut [0u8; 8]);
        let done: Vec<Finished> = self.finished.try_iter().collect();
        for f in &done {
            let id = f.job.id();
            self.under_way.retain(|w| (w.0, w.1) != (f.engine, id));
        }
        done
    }
}

/// The thread: hash each job's bytes in pieces, stopping early when
/// cancelled, and send it back.
fn run(
    inbox: &mpsc::Receiver<Work>,
    outbox: &mpsc::Sender<Finished>,
    wake: &OwnedFd,
    handoff: &Handoff,
) {
    block_signals();
    while let Ok(mut w) = inbox.recv() {
        for piece in w.bytes.bytes().chunks(PIECE) {
            if w.cancel.load(Ordering::Relaxed) {
                break;
            }
            w.job.run(piece);
        }
        drop(w.bytes);
        let finished = Finished {
            engine: w.engine,
            job: w.job,
        };
        if outbox.send(finished).is_err() {
            return;
        }
        if handoff.job_finished() {
            let _ = rustix::io::write(wake, &1u64.to_ne_bytes());
        }
    }
}

/// Blocks every signal on this thread: the event loop reads the ones the
/// kernel handles from its signalfd, and a signal delivered here instead
/// would be lost to it.
fn block_signals() {
    // Safety: a signal set on our stack, filled and then only read by
    // pthread_sigmask, for this thread alone.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use sim_devices::Board;
    use sim_devices::sha256_engine::{CTRL, CTRL_ABORT, CTRL_INIT, DIGEST0};

    fn board() -> Board {
        let entries = [("hash".into(), "sha256-engine".into(), Value::Null)];
        Board::new(&entries).expect("board")
    }

    fn digest(b: &mut Board) -> Vec<u32> {
        (0..8)
            .map(|i| b.read_register(0, DIGEST0 + 4 * i, 0).expect("word"))
            .collect()
    }

    /// Waits until the worker has something for us, as the event loop
    /// does: say we are waiting (the worker writes the eventfd only
    /// then), and wait unless a job finished before we said so.
    fn finished(worker: &mut Worker) -> Vec<Finished> {
        use rustix::event::{PollFd, PollFlags, poll};
        if !worker.handoff().loop_will_wait() {
            let mut fds = [PollFd::new(&*worker.wake, PollFlags::IN)];
            poll(&mut fds, None).expect("poll");
        }
        worker.handoff().loop_runs();
        worker.take_finished()
    }

    #[test]
    fn a_transfer_on_the_worker_hashes_as_one_on_the_spot() {
        let data: Arc<[u8]> = (0..300_000u32).map(|i| i as u8).collect();
        let mut worker = Worker::start().expect("worker");
        let mut there = board();
        there.write_register(0, CTRL, CTRL_INIT, 0).unwrap();
        let job = there.start_hash(0, 299_990).expect("start");
        let bytes = SharedBytes::flash(Arc::clone(&data), 10, 299_990);
        worker.submit(0, job, bytes.expect("inside"));
        let done = finished(&mut worker);
        assert_eq!(done.len(), 1);
        for f in done {
            there.finish_hash(f.engine, f.job);
        }
        let mut here = board();
        here.write_register(0, CTRL, CTRL_INIT, 0).unwrap();
        here.write_bulk(0, &data[10..], 0).unwrap();
        assert_eq!(digest(&mut there), digest(&mut here));
    }

    #[test]
    fn an_aborted_transfer_comes_back_and_is_dropped() {
        let data: Arc<[u8]> = vec![7u8; 8 << 20].into();
        let mut worker = Worker::start().expect("worker");
        let mut b = board();
        b.write_register(0, CTRL, CTRL_INIT, 0).unwrap();
        let job = b.start_hash(0, data.len() as u64).expect("start");
        let bytes = SharedBytes::flash(Arc::clone(&data), 0, data.len());
        worker.submit(0, job, bytes.expect("inside"));
        b.write_register(0, CTRL, CTRL_ABORT, 0).unwrap();
        for engine in b.take_aborted() {
            worker.cancel(engine);
        }
        let mut done = finished(&mut worker);
        while done.is_empty() {
            done = finished(&mut worker);
        }
        for f in done {
            b.finish_hash(f.engine, f.job);
        }
        assert_eq!(b.take_irqs(), vec![]);
        assert_eq!(
            b.read_register(0, sim_devices::sha256_engine::COUNT, 0),
            Ok(0)
        );
    }

    #[test]
    fn a_range_outside_the_memory_is_no_handle() {
        let data: Arc<[u8]> = vec![0u8; 16].into();
        assert!(SharedBytes::flash(Arc::clone(&data), 8, 8).is_some());
        assert!(SharedBytes::flash(Arc::clone(&data), 8, 9).is_none());
        assert!(SharedBytes::flash(data, usize::MAX, 2).is_none());
    }
}
