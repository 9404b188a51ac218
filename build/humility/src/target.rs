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
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::archive::Archive;

/// How long we wait for the probe to answer one request. The kernel
/// answers between two events, so only a wedged kernel takes this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The dump format we read (the kernel's `dump::FORMAT`).
pub const DUMP_FORMAT: &str = "leasehold-dump-1";

/// One row of the kernel's task table, as the probe and dumps give it.
#[derive(Clone, Debug, Deserialize)]
pub struct TaskRow {
    pub index: usize,
    pub name: String,
    pub generation: u8,
    pub priority: u8,
    /// Hex of `abi::TaskState::encode`.
    pub state: String,
    #[serde(default)]
    pub syscalls: u64,
    /// Pending (posted, not yet delivered) notification bits.
    #[serde(default)]
    pub notifications: u32,
    /// Timer deadline, ms since boot.
    #[serde(default)]
    pub timer: Option<u64>,
    /// The notification mask of the task's RECV, if the kernel reports
    /// it (older kernels do not).
    #[serde(default)]
    pub recv_mask: Option<u32>,
    /// Where the message of a task that panicked is in its RAM.
    #[serde(default)]
    pub panic: Option<PanicAt>,
}

/// A panic message's place in task RAM, as the kernel reports it.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct PanicAt {
    pub address: u64,
    pub length: u64,
}

impl TaskRow {
    /// The decoded state.
    ///
    /// # Errors
    ///
    /// If the hex or the encoding is malformed.
    pub fn decode_state(&self) -> Result<abi::TaskState> {
        let bytes = unhex(&self.state).ok_or_else(|| {
            anyhow!("task {}: state {:?} is not hex", self.name, self.state)
        })?;
        abi::TaskState::decode(&bytes).ok_or_else(|| {
            anyhow!("task {}: undecodable state {}", self.name, self.state)
        })
    }
}

/// A running system or a dump.
pub enum Target {
    Live(Probe),
    Dump(Dump),
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
        }
    }

    /// Milliseconds since boot (at the time of the dump, for a dump).
    pub fn uptime_ms(&self) -> u64 {
        match self {
            Self::Live(p) => p.uptime_ms,
            Self::Dump(d) => d.uptime_ms,
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
            Self::Dump(_) => bail!(
                "a dump cannot be changed; attach to a running system \
                 (without -d) for this command"
            ),
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
            Self::Dump(_) => {
                bail!("{what} needs a running system; it cannot work on a dump")
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
    pub uptime_ms: u64,
}

impl Probe {
    /// Connects and checks that the running image is the archive's.
    ///
    /// # Errors
    ///
    /// "system not running" if there is no socket or nobody listens; the
    /// image mismatch if the ids differ.
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
        stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
        stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
        let writer = stream.try_clone()?;
        let mut probe = Self {
            path: path.to_owned(),
            reader: BufReader::new(stream),
            writer,
            uptime_ms: 0,
        };
        let id = probe.request(json!({ "op": "identity" }))?;
        let running = id["image_id"].as_str().unwrap_or("?").to_string();
        if running != archive.image_id() {
            bail!(
                "archive and running image differ (archive {}, running \
                 {running})",
                archive.image_id()
            );
        }
        probe.uptime_ms = id["uptime_ms"].as_u64().unwrap_or(0);
        Ok(probe)
    }

    /// Sends one request and returns the answer, `ok` checked.
    ///
    /// # Errors
    ///
    /// If the socket closes or times out, or the kernel refuses.
    pub fn request(&mut self, request: Json) -> Result<Json> {
        let mut line = request.to_string();
        line.push('\n');
        let closed = || {
            anyhow!(
                "the probe at {} closed the connection mid-command (did the \
                 kernel exit?)",
                self.path.display()
            )
        };
        self.writer
            .write_all(line.as_bytes())
            .map_err(|_| closed())?;
        let mut answer = String::new();
        match self.reader.read_line(&mut answer) {
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
        let value: Json = serde_json::from_str(&answer)
            .map_err(|e| anyhow!("the probe sent a malformed answer: {e}"))?;
        if value["ok"] != Json::Bool(true) {
            let why = value["error"].as_str().unwrap_or("no reason given");
            bail!("the kernel refused: {why}");
        }
        Ok(value)
    }

    fn tasks(&mut self) -> Result<Vec<TaskRow>> {
        let answer = self.request(json!({ "op": "tasks" }))?;
        serde_json::from_value(answer["tasks"].clone())
            .map_err(|e| anyhow!("the probe sent a malformed task table: {e}"))
    }

    /// Reads task memory.
    ///
    /// # Errors
    ///
    /// As [`Self::request`].
    pub fn read(
        &mut self,
        task: usize,
        address: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let answer = self.request(json!({
            "op": "read", "task": task, "address": address, "length": len,
        }))?;
        let data = answer["data"].as_str().unwrap_or_default();
        let bytes = unhex(data)
            .ok_or_else(|| anyhow!("the probe sent malformed data"))?;
        if bytes.len() as u64 != len {
            bail!("the probe sent {} bytes, not {len}", bytes.len());
        }
        Ok(bytes)
    }

    /// Writes task RAM.
    ///
    /// # Errors
    ///
    /// As [`Self::request`].
    pub fn write(
        &mut self,
        task: usize,
        address: u64,
        data: &[u8],
    ) -> Result<()> {
        self.request(json!({
            "op": "write", "task": task, "address": address, "data": hex(data),
        }))?;
        Ok(())
    }
}

/// A dump file: the task table and every task's RAM; flash comes from
/// the archive's ELFs.
pub struct Dump {
    pub tasks: Vec<TaskRow>,
    pub uptime_ms: u64,
    /// Why the kernel wrote it.
    pub reason: String,
    ram: HashMap<usize, Vec<u8>>,
}

/// `dump.json`'s header fields.
#[derive(Deserialize)]
struct DumpHeader {
    format: String,
    image_id: String,
    #[serde(default)]
    uptime_ms: u64,
    #[serde(default)]
    reason: String,
    tasks: Vec<TaskRow>,
}

impl Dump {
    /// Opens a dump and checks it against the archive.
    ///
    /// # Errors
    ///
    /// One line: unreadable, corrupt or truncated, another format, or
    /// another image.
    pub fn open(path: &Path, archive: &Archive) -> Result<Self> {
        let name = path.display();
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow!("cannot open dump {name}: {e}"))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| {
            anyhow!("dump {name} is corrupt or truncated ({e})")
        })?;
        let mut entry = |n: &str| -> Result<Vec<u8>> {
            let mut f = zip.by_name(n).map_err(|e| {
                anyhow!("dump {name} is corrupt or truncated ({n}: {e})")
            })?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map_err(|e| {
                anyhow!("dump {name} is corrupt or truncated ({n}: {e})")
            })?;
            Ok(bytes)
        };
        let header: DumpHeader = serde_json::from_slice(&entry("dump.json")?)
            .map_err(|e| {
            anyhow!("dump {name}: malformed dump.json: {e}")
        })?;
        if header.format != DUMP_FORMAT {
            bail!(
                "{name} is a {:?} dump; this humility reads {DUMP_FORMAT:?}",
                header.format
            );
        }
        if header.image_id != archive.image_id() {
            bail!(
                "dump {name} is of another image (archive {}, dump {})",
                archive.image_id(),
                header.image_id
            );
        }
        let mut ram = HashMap::new();
        for t in &archive.manifest.tasks {
            let i = usize::from(t.index);
            let bytes = entry(&format!("ram/{i}.bin"))?;
            if bytes.len() as u64 != u64::from(t.ram.size) {
                bail!(
                    "dump {name} is truncated: ram/{i}.bin has {} bytes, \
                     task {} has {}",
                    bytes.len(),
                    t.name,
                    t.ram.size
                );
            }
            ram.insert(i, bytes);
        }
        Ok(Self {
            tasks: header.tasks,
            uptime_ms: header.uptime_ms,
            reason: header.reason,
            ram,
        })
    }

    fn read(
        &self,
        archive: &Archive,
        task: usize,
        address: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let entry = archive
            .manifest
            .tasks
            .get(task)
            .ok_or_else(|| anyhow!("no task {task} in the image"))?;
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
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`hex`]; `None` if malformed.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
