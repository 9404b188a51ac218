//! An emulated board (`mps2-an386` under QEMU) read through QEMU's GDB
//! stub: `humility --qemu 127.0.0.1:PORT ...`.
//!
//! There is no probe task and no kernel help here, as with a debug probe
//! on real hardware (Humility on Hubris): humility stops the CPU, reads
//! memory, and lets it run on when it is done (QEMU stops the board when
//! a debugger connects and resumes it at detach).
//!
//! - **Which image**: the kernel exports `LEASEHOLD_IMAGE_ID`; its bytes
//!   on the board must be the archive's image id, or nothing is decoded.
//! - **The task table** is the kernel's own, `kern_armv7m::board::BOARD`
//!   (the portable core's `Task`s behind `Kernel::tasks`), found and
//!   decoded with the kernel ELF's DWARF (`elf/kernel` in the archive),
//!   field by name, as Humility decodes Hubris's `TASK_TABLE_BASE`. A
//!   kernel whose types no longer have the fields this reads is a
//!   one-line error naming the missing field, not a wrong table.
//! - **Memory** is read *physically* (`Qqemu.PhyMemMode:1`): stopped in
//!   a task, the CPU's MPU would refuse the kernel's RAM and every other
//!   task's. Humility still checks every read and write against the
//!   task's regions from the manifest, as for the hosted probe.
//! - **Time**: SysTick's millisecond count (`Mps2::ticks`).
//!
//! Commands that need the board to act (jefe's requests, hiffy's calls
//! and so `humility fpga` loads) let it run between reads
//! ([`Board::run_for`]).

use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use abi::{
    FaultInfo, FaultSource, ReplyFaultReason, SchedState, TaskId, TaskState,
    UsageError,
};
use anyhow::{Result, anyhow, bail};
use debug_protocol::dump::{DumpHeader, FORMAT};
use debug_protocol::{PanicAt, Range, TaskRow};

use crate::archive::Archive;
use crate::dwarf::{DebugInfo, Type, TypeId};
use crate::elf::Elf;
use crate::gdb_client::{self, Client};
use crate::value::Value;

/// The board this target reads.
pub const BOARD: &str = "mps2-an386";

/// How long one packet may take to be answered.
const STUB_TIMEOUT: Duration = Duration::from_secs(10);

/// The least the board runs between two stops while a command waits
/// for a task to act.
const MIN_RUN: Duration = Duration::from_millis(10);

/// Where the kernel keeps its state, by Rust path.
const BOARD_STATIC: &str = "board::BOARD";

/// A connection to QEMU's GDB stub for a board running `archive`'s
/// image.
pub struct Board {
    client: Client<TcpStream>,
    addr: SocketAddr,
    kernel: Rc<DebugInfo>,
    /// Whether the CPU runs (it is stopped while we read).
    running: bool,
    /// SysTick's count when we attached.
    pub uptime_ms: u64,
    /// The archive's tasks: names and regions.
    entries: Vec<image_manifest::TaskEntry>,
}

impl Board {
    /// Connects to the stub at `addr` (loopback only), reads physical
    /// memory from then on, and checks the board runs the archive's
    /// image.
    ///
    /// # Errors
    ///
    /// One line: a non-loopback or malformed address, no stub, a stub
    /// that is not QEMU's or answers garbage, an archive for another
    /// board, or another image on the board.
    pub fn attach(addr: &str, archive: &Archive) -> Result<Self> {
        if archive.manifest.board != BOARD {
            bail!(
                "--qemu reads {BOARD} boards; this archive's image is for \
                 board {:?}",
                archive.manifest.board
            );
        }
        let addr = gdb_client::loopback_address(addr)?;
        let mut client = Client::connect(addr, STUB_TIMEOUT)?;
        client.halt_reason()?;
        client.physical_memory()?;
        let kernel_elf = Elf::parse(archive.read("elf/kernel")?)?;
        let id_at = kernel_elf
            .symbol("LEASEHOLD_IMAGE_ID")
            .ok_or_else(|| {
                anyhow!(
                    "the archive's kernel has no LEASEHOLD_IMAGE_ID (built \
                     before humility could read QEMU boards?)"
                )
            })?
            .address;
        let kernel = Rc::new(DebugInfo::load(&kernel_elf)?);
        let mut board = Self {
            client,
            addr,
            kernel,
            running: false,
            uptime_ms: 0,
            entries: archive.manifest.tasks.clone(),
        };
        let id = board.read_kernel(id_at, 8)?;
        let id = u64::from_le_bytes(id.try_into().unwrap_or_default());
        if format!("{id:016x}") != archive.image_id() {
            bail!(
                "archive and running image differ (archive {}, board at {} \
                 runs {id:016x})",
                archive.image_id(),
                board.addr
            );
        }
        board.uptime_ms = board.kernel_state()?.ticks;
        Ok(board)
    }

    /// Stops the CPU if it runs (reads must see one instant).
    fn stop(&mut self) -> Result<()> {
        if self.running {
            self.client.interrupt()?;
            self.running = false;
        }
        Ok(())
    }

    /// Lets the board run for `time`, then stops it again: what a
    /// command waiting for a task to act does between two reads.
    ///
    /// # Errors
    ///
    /// If the stub fails.
    pub fn run_for(&mut self, time: Duration) -> Result<()> {
        if !self.running {
            self.client.resume()?;
            self.running = true;
        }
        // Each stop and read costs packets, while the board's clock
        // stands still; a task polling on a timer (hiffy, jefe) needs a
        // few of its milliseconds of run per stop to get anywhere.
        std::thread::sleep(time.max(MIN_RUN));
        self.stop()
    }

    /// Reads the kernel's (or anyone's) memory, physically.
    fn read_kernel(&mut self, address: u64, len: u64) -> Result<Vec<u8>> {
        self.stop()?;
        let (start, len) = range32(address, len)?;
        Ok(self.client.read_memory(start, len)?)
    }

    /// Reads task memory, checked against the task's regions.
    ///
    /// # Errors
    ///
    /// Outside the task's flash and RAM, or the stub failing.
    pub fn read(
        &mut self,
        archive: &Archive,
        task: usize,
        address: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        let entry = archive.task_at(task)?;
        if !entry.ram.contains(address, len)
            && !entry.flash.contains(address, len)
        {
            bail!(
                "{address:#x}+{len:#x} is outside task {}'s memory",
                entry.name
            );
        }
        self.read_kernel(address, len)
    }

    /// Writes task RAM, checked against the task's RAM region.
    ///
    /// # Errors
    ///
    /// Outside the task's RAM, or the stub refusing.
    pub fn write(
        &mut self,
        task: usize,
        address: u64,
        data: &[u8],
    ) -> Result<()> {
        let entry = self
            .entries
            .get(task)
            .ok_or_else(|| anyhow!("no task {task} in the image"))?;
        let len = data.len() as u64;
        if !entry.ram.contains(address, len) {
            bail!("{address:#x}+{len:#x} is outside task {}'s RAM", entry.name);
        }
        self.stop()?;
        let (start, _) = range32(address, len)?;
        Ok(self.client.write_memory(start, data)?)
    }

    /// The kernel's task table, as rows like the hosted probe's.
    ///
    /// # Errors
    ///
    /// If the kernel's DWARF lacks what we read, the kernel has not
    /// booted yet, or the stub fails.
    pub fn tasks(&mut self) -> Result<Vec<TaskRow>> {
        let state = self.kernel_state()?;
        let (size, task_ty) = (state.task_size, state.task_ty);
        let count = state.task_count;
        if count != self.entries.len() as u64 {
            bail!(
                "the kernel's task table has {count} tasks, the archive {}",
                self.entries.len()
            );
        }
        let bytes = self.read_kernel(state.tasks_at, size * count)?;
        let mut rows = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let at = i * size as usize;
            let value =
                self.kernel.decode(task_ty, &bytes[at..at + size as usize]);
            rows.push(task_row(i, entry, &value)?);
        }
        Ok(rows)
    }

    /// Writes a dump of the board: the task table and every task's RAM
    /// and flash as read now, in the ELF core format the hosted kernel
    /// writes, so that `-d` reads it. Refuses to replace a file.
    ///
    /// # Errors
    ///
    /// Reading the board, or creating or writing the file.
    pub fn dump(
        &mut self,
        archive: &Archive,
        path: &std::path::Path,
    ) -> Result<()> {
        let tasks = self.tasks()?;
        let mut rams = Vec::new();
        let mut flashes = Vec::new();
        for t in &archive.manifest.tasks {
            rams.push(
                self.read_kernel(u64::from(t.ram.base), u64::from(t.ram.size))?,
            );
            flashes.push(self.read_kernel(
                u64::from(t.flash.base),
                u64::from(t.flash.size),
            )?);
        }
        let header = DumpHeader {
            format: FORMAT.to_owned(),
            name: archive.manifest.name.clone(),
            image_id: archive.image_id(),
            git_revision: archive.manifest.git_revision.clone(),
            uptime_ms: self.kernel_state()?.ticks,
            reason: format!("humility dump (QEMU board at {})", self.addr),
            registers: vec![None; tasks.len()],
            tasks,
        };
        let file = create_new(path)?;
        let rams: Vec<&[u8]> = rams.iter().map(Vec::as_slice).collect();
        let flashes: Vec<&[u8]> = flashes.iter().map(Vec::as_slice).collect();
        debug_protocol::coredump::write(
            std::io::BufWriter::new(file),
            &header,
            &rams,
            &flashes,
        )
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(|e| anyhow!("cannot write dump {}: {e}", path.display()))?;
        Ok(())
    }

    /// Decodes `BOARD` far enough to find the task table and the time.
    fn kernel_state(&mut self) -> Result<KernelState> {
        let kernel = self.kernel.clone();
        let var = kernel.lookup(BOARD_STATIC);
        let var = match var.as_slice() {
            [v] => (*v).clone(),
            _ => bail!(
                "the kernel's DWARF has no single {BOARD_STATIC} (found {})",
                var.len()
            ),
        };
        let bytes = self.read_kernel(var.address, kernel.size_of(var.ty))?;
        let value = kernel.decode(var.ty, &bytes);
        let board = match &value {
            Value::Variant {
                variant, fields, ..
            } if variant == "Some" => field(&value, &fields[..], "__0")?,
            Value::Variant { .. } => {
                bail!("the kernel has not built its task table yet")
            }
            _ => bail!("{BOARD_STATIC} is not an Option in the kernel's DWARF"),
        };
        let k = get(board, &["kernel"])?;
        let slice = get(k, &["tasks", "__0"])?;
        let tasks_at = number(get(slice, &["data_ptr"])?, "data_ptr")?;
        let task_count = number(get(slice, &["length"])?, "length")?;
        let ticks = number(get(k, &["platform", "ticks"])?, "ticks")?;
        let task_ty = type_at(
            &kernel,
            var.ty,
            &["Some", "__0", "kernel", "tasks", "__0", "data_ptr"],
        )?;
        let task_size = kernel.size_of(task_ty);
        if task_size == 0 || task_count > 256 {
            bail!(
                "the kernel's task table makes no sense ({task_count} tasks of {task_size} bytes)"
            );
        }
        Ok(KernelState {
            tasks_at,
            task_count,
            task_ty,
            task_size,
            ticks,
        })
    }
}

impl Drop for Board {
    /// Detaches, so that the board runs on (QEMU would also resume it
    /// when the connection closes).
    fn drop(&mut self) {
        if self.running {
            let _ = self.client.interrupt();
        }
        let _ = self.client.detach();
    }
}

struct KernelState {
    tasks_at: u64,
    task_count: u64,
    task_ty: TypeId,
    task_size: u64,
    ticks: u64,
}

fn range32(address: u64, len: u64) -> Result<(u32, u32)> {
    let outside = || anyhow!("{address:#x}+{len:#x} is not a 32-bit range");
    let start = u32::try_from(address).map_err(|_| outside())?;
    let len = u32::try_from(len).map_err(|_| outside())?;
    start.checked_add(len).ok_or_else(outside)?;
    Ok((start, len))
}

/// Creates `path` for writing, mode 0600, never over an existing file.
fn create_new(path: &std::path::Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow!("cannot create dump {}: {e}", path.display()))
}

/// The type reached from `ty` by following members (of structs, or the
/// variant members of enums) named `path`; a pointer is followed to
/// what it points to at the end.
fn type_at(debug: &DebugInfo, ty: TypeId, path: &[&str]) -> Result<TypeId> {
    let mut at = ty;
    for name in path {
        let t = debug.ty(at);
        let Type::Struct(s) = &*t else {
            bail!("the kernel's DWARF: no {name} in {}", debug.type_name(at));
        };
        let member = s
            .members
            .iter()
            .find(|m| m.name == *name)
            .or_else(|| {
                s.variants.as_ref().and_then(|v| {
                    v.variants
                        .iter()
                        .map(|v| &v.member)
                        .find(|m| m.name == *name)
                })
            })
            .ok_or_else(|| {
                anyhow!("the kernel's DWARF: no {name} in {}", s.name)
            })?;
        at = member.ty;
    }
    match &*debug.ty(at) {
        Type::Pointer {
            target: Some(t), ..
        } => Ok(*t),
        _ => bail!("the kernel's DWARF: {} is not a pointer", path.join(".")),
    }
}

/// A named field of a decoded struct or variant.
fn field<'a>(
    whole: &'a Value,
    fields: &'a [(String, Value)],
    name: &str,
) -> Result<&'a Value> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| anyhow!("the kernel's DWARF: no {name} in {whole}"))
}

/// Follows a path of field names.
fn get<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value> {
    let mut at = v;
    for name in path {
        at = at.field(name).ok_or_else(|| {
            anyhow!("the kernel's task table: no field {name}")
        })?;
    }
    Ok(at)
}

fn number(v: &Value, what: &str) -> Result<u64> {
    v.as_u64()
        .ok_or_else(|| anyhow!("the kernel's task table: {what} is {v}"))
}

/// A decoded `Option<T>`'s value.
fn option(v: &Value) -> Result<Option<&Value>> {
    match v {
        Value::Variant {
            variant, fields, ..
        } => match variant.as_str() {
            "None" => Ok(None),
            "Some" => Ok(fields.first().map(|(_, v)| v)),
            _ => bail!("the kernel's task table: {v} is not an Option"),
        },
        _ => bail!("the kernel's task table: {v} is not an Option"),
    }
}

fn variant(v: &Value) -> Result<(&str, &[(String, Value)])> {
    match v {
        Value::Variant {
            variant, fields, ..
        } => Ok((variant.as_str(), fields.as_slice())),
        _ => bail!("the kernel's task table: {v} is not an enum"),
    }
}

fn task_id(v: &Value) -> Result<TaskId> {
    let n = number(v, "a TaskId")?;
    Ok(TaskId(u16::try_from(n).map_err(|_| {
        anyhow!("the kernel's task table: TaskId {n} out of range")
    })?))
}

fn nth(fields: &[(String, Value)], i: usize) -> Result<&Value> {
    fields
        .get(i)
        .map(|(_, v)| v)
        .ok_or_else(|| anyhow!("the kernel's task table: a field is missing"))
}

fn named<'a>(fields: &'a [(String, Value)], name: &str) -> Result<&'a Value> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| anyhow!("the kernel's task table: no field {name}"))
}

/// `abi::SchedState` from its DWARF value.
pub fn sched_state(v: &Value) -> Result<SchedState> {
    let (name, fields) = variant(v)?;
    Ok(match name {
        "Stopped" => SchedState::Stopped,
        "Runnable" => SchedState::Runnable,
        "InSend" => SchedState::InSend(task_id(nth(fields, 0)?)?),
        "InReply" => SchedState::InReply(task_id(nth(fields, 0)?)?),
        "InRecv" => SchedState::InRecv(
            option(nth(fields, 0)?)?.map(task_id).transpose()?,
        ),
        other => bail!("the kernel's task table: unknown SchedState {other}"),
    })
}

fn address(v: &Value) -> Result<Option<u32>> {
    option(v)?
        .map(|a| Ok(number(a, "an address")? as u32))
        .transpose()
}

fn source(v: &Value) -> Result<FaultSource> {
    match v {
        Value::CLike { name: Some(n), .. } if n == "User" => {
            Ok(FaultSource::User)
        }
        Value::CLike { name: Some(n), .. } if n == "Kernel" => {
            Ok(FaultSource::Kernel)
        }
        _ => bail!("the kernel's task table: bad FaultSource {v}"),
    }
}

/// `abi::FaultInfo` from its DWARF value.
pub fn fault_info(v: &Value) -> Result<FaultInfo> {
    let (name, f) = variant(v)?;
    let word = |v: &Value| number(v, "a fault field").map(|n| n as u32);
    Ok(match name {
        "MemoryAccess" => FaultInfo::MemoryAccess {
            address: address(named(f, "address")?)?,
            source: source(named(f, "source")?)?,
        },
        "StackOverflow" => FaultInfo::StackOverflow {
            address: word(named(f, "address")?)?,
        },
        "BusError" => FaultInfo::BusError {
            address: address(named(f, "address")?)?,
            source: source(named(f, "source")?)?,
        },
        "DivideByZero" => FaultInfo::DivideByZero,
        "IllegalText" => FaultInfo::IllegalText,
        "IllegalInstruction" => FaultInfo::IllegalInstruction,
        "InvalidOperation" => FaultInfo::InvalidOperation(word(nth(f, 0)?)?),
        "SyscallUsage" => FaultInfo::SyscallUsage(
            UsageError::try_from(word(nth(f, 0)?)?).map_err(|()| {
                anyhow!("the kernel's task table: bad UsageError")
            })?,
        ),
        "Panic" => FaultInfo::Panic,
        "Injected" => FaultInfo::Injected(task_id(nth(f, 0)?)?),
        "FromServer" => FaultInfo::FromServer(
            task_id(nth(f, 0)?)?,
            ReplyFaultReason::try_from(word(nth(f, 1)?)?).map_err(|()| {
                anyhow!("the kernel's task table: bad ReplyFaultReason")
            })?,
        ),
        "HostSyscall" => FaultInfo::HostSyscall {
            number: word(named(f, "number")?)?,
            pc: word(named(f, "pc")?)?,
        },
        "HostSignal" => FaultInfo::HostSignal {
            signal: word(named(f, "signal")?)?,
        },
        other => bail!("the kernel's task table: unknown FaultInfo {other}"),
    })
}

/// `abi::TaskState` from its DWARF value.
pub fn task_state(v: &Value) -> Result<TaskState> {
    let (name, f) = variant(v)?;
    Ok(match name {
        "Healthy" => TaskState::Healthy(sched_state(nth(f, 0)?)?),
        "Faulted" => TaskState::Faulted {
            fault: fault_info(named(f, "fault")?)?,
            original_state: sched_state(named(f, "original_state")?)?,
        },
        other => bail!("the kernel's task table: unknown TaskState {other}"),
    })
}

/// One row of the table from a decoded `kern::Task`, with what the
/// manifest says of the task.
fn task_row(
    index: usize,
    entry: &image_manifest::TaskEntry,
    task: &Value,
) -> Result<TaskRow> {
    let state = task_state(get(task, &["state"])?)?;
    let generation = number(get(task, &["generation"])?, "generation")?;
    let priority = number(get(task, &["desc", "priority"])?, "priority")?;
    let args = match get(task, &["save", "args"])? {
        Value::Array(a) => a
            .iter()
            .map(|v| number(v, "a saved argument").map(|n| n as u32))
            .collect::<Result<Vec<u32>>>()?,
        other => bail!("the kernel's task table: args is {other}"),
    };
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    let timer = option(get(task, &["timer_deadline"])?)?
        .map(|t| number(t, "timer_deadline"))
        .transpose()?;
    let recv_mask = match state {
        TaskState::Healthy(SchedState::InRecv(_)) => Some(arg(2)),
        _ => None,
    };
    let panic = match state {
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            ..
        } => Some(PanicAt {
            address: arg(0),
            length: arg(1).min(abi::PANIC_MESSAGE_MAX as u32),
        }),
        _ => None,
    };
    Ok(TaskRow {
        index,
        name: entry.name.clone(),
        generation: generation as u8,
        priority: priority as u8,
        state: state.encode().to_vec().into(),
        syscalls: number(get(task, &["syscall_count"])?, "syscall_count")?,
        notifications: number(get(task, &["notifications"])?, "notifications")?
            as u32,
        timer,
        ram: Range {
            base: entry.ram.base,
            size: entry.ram.size,
        },
        flash: Range {
            base: entry.flash.base,
            size: entry.flash.size,
        },
        recv_mask,
        panic,
    })
}
