//! Simulated peripherals, by model name.
//!
//! Device models live in the kernel process, as QEMU's do; a task reaches
//! them only through PERIPHERAL_IO, after the core has checked its grant.
//! The FPGA board models (SPI controllers, GPIO banks, iCE40 and Xilinx
//! configuration engines) come from `sim-devices`; the `test-device`
//! model, a plain register file that also records the last bulk write,
//! exists for the kernel conformance suite.

use crate::engine::{SharedBytes, Worker};
use abi::PeripheralOp;
use anyhow::{Result, anyhow};
use kern::PeripheralFault;
use sim_devices::Board;

/// Where a manifest peripheral lives.
enum Device {
    /// Sixteen scratch registers; a bulk write lands in them (see
    /// [`test_device`]).
    Test([u32; 16]),
    /// Index into the board.
    Board(usize),
}

/// A bulk operation's task memory: read by the device (`From`), or
/// written by it (`Into`). Only RAM is ever handed out writable.
pub enum Bulk<'a> {
    From(&'a [u8]),
    Into(&'a mut [u8]),
}

pub struct Devices {
    devices: Vec<Device>,
    board: Board,
    /// Board index → manifest index.
    board_to_manifest: Vec<usize>,
    /// The thread running hash engine transfers, if the board has an
    /// engine ([`crate::engine`]).
    worker: Option<Worker>,
}

impl Devices {
    pub fn new(manifest: &image_manifest::ImageManifest) -> Result<Self> {
        let mut devices = Vec::new();
        let mut board_entries = Vec::new();
        let mut board_to_manifest = Vec::new();
        for (i, p) in manifest.peripherals.iter().enumerate() {
            if p.model == "test-device" {
                devices.push(Device::Test([0; 16]));
            } else {
                devices.push(Device::Board(board_entries.len()));
                board_to_manifest.push(i);
                board_entries.push((
                    p.name.clone(),
                    p.model.clone(),
                    p.config.clone(),
                ));
            }
        }
        let board =
            Board::new(&board_entries).map_err(|e| anyhow!("board: {e}"))?;
        let engines = (0..board_entries.len()).any(|b| board.is_hash_engine(b));
        let worker = if engines {
            Some(Worker::start()?)
        } else {
            None
        };
        Ok(Self {
            devices,
            board,
            board_to_manifest,
            worker,
        })
    }

    /// The board index of manifest peripheral `index`, if on the board.
    fn board_index(&self, index: usize) -> Option<usize> {
        match self.devices.get(index)? {
            Device::Board(b) => Some(*b),
            Device::Test(_) => None,
        }
    }

    /// Whether `op` on peripheral `index` is a hash engine transfer, which
    /// runs on the worker thread ([`Devices::start_elsewhere`]).
    pub fn runs_elsewhere(&self, index: usize, op: PeripheralOp) -> bool {
        let bulk_out = matches!(
            op,
            PeripheralOp::WriteFromLease | PeripheralOp::WriteFromMemory
        );
        let engine = self
            .board_index(index)
            .is_some_and(|b| self.board.is_hash_engine(b));
        bulk_out && engine && self.worker.is_some()
    }

    /// Starts a hash engine transfer over `bytes` and returns at once;
    /// the engine reads BUSY until the worker is through.
    ///
    /// # Errors
    ///
    /// The engine's refusal (busy, DONE not cleared, no hash open): the
    /// caller faults.
    pub fn start_elsewhere(
        &mut self,
        index: usize,
        bytes: SharedBytes,
    ) -> Result<(), PeripheralFault> {
        let b = self.board_index(index).ok_or(PeripheralFault)?;
        let worker = self.worker.as_mut().ok_or(PeripheralFault)?;
        let len = bytes.bytes().len() as u64;
        let job = self.board.start_hash(b, len).map_err(|_| PeripheralFault)?;
        worker.submit(b, job, bytes);
        Ok(())
    }

    /// Gives the worker's finished jobs back to their engines (which
    /// raise `done`); called when its eventfd wakes the event loop.
    pub fn collect_finished(&mut self) {
        let Some(worker) = self.worker.as_mut() else {
            return;
        };
        for f in worker.take_finished() {
            self.board.finish_hash(f.engine, f.job);
        }
    }

    /// Whether a hash engine transfer is under way, and the thread running
    /// it ([`crate::placement`]).
    pub fn hashing(&self) -> (bool, Option<rustix::process::Pid>) {
        self.worker
            .as_ref()
            .map_or((false, None), |w| (w.busy(), Some(w.thread())))
    }

    /// The loop is about to wait for a trap: `true` if the hash engine's
    /// worker finished a job meanwhile, which the loop collects instead
    /// ([`crate::engine::Handoff`]).
    pub fn loop_will_wait(&self) -> bool {
        self.worker
            .as_ref()
            .is_some_and(|w| w.handoff().loop_will_wait())
    }

    /// The loop is running again.
    pub fn loop_runs(&self) {
        if let Some(w) = &self.worker {
            w.handoff().loop_runs();
        }
    }

    /// The eventfd the hash engine's worker wakes the event loop with.
    pub fn engine_wake_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.worker.as_ref().map(Worker::wake_fd)
    }

    pub fn io(
        &mut self,
        index: usize,
        op: PeripheralOp,
        register: u32,
        value: u32,
        memory: Option<Bulk<'_>>,
        now_us: u64,
    ) -> Result<u32, PeripheralFault> {
        let b = match self.devices.get_mut(index).ok_or(PeripheralFault)? {
            Device::Test(regs) => {
                return test_device(regs, op, register, value, memory);
            }
            Device::Board(b) => *b,
        };
        let board = &mut self.board;
        let r = match (op, memory) {
            (PeripheralOp::ReadRegister, _) => {
                board.read_register(b, register, now_us)
            }
            (PeripheralOp::WriteRegister, _) => {
                let r = board.write_register(b, register, value, now_us);
                // An engine's transfer aborted: stop its worker early.
                for engine in board.take_aborted() {
                    if let Some(worker) = self.worker.as_mut() {
                        worker.cancel(engine);
                    }
                }
                r.map(|()| 0)
            }
            (
                PeripheralOp::WriteFromMemory | PeripheralOp::WriteFromLease,
                Some(Bulk::From(m)),
            ) => board.write_bulk(b, m, now_us).map(|()| 0),
            (PeripheralOp::ReadIntoMemory, Some(Bulk::Into(m))) => {
                board.read_bulk(b, m, now_us).map(|()| 0)
            }
            _ => return Err(PeripheralFault),
        };
        r.map_err(|_| PeripheralFault)
    }

    /// Interrupts raised since the last call, as (manifest peripheral,
    /// line name).
    pub fn take_irqs(&mut self) -> Vec<(usize, &'static str)> {
        let map = &self.board_to_manifest;
        self.board
            .take_irqs()
            .into_iter()
            .map(|(b, line)| (map[b], line))
            .collect()
    }

    /// Lets time pass for models whose pins change by themselves.
    pub fn advance(&mut self, now_us: u64) {
        self.board.advance(now_us);
    }

    pub fn next_deadline_us(&self) -> Option<u64> {
        self.board.next_deadline()
    }
}

/// Bytes of a bulk write the test device keeps (registers 1 to 15).
const TEST_BULK_KEPT: usize = 60;

/// The test device: registers read and write as scratch; a bulk write
/// (from the task's memory or a lease) sets register 0 to its length and
/// registers 1.. to its first [`TEST_BULK_KEPT`] bytes (little-endian,
/// zero-padded), so the conformance suite can check exactly what the
/// kernel let the device read. It has no bulk read.
fn test_device(
    regs: &mut [u32; 16],
    op: PeripheralOp,
    register: u32,
    value: u32,
    memory: Option<Bulk<'_>>,
) -> Result<u32, PeripheralFault> {
    if let (
        PeripheralOp::WriteFromMemory | PeripheralOp::WriteFromLease,
        Some(Bulk::From(bytes)),
    ) = (op, &memory)
    {
        let mut kept = [0u8; TEST_BULK_KEPT];
        let n = bytes.len().min(TEST_BULK_KEPT);
        kept[..n].copy_from_slice(&bytes[..n]);
        regs[0] = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        for (r, word) in regs[1..].iter_mut().zip(kept.chunks_exact(4)) {
            *r = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        }
        return Ok(0);
    }
    let r = regs.get_mut(register as usize).ok_or(PeripheralFault)?;
    match op {
        PeripheralOp::ReadRegister => Ok(*r),
        PeripheralOp::WriteRegister => {
            *r = value;
            Ok(0)
        }
        _ => Err(PeripheralFault),
    }
}
