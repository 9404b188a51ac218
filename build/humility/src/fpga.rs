//! `humility fpga`: the FPGA operator's command, Linux's fpga-mgr sysfs and
//! `fpgautil` in one place.
//!
//! ```text
//! $ humility fpga
//! device 0 ice40: operating
//!   driver  ice40-spi, task ice40/gen0, bound
//!   status  (none)
//!   lock    free
//!   image   32220 bytes, sha256 6a4ccbe1...0ba3, name ice40_blinky, flags (none), loaded by fpga_mgr/gen0 at 202 ms
//! bridge 0 br0: enabled
//! region 0 region0: device ice40, bridges br0, default image ice40_blinky
//! $ humility fpga load xc7 mandel.bit
//! humility: xc7: operating; 2192127 bytes in 0.41 s (5.3 MB/s)
//! ```
//!
//! `status` reads memory: the manager keeps all its state in one static,
//! `SERVER`, which we decode with its DWARF, so it works on a dump as on
//! a running system. The status bits are the exception on a running
//! system: like Linux's sysfs `status`, they are read live, with the
//! manager's `status` op through hiffy (the manager asks the driver, which
//! reads the device). The manager's record of them is only as fresh as
//! its last load or `status` call, so a device whose bits changed since
//! (a reset clears a failed load's) would show the old ones. On a dump,
//! or if the live read fails, we show the record and say so.
//!
//! Everything that changes a device goes through hiffy, one manager op per
//! call. An image of any size is streamed (`load_begin`, `load_chunk`
//! per hiffy buffer, `load_end`); we take the device's lock first and give
//! it back however the load ends, also on Ctrl-C (SIGINT is turned into a
//! flag we look at between chunks; the call in flight finishes first).
//! Devices, bridges and regions are named as in app.toml (the manager's
//! `config`), or by index.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use drv_fpga_driver_api::{FpgaState, flags, status};
use idol::check::Operation;
use serde::Deserialize;

use crate::archive::Archive;
use crate::dwarf::DebugInfo;
use crate::hiffy::{Hiffy, Lend};
use crate::target::Target;
use crate::value::Value;
use crate::wire;

/// Image flags by the names `--flags` takes.
const FLAG_NAMES: [(&str, u32); 5] = [
    ("partial", flags::PARTIAL_RECONFIG),
    ("external", flags::EXTERNAL_CONFIG),
    ("encrypted", flags::ENCRYPTED),
    ("lsb-first", flags::LSB_FIRST),
    ("compressed", flags::COMPRESSED),
];

/// Status bits by Linux's sysfs text.
const STATUS_NAMES: [(&str, u64); 5] = [
    ("reconfig operation error", status::OPERATION_ERR),
    ("reconfig CRC error", status::CRC_ERR),
    (
        "reconfig incompatible image error",
        status::INCOMPATIBLE_IMAGE_ERR,
    ),
    ("reconfig IP protocol error", status::IP_PROTOCOL_ERR),
    ("reconfig fifo overflow error", status::FIFO_OVERFLOW_ERR),
];

/// Set by a test to make `fpga load` stop after this many chunks, say
/// `paused` on stderr and wait for SIGINT: the only way a test can
/// interrupt a load at a known point without racing its end.
pub const PAUSE_ENV: &str = "HUMILITY_FPGA_PAUSE_AFTER_CHUNKS";

/// How long hiffy may take for an op that does not load (lock, state).
const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// The manager's app.toml `config`, as far as names go.
#[derive(Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
struct MgrConfig {
    #[serde(default)]
    devices: Vec<Named>,
    #[serde(default)]
    bridges: Vec<Named>,
    #[serde(default)]
    regions: Vec<RegionConfig>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegionConfig {
    name: String,
    device: String,
    #[serde(default)]
    bridges: Vec<String>,
    #[serde(default)]
    default_image: Option<String>,
}

/// The FPGA manager of an image: its task and names.
pub struct Manager {
    task: usize,
    config: MgrConfig,
}

impl Manager {
    /// Finds the manager task (the one serving `FpgaManager`).
    ///
    /// # Errors
    ///
    /// If the image has none, or its config is not what a manager takes.
    pub fn find(archive: &Archive) -> Result<Self> {
        let entry = archive
            .manifest
            .tasks
            .iter()
            .find(|t| {
                t.serves.iter().any(|s| s == "FpgaManager")
                    || t.crate_name == "task-fpga-mgr"
            })
            .ok_or_else(|| anyhow!("this image has no FPGA manager"))?;
        let config = MgrConfig::deserialize(&entry.config).map_err(|e| {
            anyhow!("tasks.{}.config is not a manager's: {e}", entry.name)
        })?;
        Ok(Self {
            task: usize::from(entry.index),
            config,
        })
    }

    fn device_names(&self) -> Vec<&str> {
        self.config
            .devices
            .iter()
            .map(|d| d.name.as_str())
            .collect()
    }

    fn bridge_names(&self) -> Vec<&str> {
        self.config
            .bridges
            .iter()
            .map(|d| d.name.as_str())
            .collect()
    }

    fn region_names(&self) -> Vec<&str> {
        self.config
            .regions
            .iter()
            .map(|d| d.name.as_str())
            .collect()
    }

    /// A device's index from its name or index.
    ///
    /// # Errors
    ///
    /// One line naming the devices there are.
    pub fn device(&self, text: &str) -> Result<u8> {
        pick("device", &self.device_names(), text)
    }

    /// A bridge's index from its name or index.
    ///
    /// # Errors
    ///
    /// One line naming the bridges there are.
    pub fn bridge(&self, text: &str) -> Result<u8> {
        pick("bridge", &self.bridge_names(), text)
    }

    /// A region's index from its name or index.
    ///
    /// # Errors
    ///
    /// One line naming the regions there are.
    pub fn region(&self, text: &str) -> Result<u8> {
        pick("region", &self.region_names(), text)
    }

    fn device_name(&self, index: u8) -> String {
        self.device_names()
            .get(usize::from(index))
            .map_or_else(|| format!("device {index}"), |n| (*n).to_owned())
    }
}

/// `text` as an index into `names`: a name, or a number in range.
fn pick(kind: &str, names: &[&str], text: &str) -> Result<u8> {
    let found = names
        .iter()
        .position(|n| *n == text)
        .or_else(|| text.parse::<usize>().ok().filter(|&i| i < names.len()));
    match found.and_then(|i| u8::try_from(i).ok()) {
        Some(i) => Ok(i),
        None if names.is_empty() => {
            bail!("no FPGA {kind} {text:?}: this image has none")
        }
        None => bail!(
            "no FPGA {kind} {text:?}: this image has {} (or their indexes \
             0..{})",
            names.join(", "),
            names.len() - 1
        ),
    }
}

/// `--flags partial,lsb-first` (or a number) as image flags.
///
/// # Errors
///
/// An unknown flag, naming the known ones.
pub fn parse_flags(text: &str) -> Result<u32> {
    if let Some(n) = wire::parse_number(text.trim()) {
        return u32::try_from(n)
            .map_err(|_| anyhow!("flags {text:?} do not fit in 32 bits"));
    }
    let mut out = 0;
    for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bit = FLAG_NAMES
            .iter()
            .find(|(n, _)| *n == piece)
            .map(|(_, b)| *b)
            .ok_or_else(|| {
                anyhow!(
                    "unknown image flag {piece:?}: the flags are {}",
                    FLAG_NAMES.map(|(n, _)| n).join(", ")
                )
            })?;
        out |= bit;
    }
    Ok(out)
}

fn flags_text(bits: u64) -> String {
    let mut names: Vec<String> = FLAG_NAMES
        .iter()
        .filter(|(_, b)| bits & u64::from(*b) != 0)
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let other = bits & !u64::from(flags::ALL);
    if other != 0 {
        names.push(format!("{other:#x}"));
    }
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(",")
    }
}

fn status_text(bits: u64) -> String {
    let mut names: Vec<String> = STATUS_NAMES
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let other = bits & !status::ALL;
    if other != 0 {
        names.push(format!("{other:#x}"));
    }
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// Linux's sysfs name of a state number.
pub fn state_name(state: u64) -> String {
    u8::try_from(state)
        .ok()
        .and_then(|s| FpgaState::try_from(s).ok())
        .map_or_else(|| format!("state {state}?"), |s| s.name().to_owned())
}

// ---------------------------------------------------------------------
// Reading the manager's state.

/// The manager's `SERVER` static, decoded: the `ServerImpl` inside.
fn server(
    archive: &Archive,
    target: &mut Target,
    mgr: &Manager,
) -> Result<Value> {
    let debug = archive.debug(mgr.task)?;
    let var = debug
        .lookup("SERVER")
        .into_iter()
        .find(|v| v.path.ends_with("::SERVER") || v.path == "SERVER")
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "{}'s ELF has no SERVER static: not a manager humility \
                 knows",
                archive.task_name(mgr.task)
            )
        })?;
    let size = debug.size_of(var.ty);
    let bytes = target.read(archive, mgr.task, var.address, size)?;
    let value = debug.decode(var.ty, &bytes).unwrapped().clone();
    match some(&value) {
        Some(inner) => Ok(inner.unwrapped().clone()),
        None => bail!("the FPGA manager has not started yet (SERVER is None)"),
    }
}

/// The value inside `Some(..)`; `None` for `None` or anything else.
fn some(v: &Value) -> Option<&Value> {
    match v.unwrapped() {
        Value::Variant {
            variant, fields, ..
        } if variant == "Some" => fields.first().map(|(_, v)| v),
        _ => None,
    }
}

/// A byte array's bytes.
fn bytes(v: Option<&Value>) -> Vec<u8> {
    match v.map(Value::unwrapped) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_u64().unwrap_or(0) as u8)
            .collect(),
        _ => Vec::new(),
    }
}

/// NUL-padded bytes as text.
fn padded(v: Option<&Value>) -> String {
    let b = bytes(v);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn task_id(archive: &Archive, v: Option<&Value>) -> String {
    match v.and_then(Value::as_u64) {
        Some(raw) => crate::tasks::task_name(archive, abi::TaskId(raw as u16)),
        None => "?".into(),
    }
}

fn num(v: &Value, field: &str) -> u64 {
    v.field(field).and_then(Value::as_u64).unwrap_or(0)
}

/// `fpga` / `fpga status [DEVICE]`.
///
/// # Errors
///
/// A bad device name, or if the manager's state cannot be read.
pub fn status(
    archive: &Archive,
    target: &mut Target,
    device: Option<&str>,
) -> Result<String> {
    status_of(archive, target, device, true)
}

/// The status bits of every device (or `only`), read live through the
/// manager's `status` op; `Err` (why) per device that could not be.
fn live_status_bits(
    archive: &Archive,
    target: &mut Target,
    devices: usize,
    only: Option<u8>,
) -> Vec<std::result::Result<u64, String>> {
    let caller = match Caller::new(archive) {
        Ok(c) => c,
        Err(e) => return vec![Err(format!("{e:#}")); devices],
    };
    (0..devices)
        .map(|i| {
            let index = i as u8;
            if only.is_some_and(|o| o != index) {
                return Err("not asked".into());
            }
            let dev = [("device_index", u64::from(index))];
            match caller.call(target, "status", &dev, &[], OP_TIMEOUT) {
                Ok(Ok(reply)) => {
                    let mut le = [0u8; 8];
                    let n = reply.len().min(8);
                    le[..n].copy_from_slice(&reply[..n]);
                    Ok(u64::from_le_bytes(le))
                }
                Ok(Err(refused)) => Err(refused),
                Err(e) => Err(format!("{e:#}")),
            }
        })
        .collect()
}

/// [`status`], with the status bits read live when `live` and the target
/// is a running system.
fn status_of(
    archive: &Archive,
    target: &mut Target,
    device: Option<&str>,
    live: bool,
) -> Result<String> {
    let mgr = Manager::find(archive)?;
    let only = device.map(|d| mgr.device(d)).transpose()?;
    // Before the memory read, so that the record we print is at least as
    // fresh as the bits.
    let live_bits = match target {
        Target::Live(_) if live => Some(live_status_bits(
            archive,
            target,
            mgr.config.devices.len(),
            only,
        )),
        _ => None,
    };
    let server = server(archive, target, &mgr)?;
    let rows = target.tasks()?;
    let mut out = String::new();
    let devices = match server.field("devices").map(Value::unwrapped) {
        Some(Value::Array(d)) => d.clone(),
        _ => bail!("cannot decode the manager's devices"),
    };
    for (i, d) in devices.iter().enumerate() {
        let index = i as u8;
        if only.is_some_and(|o| o != index) {
            continue;
        }
        let name = mgr.device_name(index);
        let state = state_name(num(d, "state"));
        let _ = writeln!(out, "device {index} {name}: {state}");
        let driver = match d.field("binding").and_then(some) {
            Some(b) => {
                let raw = b.field("task").and_then(Value::as_u64).unwrap_or(0);
                let id = abi::TaskId(raw as u16);
                let running = rows
                    .iter()
                    .find(|r| r.index == id.index())
                    .map(|r| r.generation);
                let live = match running {
                    Some(g)
                        if u32::from(g) == u32::from(id.generation().get()) =>
                    {
                        "bound"
                    }
                    _ => "bound (that incarnation has died)",
                };
                format!(
                    "{}, task {}, {live}",
                    padded(b.field("info").and_then(|i| i.field("name"))),
                    crate::tasks::task_name(archive, id)
                )
            }
            None => match d.field("removed").and_then(some) {
                Some(t) => format!(
                    "not bound (task {} was removed)",
                    task_id(archive, Some(t))
                ),
                None => "not bound".into(),
            },
        };
        let _ = writeln!(out, "  driver  {driver}");
        let recorded = match d.field("status").and_then(some) {
            Some(s) => status_text(s.as_u64().unwrap_or(0)),
            None => "(not read yet)".into(),
        };
        let status = match live_bits.as_ref().and_then(|b| b.get(i)) {
            Some(Ok(bits)) => status_text(*bits),
            Some(Err(why)) => {
                format!(
                    "{recorded} (as the manager last read them; live: {why})"
                )
            }
            None => format!("{recorded} (as the manager last read them)"),
        };
        let _ = writeln!(out, "  status  {status}");
        let lock = match d
            .field("lock")
            .and_then(|l| l.field("holder"))
            .and_then(some)
        {
            Some(h) => format!("held by {}", task_id(archive, Some(h))),
            None => "free".into(),
        };
        let _ = writeln!(out, "  lock    {lock}");
        if let Some(s) = d.field("stream").and_then(some) {
            let _ = writeln!(
                out,
                "  loading {} of {} bytes received",
                num(s, "received"),
                num(s, "image_len")
            );
        }
        match d.field("image").and_then(some) {
            Some(img) => {
                let sha = hex::encode(bytes(img.field("sha256")));
                let name = padded(img.field("name"));
                let _ = writeln!(
                    out,
                    "  image   {} bytes, sha256 {sha}, name {}, flags {}, \
                     loaded by {} at {} ms",
                    num(img, "length"),
                    if name.is_empty() { "(none)" } else { &name },
                    flags_text(num(img, "flags")),
                    task_id(archive, img.field("loader")),
                    num(img, "loaded_at_ms"),
                );
                let design = padded(img.field("design"));
                let part = padded(img.field("part"));
                if !design.is_empty() || !part.is_empty() {
                    let _ =
                        writeln!(out, "          design {design}, part {part}");
                }
            }
            None => {
                let _ = writeln!(out, "  image   (none)");
            }
        }
    }
    if only.is_none() {
        if let Some(Value::Array(bridges)) =
            server.field("bridges").map(Value::unwrapped)
        {
            for (i, b) in bridges.iter().enumerate() {
                let name = mgr
                    .bridge_names()
                    .get(i)
                    .map_or_else(|| i.to_string(), |n| (*n).to_owned());
                let holder = match b
                    .field("holder")
                    .and_then(|l| l.field("holder"))
                    .and_then(some)
                {
                    Some(h) => {
                        format!(", held by {}", task_id(archive, Some(h)))
                    }
                    None => String::new(),
                };
                let _ = writeln!(
                    out,
                    "bridge {i} {name}: {}{holder}",
                    if num(b, "enabled") != 0 {
                        "enabled"
                    } else {
                        "disabled"
                    }
                );
            }
        }
        for (i, r) in mgr.config.regions.iter().enumerate() {
            let _ = writeln!(
                out,
                "region {i} {}: device {}, bridges {}, default image {}",
                r.name,
                r.device,
                if r.bridges.is_empty() {
                    "(none)".into()
                } else {
                    r.bridges.join(",")
                },
                r.default_image.as_deref().unwrap_or("(none)")
            );
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------
// Calling the manager through hiffy.

/// What a manager op answered: its reply bytes, or its error's name.
type Answer = std::result::Result<Vec<u8>, String>;

/// The manager's interface, and hiffy to call it.
pub struct Caller<'a> {
    archive: &'a Archive,
    pub mgr: Manager,
    hiffy: Hiffy,
    ops: Vec<Operation>,
    debug: Option<Rc<DebugInfo>>,
    /// Set by SIGINT.
    pub interrupted: Arc<AtomicBool>,
}

impl<'a> Caller<'a> {
    /// Finds the manager, its interface and hiffy; checks hiffy may call
    /// the manager.
    ///
    /// # Errors
    ///
    /// If one of them is missing.
    pub fn new(archive: &'a Archive) -> Result<Self> {
        let mgr = Manager::find(archive)?;
        let hiffy = Hiffy::new(archive)?;
        hiffy.check_callable(archive, mgr.task)?;
        let ops = archive
            .interfaces()?
            .into_iter()
            .find(|s| s.iface.name == "FpgaManager")
            .map(|s| s.iface.ops)
            .ok_or_else(|| {
                anyhow!("the archive has no FpgaManager interface")
            })?;
        let debug = archive.debug(mgr.task).ok();
        Ok(Self {
            archive,
            mgr,
            hiffy,
            ops,
            debug,
            interrupted: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Calls `op` with `args`; `Ok(Err(name))` when the manager refuses.
    fn call(
        &self,
        target: &mut Target,
        op: &str,
        args: &[(&str, u64)],
        leases: &[Lend],
        timeout: Duration,
    ) -> Result<Answer> {
        let op = self
            .ops
            .iter()
            .find(|o| o.name == op)
            .ok_or_else(|| anyhow!("this manager has no op {op}"))?;
        let given: Vec<(String, String)> = args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_string()))
            .collect();
        let encoded = wire::encode_args(op, &given, self.debug.as_deref())?;
        let sent = self.hiffy.send(
            self.archive,
            target,
            self.mgr.task,
            op.number,
            &encoded,
            leases,
            timeout,
        )?;
        if sent.rc == 0 {
            return Ok(Ok(sent.reply));
        }
        if abi::extract_new_generation(sent.rc).is_some() {
            return Ok(Err("the FPGA manager restarted".into()));
        }
        let text =
            wire::decode_reply(op, sent.rc, &sent.reply, self.debug.as_deref());
        let text = text
            .strip_prefix("Err(")
            .and_then(|t| t.strip_suffix(')'))
            .unwrap_or(&text)
            .to_owned();
        Ok(Err(text))
    }

    /// Calls an op that must succeed; its refusal is the error.
    fn must(
        &self,
        target: &mut Target,
        op: &str,
        args: &[(&str, u64)],
        leases: &[Lend],
        timeout: Duration,
    ) -> Result<Vec<u8>> {
        self.call(target, op, args, leases, timeout)?
            .map_err(|e| anyhow!("{op}: {e}"))
    }

    /// The device's recorded state, by Linux name.
    fn state(&self, target: &mut Target, device: u8) -> Result<String> {
        let r = self.must(
            target,
            "state",
            &[("device_index", device.into())],
            &[],
            OP_TIMEOUT,
        )?;
        Ok(state_name(r.first().copied().unwrap_or(0).into()))
    }
}

/// What to load.
pub enum Source {
    /// Image bytes from the host (a file).
    Bytes(Vec<u8>),
    /// An image in the firmware store, by name.
    Blob(String),
}

/// Reads a file to load, as one clear line if it cannot be.
///
/// # Errors
///
/// Unreadable or empty file.
pub fn read_image(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    if bytes.is_empty() {
        bail!("{} is empty: nothing to load", path.display());
    }
    if u32::try_from(bytes.len()).is_err() {
        bail!("{} is over 4 GiB: no FPGA image is", path.display());
    }
    Ok(bytes)
}

/// Checks a blob name against the archive's blobs.
///
/// # Errors
///
/// An unknown name, listing the image's blobs.
pub fn check_blob(archive: &Archive, name: &str) -> Result<()> {
    let names: Vec<&str> = archive
        .manifest
        .blobs
        .iter()
        .map(|b| b.name.as_str())
        .collect();
    if !names.contains(&name) {
        bail!(
            "no blob {name:?} in this image: it has {}",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        );
    }
    Ok(())
}

/// Options of `fpga load`.
pub struct LoadOptions {
    pub flags: u32,
    /// The manager's deadline for the load, ms (0: its default).
    pub timeout_ms: u32,
    /// Draw a progress bar (only on a terminal).
    pub progress: bool,
}

/// `fpga load DEVICE FILE|--blob NAME`: lock, load, release whatever
/// happens; prints the end state, time and rate.
///
/// # Errors
///
/// Bad input, a busy device, the manager's refusal (with the state it
/// left), an interruption; the lock is released in every case.
pub fn load(
    caller: &Caller,
    target: &mut Target,
    device: &str,
    source: &Source,
    opts: &LoadOptions,
) -> Result<String> {
    let index = caller.mgr.device(device)?;
    let name = caller.mgr.device_name(index);
    if let Source::Blob(blob) = source {
        check_blob(caller.archive, blob)?;
    }
    let dev = [("device_index", u64::from(index))];
    match caller.call(target, "lock", &dev, &[], OP_TIMEOUT)? {
        Ok(_) => {}
        Err(e) if e == "AlreadyLocked" => {
            let holder = status_of(caller.archive, target, Some(device), false)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.trim().strip_prefix("lock    held by "))
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "another task".into());
            bail!("{name} is locked by {holder}; try again when it is free");
        }
        Err(e) => bail!("cannot lock {name}: {e}"),
    }
    let t0 = Instant::now();
    let outcome = load_locked(caller, target, index, source, opts);
    let elapsed = t0.elapsed();
    // Released whatever happened: release also abandons a stream.
    let released = caller.call(target, "release", &dev, &[], OP_TIMEOUT);
    let state = caller
        .state(target, index)
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let released = match released {
        Ok(Ok(_)) => "lock released".to_owned(),
        Ok(Err(e)) => format!("release refused: {e}"),
        Err(e) => format!("release failed: {e}"),
    };
    let bytes =
        outcome.map_err(|e| anyhow!("{e:#}; state {state}; {released}"))?;
    if state != "operating" {
        bail!("{name}: the load ended in state {state}; {released}");
    }
    let secs = elapsed.as_secs_f64();
    Ok(format!(
        "humility: {name}: {state}; {bytes} bytes in {secs:.3} s \
         ({:.2} MB/s); {released}\n",
        bytes as f64 / secs.max(1e-9) / 1e6
    ))
}

/// The load itself, with the lock held; returns the bytes loaded.
fn load_locked(
    caller: &Caller,
    target: &mut Target,
    index: u8,
    source: &Source,
    opts: &LoadOptions,
) -> Result<usize> {
    let name = caller.mgr.device_name(index);
    // hiffy waits for the manager, which waits for the load's deadline.
    let wait = Duration::from_millis(u64::from(opts.timeout_ms.max(10_000)))
        + OP_TIMEOUT;
    let fail = |step: &str, e: String, _: &mut Target| -> anyhow::Error {
        anyhow!("{name}: {step} failed: {e}")
    };
    let image = match source {
        Source::Blob(blob) => {
            let leases = [Lend::read(blob.as_bytes().to_vec())];
            let args = [
                ("device_index", u64::from(index)),
                ("flags", u64::from(opts.flags)),
                ("timeout_ms", u64::from(opts.timeout_ms)),
            ];
            return match caller.call(
                target,
                "load_by_name",
                &args,
                &leases,
                wait,
            )? {
                Ok(_) => Ok(caller
                    .archive
                    .manifest
                    .blobs
                    .iter()
                    .find(|b| &b.name == blob)
                    .map_or(0, |b| b.size as usize)),
                Err(e) => Err(fail("load_by_name", e, target)),
            };
        }
        Source::Bytes(b) => b,
    };
    let chunk = caller.hiffy.buffer_len();
    let args = [
        ("device_index", u64::from(index)),
        ("flags", u64::from(opts.flags)),
        ("image_len", image.len() as u64),
        ("timeout_ms", u64::from(opts.timeout_ms)),
    ];
    let first = match caller.call(target, "load_begin", &args, &[], wait)? {
        Ok(r) => u32::from_le_bytes(
            r.get(..4)
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default(),
        ) as usize,
        Err(e) => return Err(fail("load_begin", e, target)),
    };
    if first > chunk {
        return Err(anyhow!(
            "{name}: the driver wants a first chunk of {first} bytes; hiffy's \
             buffer holds {chunk}"
        ));
    }
    let bar = opts.progress.then(|| {
        let bar = indicatif::ProgressBar::new(image.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let pause: Option<usize> =
        std::env::var(PAUSE_ENV).ok().and_then(|v| v.parse().ok());
    let dev = [("device_index", u64::from(index))];
    let mut sent = 0usize;
    let mut chunks = 0usize;
    while sent < image.len() {
        if pause == Some(chunks) {
            eprintln!("humility: paused after {chunks} chunks ({sent} bytes)");
            while !caller.interrupted.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if caller.interrupted.load(Ordering::SeqCst) {
            if let Some(b) = &bar {
                b.abandon();
            }
            bail!(
                "{name}: interrupted after {sent} of {} bytes; the load is \
                 abandoned",
                image.len()
            );
        }
        let end = (sent + chunk).min(image.len());
        let lease = [Lend::read(image[sent..end].to_vec())];
        match caller.call(target, "load_chunk", &dev, &lease, wait)? {
            Ok(_) => {}
            Err(e) if e == "FirstChunkTooShort" && sent == 0 => {
                let need = caller.must(
                    target,
                    "load_header_needed",
                    &dev,
                    &[],
                    OP_TIMEOUT,
                )?;
                let need = u32::from_le_bytes(
                    need.get(..4)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or_default(),
                ) as usize;
                if need > chunk || need <= end {
                    return Err(fail(
                        "load_chunk",
                        format!(
                            "the driver wants a first chunk of {need} bytes; \
                             hiffy's buffer holds {chunk}"
                        ),
                        target,
                    ));
                }
                let lease = [Lend::read(image[..need].to_vec())];
                if let Err(e) =
                    caller.call(target, "load_chunk", &dev, &lease, wait)?
                {
                    return Err(fail("load_chunk", e, target));
                }
                sent = need;
                chunks += 1;
                continue;
            }
            Err(e) => {
                if let Some(b) = &bar {
                    b.abandon();
                }
                return Err(fail("load_chunk", e, target));
            }
        }
        sent = end;
        chunks += 1;
        if let Some(b) = &bar {
            b.set_position(sent as u64);
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Err(e) = caller.call(target, "load_end", &dev, &[], wait)? {
        return Err(fail("load_end", e, target));
    }
    Ok(image.len())
}

/// `fpga reset DEVICE` / `fpga remove DEVICE`: lock, the op, release.
///
/// # Errors
///
/// Bad device, a busy device, the manager's refusal.
pub fn device_op(
    caller: &Caller,
    target: &mut Target,
    device: &str,
    op: &str,
) -> Result<String> {
    let index = caller.mgr.device(device)?;
    let name = caller.mgr.device_name(index);
    let dev = [("device_index", u64::from(index))];
    if let Err(e) = caller.call(target, "lock", &dev, &[], OP_TIMEOUT)? {
        bail!("cannot lock {name}: {e}");
    }
    let r = caller.call(target, op, &dev, &[], OP_TIMEOUT * 3);
    let released = caller.call(target, "release", &dev, &[], OP_TIMEOUT);
    let state = caller
        .state(target, index)
        .unwrap_or_else(|e| format!("unknown ({e})"));
    match r? {
        Ok(_) => {
            released?.map_err(|e| anyhow!("release: {e}"))?;
            Ok(format!("humility: {name}: {op} done; state {state}\n"))
        }
        Err(e) => bail!("{name}: {op} failed: {e}; state {state}"),
    }
}

/// `fpga bridge BRIDGE [enable|disable|state]`.
///
/// # Errors
///
/// Bad bridge or action, the manager's refusal.
pub fn bridge(
    caller: &Caller,
    target: &mut Target,
    bridge: &str,
    action: &str,
) -> Result<String> {
    let index = caller.mgr.bridge(bridge)?;
    let name = caller
        .mgr
        .bridge_names()
        .get(usize::from(index))
        .map_or_else(|| bridge.to_owned(), |n| (*n).to_owned());
    let args = [("bridge_index", u64::from(index))];
    let op = match action {
        "enable" => "bridge_enable",
        "disable" => "bridge_disable",
        "state" => "bridge_state",
        other => {
            bail!(
                "unknown bridge action {other:?}: use state, enable or disable"
            )
        }
    };
    if op != "bridge_state"
        && let Err(e) = caller.call(target, op, &args, &[], OP_TIMEOUT)?
    {
        bail!("bridge {name}: {action} failed: {e}");
    }
    let on = caller.must(target, "bridge_state", &args, &[], OP_TIMEOUT)?;
    Ok(format!(
        "humility: bridge {name}: {}\n",
        if on.first().copied().unwrap_or(0) != 0 {
            "enabled"
        } else {
            "disabled"
        }
    ))
}

/// `fpga region program REGION FILE|--blob NAME`: the manager locks,
/// disables the bridges, loads, enables them and releases in one call,
/// so the image must fit hiffy's buffer when it comes from the host.
///
/// # Errors
///
/// Bad region, file or blob, an image larger than hiffy's buffer, the
/// manager's refusal.
pub fn region_program(
    caller: &Caller,
    target: &mut Target,
    region: &str,
    source: &Source,
    opts: &LoadOptions,
) -> Result<String> {
    let index = caller.mgr.region(region)?;
    let config = &caller.mgr.config.regions[usize::from(index)];
    let args = [
        ("region_index", u64::from(index)),
        ("flags", u64::from(opts.flags)),
        ("timeout_ms", u64::from(opts.timeout_ms)),
    ];
    let wait = Duration::from_millis(u64::from(opts.timeout_ms.max(10_000)))
        + OP_TIMEOUT;
    let t0 = Instant::now();
    let (op, lease, len) = match source {
        Source::Blob(blob) => {
            check_blob(caller.archive, blob)?;
            let len = caller
                .archive
                .manifest
                .blobs
                .iter()
                .find(|b| &b.name == blob)
                .map_or(0, |b| b.size as usize);
            (
                "region_program_by_name",
                Lend::read(blob.as_bytes().to_vec()),
                len,
            )
        }
        Source::Bytes(b) => {
            if b.len() > caller.hiffy.buffer_len() {
                bail!(
                    "the image is {} bytes; region program lends it whole and \
                     hiffy's buffer holds {} (load the device with `fpga \
                     load`, or name a blob with --blob)",
                    b.len(),
                    caller.hiffy.buffer_len()
                );
            }
            ("region_program", Lend::read(b.clone()), b.len())
        }
    };
    let r = caller.call(target, op, &args, &[lease], wait)?;
    let device = caller.mgr.device(&config.device)?;
    let state = caller
        .state(target, device)
        .unwrap_or_else(|e| format!("unknown ({e})"));
    match r {
        Ok(_) => Ok(format!(
            "humility: region {}: {} {state}; {len} bytes in {:.3} s\n",
            config.name,
            config.device,
            t0.elapsed().as_secs_f64()
        )),
        Err(e) => bail!(
            "region {}: {op} failed: {e}; {} state {state}",
            config.name,
            config.device
        ),
    }
}

/// Whether to draw a progress bar: only for a person at a terminal.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_name_and_number() {
        assert_eq!(parse_flags("partial,lsb-first").unwrap(), 1 | 8);
        assert_eq!(parse_flags("").unwrap(), 0);
        assert_eq!(parse_flags("0x10").unwrap(), 16);
        let err = parse_flags("partial,fast").unwrap_err().to_string();
        assert!(
            err.contains("\"fast\"") && err.contains("lsb-first"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn names_or_indexes() {
        let names = ["ice40", "xc7"];
        assert_eq!(pick("device", &names, "xc7").unwrap(), 1);
        assert_eq!(pick("device", &names, "0").unwrap(), 0);
        let err = pick("device", &names, "2").unwrap_err().to_string();
        assert!(err.contains("ice40, xc7"), "{err}");
        assert!(pick("device", &names, "xc8").is_err());
        assert!(pick("bridge", &[], "0").is_err());
    }

    #[test]
    fn states_and_status_bits_by_linux_name() {
        assert_eq!(state_name(14), "operating");
        assert_eq!(state_name(13), "write complete error");
        assert_eq!(state_name(99), "state 99?");
        assert_eq!(status_text(0), "(none)");
        assert_eq!(
            status_text(status::CRC_ERR | 1 << 40),
            "reconfig CRC error, 0x10000000000"
        );
        assert_eq!(flags_text(u64::from(flags::LSB_FIRST)), "lsb-first");
    }
}
