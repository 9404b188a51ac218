//! What humility inspects: a running system through the kernel's debug
//! probe, or a dump file the kernel wrote.
//!
//! Both give the same task table and memory reads, so every command but
//! those that change the system (`hiffy`, `jefe`, `dump`) works on
//! either. Each is checked against the archive's image id when opened:
//! decoding memory with another build's DWARF would print confident
//! nonsense.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use debug_protocol::wire::{
    self, DumpWritten, Identity, MAX_LINE, MAX_QUEUE, MAX_READ, MemoryData,
    Request, TaskTable,
};
use debug_protocol::{HexBytes, Registers, dump};
use serde::de::DeserializeOwned;

use crate::archive::Archive;

pub use debug_protocol::TaskRow;

/// How long we wait for the probe to answer one request. The kernel
/// answers between two events, so only a wedged kernel takes this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of task memory per `write` request: the hex and the envelope stay
/// well inside the kernel's line limit.
const WRITE_CHUNK: usize = MAX_LINE / 4;

/// A running system or a dump.
pub enum Target {
    Live(Probe),
    Dump(Dump),
    /// An emulated board, through QEMU's GDB stub.
    Qemu(Box<crate::qemu::Board>),
}

impl Target {
    /// The kernel's task table.
    ///
    /// # Errors
    ///
    /// If the probe fails.
    pub fn tasks(&mut self) -> Result<Vec<TaskRow>> {
        match self {
            Self::Live(p) => p.tasks(),
            Self::Dump(d) => Ok(d.tasks.clone()),
            Self::Qemu(b) => b.tasks(),
        }
    }

    /// Milliseconds since boot (at the time of the dump, for a dump).
    pub fn uptime_ms(&self) -> u64 {
        match self {
            Self::Live(p) => p.uptime_ms,
            Self::Dump(d) => d.uptime_ms,
            Self::Qemu(b) => b.uptime_ms,
        }
    }

    /// Reads task memory (RAM or flash).
    ///
    /// # Errors
    ///
    /// If the range is outside the task, or the probe fails.
    pub fn read(
        &mut self,
        archive: &Archive,
        task: usize,
        address: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        match self {
            Self::Live(p) => p.read(task, address, len),
            Self::Dump(d) => d.read(archive, task, address, len),
            Self::Qemu(b) => b.read(archive, task, address, len),
        }
    }

    /// Writes task RAM; only a live system can be written.
    ///
    /// # Errors
    ///
    /// For a dump, or if the probe refuses.
    pub fn write(
        &mut self,
        task: usize,
        address: u64,
        data: &[u8],
    ) -> Result<()> {
        match self {
            Self::Live(p) => p.write(task, address, data),
            Self::Qemu(b) => b.write(task, address, data),
            Self::Dump(_) => bail!(
                "a dump cannot be changed; attach to a running system \
                 (without -d) for this command"
            ),
        }
    }

    /// Task `task`'s registers: now for a live system (at its fault for
    /// a faulted task), as the dump recorded them for a dump.
    ///
    /// # Errors
    ///
    /// If the kernel cannot read them (it says why), or the dump has none
    /// for the task.
    pub fn registers(&mut self, task: usize) -> Result<Registers> {
        match self {
            Self::Live(p) => p.call(&Request::Registers { task }),
            Self::Qemu(_) => bail!(
                "registers are not read from a QEMU board yet (the kernel \
                 keeps them in its own format); use GDB on QEMU's stub"
            ),
            Self::Dump(d) => {
                d.registers.get(task).cloned().flatten().ok_or_else(|| {
                    anyhow!(
                        "the dump has no registers for task {task} (it was \
                         not running, or the dump predates registers)"
                    )
                })
            }
        }
    }

    /// The probe, for commands that need a live system.
    ///
    /// # Errors
    ///
    /// For a dump.
    pub fn live(&mut self, what: &str) -> Result<&mut Probe> {
        match self {
            Self::Live(p) => Ok(p),
            Self::Qemu(_) => bail!(
                "{what} needs the hosted kernel's probe; not available on \
                 a QEMU board"
            ),
            Self::Dump(_) => {
                bail!("{what} needs a running system; it cannot work on a dump")
            }
        }
    }
}

impl Target {
    /// Checks that the target can be written (a running system, hosted
    /// or QEMU), for commands that change task memory.
    ///
    /// # Errors
    ///
    /// For a dump.
    pub fn writable(&self, what: &str) -> Result<()> {
        match self {
            Self::Live(_) | Self::Qemu(_) => Ok(()),
            Self::Dump(_) => {
                bail!("{what} needs a running system; it cannot work on a dump")
            }
        }
    }

    /// Lets the system run for `time` before the next read: a sleep for
    /// the hosted kernel (it runs anyway), for a QEMU board the time it
    /// may run between two stops.
    ///
    /// # Errors
    ///
    /// If the GDB stub fails.
    pub fn let_run(&mut self, time: Duration) -> Result<()> {
        match self {
            Self::Qemu(b) => b.run_for(time),
            _ => {
                std::thread::sleep(time);
                Ok(())
            }
        }
    }
}

/// A connection to the kernel's debug probe socket.
pub struct Probe {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// From `identity` at attach time.
    pub identity: Identity,
    /// From `identity` at attach time.
    pub uptime_ms: u64,
}

impl Probe {
    /// Connects, checks that the kernel at the other end is ours (its
    /// uid: anyone else could be answering in its place), and that the
    /// running image is the archive's.
    ///
    /// # Errors
    ///
    /// "system not running" if there is no socket or nobody listens; a
    /// foreign server; the image mismatch if the ids differ.
    pub fn attach(path: &Path, archive: &Archive) -> Result<Self> {
        let stream = UnixStream::connect(path).map_err(|e| {
            use std::io::ErrorKind::*;
            match e.kind() {
                NotFound => anyhow!(
                    "system not running: no probe socket at {} (start it \
                     with `cargo xtask run`, or use -d <dump>)",
                    path.display()
                ),
                ConnectionRefused => anyhow!(
                    "system not running: nothing listens on {} (the kernel \
                     exited?)",
                    path.display()
                ),
                _ => anyhow!("cannot connect to {}: {e}", path.display()),
            }
        })?;
        let server =
            rustix::net::sockopt::socket_peercred(&stream).map_err(|e| {
                anyhow!("{}: no peer credentials: {e}", path.display())
            })?;
        let us = rustix::process::geteuid().as_raw();
        if server.uid.as_raw() != us {
            bail!(
                "the probe at {} is served by uid {}, not by us (uid {us}); \
                 refusing to talk to it",
                path.display(),
                server.uid.as_raw()
            );
        }
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        let writer = stream.try_clone()?;
        let mut probe = Self {
            path: path.to_owned(),
            reader: BufReader::new(stream),
            writer,
            identity: Identity {
                name: String::new(),
                image_id: String::new(),
                git_revision: String::new(),
                uptime_ms: 0,
                dump_dir: None,
            },
            uptime_ms: 0,
        };
        let id: Identity = probe.call(&Request::Identity)?;
        if id.image_id != archive.image_id() {
            bail!(
                "archive and running image differ (archive {}, running {})",
                archive.image_id(),
                id.image_id
            );
        }
        probe.uptime_ms = id.uptime_ms;
        probe.identity = id;
        Ok(probe)
    }

    /// Sends one request and returns its answer.
    ///
    /// # Errors
    ///
    /// If the socket closes or times out, the answer is malformed, or the
    /// kernel refuses (with its reason).
    pub fn call<T: DeserializeOwned>(
        &mut self,
        request: &Request,
    ) -> Result<T> {
        let closed = || {
            anyhow!(
                "the probe at {} closed the connection mid-command (did the \
                 kernel exit?)",
                self.path.display()
            )
        };
        self.writer
            .write_all(request.to_line().as_bytes())
            .map_err(|_| closed())?;
        let mut answer = String::new();
        // An answer is never longer than the kernel's queue.
        let limit = u64::try_from(MAX_QUEUE).unwrap_or(u64::MAX);
        match (&mut self.reader).take(limit).read_line(&mut answer) {
            Ok(0) => return Err(closed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!(
                    "the probe at {} did not answer within {} s",
                    self.path.display(),
                    PROBE_TIMEOUT.as_secs()
                )
            }
            Err(_) => return Err(closed()),
        }
        if !answer.ends_with('\n') {
            return Err(closed());
        }
        Ok(wire::parse_answer(&answer)?)
    }

    fn tasks(&mut self) -> Result<Vec<TaskRow>> {
        let table: TaskTable = self.call(&Request::Tasks)?;
        Ok(table.tasks)
    }

    /// Reads task memory, in requests of at most [`MAX_READ`] bytes.
    ///
    /// # Errors
    ///
    /// As [`Self::call`], or a short answer.
    pub fn read(
        &mut self,
        task: usize,
        address: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let outside = || anyhow!("{address:#x}+{len:#x} is not a 32-bit range");
        let start = u32::try_from(address).map_err(|_| outside())?;
        let len = u32::try_from(len).map_err(|_| outside())?;
        start.checked_add(len).ok_or_else(outside)?;
        let mut out = Vec::with_capacity(len as usize);
        let mut done = 0u32;
        while done < len {
            let length = (len - done).min(MAX_READ);
            let answer: MemoryData = self.call(&Request::Read {
                task,
                address: start + done,
                length,
            })?;
            if answer.data.0.len() != length as usize {
                bail!(
                    "the probe sent {} bytes, not {length}",
                    answer.data.0.len()
                );
            }
            out.extend_from_slice(&answer.data.0);
            done += length;
        }
        Ok(out)
    }

    /// Writes task RAM, in requests that fit the kernel's line limit.
    ///
    /// # Errors
    ///
    /// As [`Self::call`].
    pub fn write(
        &mut self,
        task: usize,
        address: u64,
        data: &[u8],
    ) -> Result<()> {
        let mut at = u32::try_from(address)
            .map_err(|_| anyhow!("{address:#x} is not a 32-bit address"))?;
        for chunk in data.chunks(WRITE_CHUNK) {
            let _: wire::Done = self.call(&Request::Write {
                task,
                address: at,
                data: HexBytes(chunk.to_vec()),
            })?;
            at = at.wrapping_add(chunk.len() as u32);
        }
        Ok(())
    }

    /// Asks for a dump, named `name` in the kernel's dump directory or
    /// named by the kernel; returns its path.
    ///
    /// # Errors
    ///
    /// As [`Self::call`] (a taken name, the dump caps).
    pub fn dump(&mut self, name: Option<&str>) -> Result<String> {
        let written: DumpWritten = self.call(&Request::Dump {
            name: name.map(str::to_owned),
        })?;
        Ok(written.path)
    }
}

/// A dump file: the task table and every task's RAM; flash comes from
/// the archive's ELFs.
pub struct Dump {
    pub tasks: Vec<TaskRow>,
    pub uptime_ms: u64,
    /// Why the kernel wrote it.
    pub reason: String,
    /// Task `i`'s registers, where the kernel could read them.
    pub registers: Vec<Option<Registers>>,
    ram: HashMap<usize, Vec<u8>>,
}

impl Dump {
    /// Opens a dump and checks it against the archive. Reads at most what
    /// the archive says the tasks' RAM holds, whatever the file claims.
    ///
    /// # Errors
    ///
    /// One line: unreadable, corrupt or truncated, another format, or
    /// another image.
    pub fn open(path: &Path, archive: &Archive) -> Result<Self> {
        let name = path.display();
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow!("cannot open dump {name}: {e}"))?;
        let sizes: Vec<u64> = archive
            .manifest
            .tasks
            .iter()
            .map(|t| u64::from(t.ram.size))
            .collect();
        let contents = dump::read(std::io::BufReader::new(file), &sizes)
            .map_err(|e| anyhow!("dump {name}: {e}"))?;
        if contents.header.image_id != archive.image_id() {
            bail!(
                "dump {name} is of another image (archive {}, dump {})",
                archive.image_id(),
                contents.header.image_id
            );
        }
        Ok(Self {
            tasks: contents.header.tasks,
            uptime_ms: contents.header.uptime_ms,
            reason: contents.header.reason,
            registers: contents.header.registers,
            ram: contents.ram.into_iter().enumerate().collect(),
        })
    }
    fn read(
        &self,
        archive: &Archive,
        task: usize,
        address: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let entry = archive.task_at(task)?;
        if entry.ram.contains(address, len) {
            let ram = self.ram.get(&task).map(Vec::as_slice).unwrap_or(&[]);
            let start = (address - u64::from(entry.ram.base)) as usize;
            return ram
                .get(start..start + len as usize)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| anyhow!("dump lacks {address:#x}+{len:#x}"));
        }
        if entry.flash.contains(address, len) {
            return archive.elf(task)?.read(address, len).ok_or_else(|| {
                anyhow!("{address:#x}+{len:#x} is not in {}'s ELF", entry.name)
            });
        }
        bail!(
            "{address:#x}+{len:#x} is outside task {}'s memory",
            entry.name
        )
    }
}

/// Lower-case hex, as the probe speaks it.
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// The inverse of [`hex`]; `None` if malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    ::hex::decode(s).ok()
}
