//! `humility hiffy`: list the image's interfaces, and call an op through
//! the hiffy agent task (protocol in `task/hiffy/src/main.rs`).
//!
//! ```text
//! $ humility hiffy -c Pong.echo -a value=7
//! Pong.echo(value: 7) => 7
//! ```
//!
//! We check everything the server would check before sending (argument
//! size, lease count and rights, `max_len`): a server answers a malformed
//! message with REPLY_FAULT, which would fault hiffy instead of telling
//! us what was wrong.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use idol::check::Operation;

use crate::archive::Archive;
use crate::target::Target;
use crate::wire;

/// `HIFFY_READY` once hiffy runs (hiffy's `VERSION`).
pub const HIFFY_VERSION: u32 = 2;
/// Message and reply limit (hiffy's `MESSAGE_MAX`).
pub const MESSAGE_MAX: usize = 256;
/// Most leases one call lends (hiffy's `MAX_LEASES`).
pub const MAX_LEASES: usize = 4;
/// Where the argument bytes start in `HIFFY_REQUEST`: five words, then
/// three words per lease.
const ARGS_AT: usize = 20 + 12 * MAX_LEASES;
/// Size of `HIFFY_REQUEST`.
pub const REQUEST_SIZE: u64 = (ARGS_AT + MESSAGE_MAX) as u64;
/// Size of `HIFFY_RESULT`: four words and the reply bytes.
pub const RESULT_SIZE: u64 = 16 + MESSAGE_MAX as u64;
/// hiffy's status codes.
const STATUS_SENT: u32 = 0;
const STATUS_NOT_CALLABLE: u32 = 1;

/// `hiffy -l [filter]`: interfaces, their ops, argument and reply types,
/// and the task serving each.
///
/// # Errors
///
/// If an interface definition cannot be read.
pub fn list(archive: &Archive, filter: Option<&str>) -> Result<String> {
    let mut out = String::new();
    for served in archive.interfaces()? {
        let name = served.iface.name.to_string();
        if filter.is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let tasks: Vec<String> = served
            .servers
            .iter()
            .map(|&t| archive.task_name(t))
            .collect();
        let _ = writeln!(
            out,
            "{name} (served by {})",
            if tasks.is_empty() {
                "no task".to_string()
            } else {
                tasks.join(", ")
            }
        );
        for op in &served.iface.ops {
            let _ =
                writeln!(out, "  +--> {name}.{} (op {})", op.name, op.number);
            for a in &op.args {
                let _ = writeln!(
                    out,
                    "  |       {:<24} {}",
                    a.name.to_string(),
                    wire::type_text(&a.ty.api)
                );
            }
            for l in &op.leases {
                let rights = match (l.read, l.write) {
                    (true, true) => "read-write",
                    (true, false) => "read",
                    _ => "write",
                };
                let _ = writeln!(
                    out,
                    "  |       {:<24} {} lease{}",
                    l.name.to_string(),
                    rights,
                    l.max_len
                        .map(|m| format!(", at most {m}"))
                        .unwrap_or_default()
                );
            }
            let _ = writeln!(
                out,
                "  |       {:<24} {}",
                "<ok>",
                wire::type_text(&op.reply.ok.api)
            );
            if let Some(e) = &op.reply.err {
                let e = match e {
                    idol::check::ErrorKind::CLike(t)
                    | idol::check::ErrorKind::Complex(t) => wire::type_text(t),
                    idol::check::ErrorKind::ServerDeath => "ServerDeath".into(),
                };
                let _ = writeln!(out, "  |       {:<24} {e}", "<error>");
            }
        }
    }
    if out.is_empty() {
        bail!("no interface matches {:?}", filter.unwrap_or(""));
    }
    Ok(out)
}

/// What `hiffy -c` was asked to do.
#[derive(Default, Debug)]
pub struct Call {
    /// `Iface.op`.
    pub call: String,
    /// `-a` values.
    pub args: Vec<String>,
    /// `-i` (repeatable): contents of the op's read (or read-write)
    /// leases, in the order the op declares them.
    pub inputs: Vec<Vec<u8>>,
    /// `-n` (repeatable): sizes of its write (or read-write) leases, in
    /// order.
    pub write_lens: Vec<usize>,
    /// `-t`: the serving task, when several serve the interface.
    pub task: Option<String>,
    /// `-T`: how long to wait for hiffy.
    pub timeout: Option<Duration>,
}

/// The result of a call: the printable line and the bytes the server
/// wrote into each write lease.
#[derive(Debug)]
pub struct Called {
    pub text: String,
    pub written: Vec<Vec<u8>>,
}

/// A checked request, ready for hiffy.
struct Request {
    server: usize,
    op: u16,
    args: Vec<u8>,
    leases: Vec<Lend>,
}

/// How hiffy lends a lease.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LeaseKind {
    Read = 1,
    Write = 2,
    ReadWrite = 3,
}

/// One lease of a call: its rights, the bytes the server may read (for a
/// read or read-write lease) and its length (at least the bytes').
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lend {
    pub kind: LeaseKind,
    pub data: Vec<u8>,
    pub len: usize,
}

impl Lend {
    /// A read lease over `data`.
    pub fn read(data: Vec<u8>) -> Self {
        let len = data.len();
        Self {
            kind: LeaseKind::Read,
            data,
            len,
        }
    }
}

/// What hiffy brought back from one SEND.
#[derive(Debug)]
pub struct Sent {
    /// The server's response code.
    pub rc: u32,
    /// The reply message.
    pub reply: Vec<u8>,
    /// What the server wrote into each write (or read-write) lease, in
    /// the order of the call's leases; empty for read leases.
    pub written: Vec<Vec<u8>>,
}

/// Finds the op and its server and encodes the request; everything that
/// can be checked without a running system.
fn prepare(
    archive: &Archive,
    call: &Call,
) -> Result<(Operation, Request, String)> {
    let (iface_name, op_name) = call.call.split_once('.').ok_or_else(|| {
        anyhow!("{:?} is not of the form Interface.op", call.call)
    })?;
    let served = archive.interfaces()?;
    let served = served
        .into_iter()
        .find(|s| s.iface.name == iface_name)
        .ok_or_else(|| {
            anyhow!("unknown interface {iface_name:?} (`hiffy -l` lists them)")
        })?;
    let op = served
        .iface
        .ops
        .iter()
        .find(|o| o.name == op_name)
        .cloned()
        .ok_or_else(|| {
            anyhow!("interface {iface_name} has no op {op_name:?}")
        })?;
    let server = match &call.task {
        Some(t) => {
            let index = usize::from(archive.task(t)?.index);
            if !served.servers.is_empty() && !served.servers.contains(&index) {
                bail!("task {t} does not serve {iface_name}");
            }
            index
        }
        None => match served.servers.as_slice() {
            [one] => *one,
            [] => bail!("no task serves {iface_name}; name one with -t"),
            many => bail!(
                "{iface_name} is served by {}; pick one with -t",
                many.iter()
                    .map(|&t| archive.task_name(t))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let debug = archive.debug(server).ok();
    let given = wire::parse_args(&call.args)?;
    let args = wire::encode_args(&op, &given, debug.as_deref())?;
    if args.len() > MESSAGE_MAX {
        bail!(
            "the arguments take {} bytes; a message holds {MESSAGE_MAX}",
            args.len()
        );
    }
    let leases = leases(&op, call)?;
    let shown = given
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let label = format!("{iface_name}.{op_name}({shown})");
    Ok((
        op.clone(),
        Request {
            server,
            op: op.number,
            args,
            leases,
        },
        label,
    ))
}

/// The leases hiffy should lend, checked against the op's declaration
/// as the server will check them: read leases take the `-i` files in
/// order, write leases the `-n` sizes, read-write leases one of each
/// (either may be missing; the lease is as long as the longer).
fn leases(op: &Operation, call: &Call) -> Result<Vec<Lend>> {
    if op.leases.len() > MAX_LEASES {
        bail!(
            "{} takes {} leases; hiffy lends at most {MAX_LEASES}",
            op.name,
            op.leases.len()
        );
    }
    let mut inputs = call.inputs.iter();
    let mut sizes = call.write_lens.iter();
    let mut out = Vec::new();
    for wants in &op.leases {
        if wants
            .element
            .as_ref()
            .is_some_and(|e| wire::type_text(e) != "u8")
        {
            bail!(
                "lease {} is not a byte slice; hiffy lends bytes only",
                wants.name
            );
        }
        let lend = match (wants.read, wants.write) {
            (true, false) => Lend::read(
                inputs
                    .next()
                    .ok_or_else(|| {
                        anyhow!(
                            "{} reads lease {}: give its contents with -i FILE",
                            op.name,
                            wants.name
                        )
                    })?
                    .clone(),
            ),
            (false, _) => Lend {
                kind: LeaseKind::Write,
                data: Vec::new(),
                len: *sizes.next().ok_or_else(|| {
                    anyhow!(
                        "{} writes lease {}: give its size with -n BYTES",
                        op.name,
                        wants.name
                    )
                })?,
            },
            (true, true) => {
                let data = inputs.next().cloned();
                let n = sizes.next().copied();
                if data.is_none() && n.is_none() {
                    bail!(
                        "{} reads and writes lease {}: give -i FILE or -n BYTES",
                        op.name,
                        wants.name
                    );
                }
                let data = data.unwrap_or_default();
                let len = n.unwrap_or(0).max(data.len());
                Lend {
                    kind: LeaseKind::ReadWrite,
                    data,
                    len,
                }
            }
        };
        if let Some(max) = wants.max_len
            && lend.len > max.get() as usize
        {
            bail!(
                "lease {} holds at most {max} bytes; got {}",
                wants.name,
                lend.len
            );
        }
        out.push(lend);
    }
    if inputs.next().is_some() || sizes.next().is_some() {
        bail!(
            "{} takes {} lease(s); too many -i/-n given",
            op.name,
            op.leases.len()
        );
    }
    Ok(out)
}

/// Where hiffy's statics are.
struct Agent {
    task: usize,
    ready: u64,
    kick: u64,
    request: u64,
    result: u64,
    data: u64,
    data_len: u64,
}

fn agent(archive: &Archive) -> Result<Agent> {
    let entry = archive
        .manifest
        .tasks
        .iter()
        .find(|t| t.name == "hiffy" || t.crate_name == "task-hiffy")
        .ok_or_else(|| anyhow!("this image has no hiffy task"))?;
    let task = usize::from(entry.index);
    let elf = archive.elf(task)?;
    let sym = |name: &str, size: Option<u64>| {
        let s = elf
            .symbol(name)
            .ok_or_else(|| anyhow!("hiffy's ELF has no {name}"))?;
        if let Some(want) = size
            && s.size != want
        {
            bail!(
                "hiffy's {name} is {} bytes, not {want}: this humility \
                 does not speak this hiffy's protocol",
                s.size
            );
        }
        Ok(s)
    };
    let data = sym("HIFFY_DATA", None)?;
    // HIFFY_DATA is a StaticCell: a borrow flag, then the bytes.
    let (offset, len) =
        data_cell(archive, task).unwrap_or((1, data.size.saturating_sub(1)));
    Ok(Agent {
        task,
        ready: sym("HIFFY_READY", Some(4))?.address,
        kick: sym("HIFFY_KICK", Some(4))?.address,
        request: sym("HIFFY_REQUEST", Some(REQUEST_SIZE))?.address,
        result: sym("HIFFY_RESULT", Some(RESULT_SIZE))?.address,
        data: data.address + offset,
        data_len: len,
    })
}

/// The byte array inside `HIFFY_DATA`'s `StaticCell`: `(offset, len)`.
fn data_cell(archive: &Archive, task: usize) -> Option<(u64, u64)> {
    use crate::dwarf::Type;
    let debug = archive.debug(task).ok()?;
    let var = debug.lookup("HIFFY_DATA").into_iter().next()?.clone();
    let mut ty = var.ty;
    let mut offset = 0;
    // StaticCell { borrowed, cell: UnsafeCell { value: [u8; N] } }
    for _ in 0..4 {
        match &*debug.ty(ty) {
            Type::Struct(s) => {
                let m = s.members.iter().find(|m| m.name != "borrowed")?;
                offset += m.offset;
                ty = m.ty;
            }
            Type::Array { .. } => return Some((offset, debug.size_of(ty))),
            _ => return None,
        }
    }
    None
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `hiffy -c`: performs the call and decodes the reply.
///
/// # Errors
///
/// Bad input (each names what is wrong), a dump as target, hiffy not
/// running or not allowed to call the server, or no answer in time.
pub fn call(
    archive: &Archive,
    target: &mut Target,
    call: &Call,
) -> Result<Called> {
    let (op, req, label) = prepare(archive, call)?;
    let hiffy = Hiffy::new(archive)?;
    hiffy.check_callable(archive, req.server)?;
    let timeout = call.timeout.unwrap_or(Duration::from_secs(5));
    let sent = hiffy.send(
        archive,
        target,
        req.server,
        req.op,
        &req.args,
        &req.leases,
        timeout,
    )?;
    let debug = archive.debug(req.server).ok();
    let text = format!(
        "{label} => {}",
        wire::decode_reply(&op, sent.rc, &sent.reply, debug.as_deref())
    );
    let written = sent.written.into_iter().filter(|w| !w.is_empty()).collect();
    Ok(Called { text, written })
}

/// The hiffy agent of an image, found once and used for many calls
/// (`humility fpga load` makes one per chunk).
pub struct Hiffy {
    agent: Agent,
    name: String,
    callable: Vec<usize>,
}

impl Hiffy {
    /// Finds hiffy and its statics in the archive.
    ///
    /// # Errors
    ///
    /// If the image has no hiffy, or one speaking another protocol.
    pub fn new(archive: &Archive) -> Result<Self> {
        let agent = agent(archive)?;
        let entry = archive
            .manifest
            .tasks
            .get(agent.task)
            .ok_or_else(|| anyhow!("no hiffy task"))?;
        Ok(Self {
            name: entry.name.clone(),
            callable: entry
                .task_slots
                .iter()
                .map(|s| usize::from(s.task))
                .collect(),
            agent,
        })
    }

    /// Bytes hiffy can lend in one call (all leases together).
    pub fn buffer_len(&self) -> usize {
        usize::try_from(self.agent.data_len).unwrap_or(usize::MAX)
    }

    /// Refuses a server hiffy may not call (the kernel would fault hiffy;
    /// hiffy refuses, but saying why here is clearer).
    ///
    /// # Errors
    ///
    /// If `server` is not in hiffy's task-slots.
    pub fn check_callable(
        &self,
        archive: &Archive,
        server: usize,
    ) -> Result<()> {
        if !self.callable.contains(&server) {
            bail!(
                "hiffy may not call {}: add it to tasks.{}.task-slots in app.toml",
                archive.task_name(server),
                self.name
            );
        }
        Ok(())
    }

    /// Has hiffy SEND `op` with `args` and `leases` to `server`, and
    /// waits up to `timeout` for the result.
    ///
    /// # Errors
    ///
    /// Leases larger than hiffy's buffer, a dump as target, hiffy not
    /// running, refusing, faulting or not answering in time.
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &self,
        archive: &Archive,
        target: &mut Target,
        server: usize,
        op: u16,
        args: &[u8],
        leases: &[Lend],
        timeout: Duration,
    ) -> Result<Sent> {
        let agent = &self.agent;
        if args.len() > MESSAGE_MAX {
            bail!(
                "the arguments take {} bytes; a message holds {MESSAGE_MAX}",
                args.len()
            );
        }
        if leases.len() > MAX_LEASES {
            bail!("hiffy lends at most {MAX_LEASES} leases per call");
        }
        let total: usize = leases.iter().map(|l| l.len).sum();
        if total as u64 > agent.data_len {
            bail!(
                "the leases take {total} bytes; hiffy's buffer holds {} (raise \
                 tasks.{}.config.data-size)",
                agent.data_len,
                self.name
            );
        }
        target.writable("hiffy")?;
        let ready =
            u32_at(&target.read(archive, agent.task, agent.ready, 4)?, 0);
        if ready != HIFFY_VERSION {
            bail!(
                "hiffy is not running (HIFFY_READY is {ready}, expected \
                 {HIFFY_VERSION}); see `humility tasks`"
            );
        }
        // The leases lie one after the other in HIFFY_DATA.
        let mut request = Vec::with_capacity(REQUEST_SIZE as usize);
        for word in [
            server as u32,
            u32::from(op),
            MESSAGE_MAX as u32,
            leases.len() as u32,
            args.len() as u32,
        ] {
            request.extend(word.to_le_bytes());
        }
        let mut offsets = Vec::new();
        let mut at = 0usize;
        for l in leases {
            if !l.data.is_empty() {
                target.write(agent.task, agent.data + at as u64, &l.data)?;
            }
            for word in [l.kind as u32, at as u32, l.len as u32] {
                request.extend(word.to_le_bytes());
            }
            offsets.push(at);
            at += l.len;
        }
        request.resize(ARGS_AT, 0);
        request.extend(args);
        request.resize(REQUEST_SIZE as usize, 0);
        target.write(agent.task, agent.request, &request)?;
        let kick = u32_at(&target.read(archive, agent.task, agent.kick, 4)?, 0)
            .wrapping_add(1);
        target.write(agent.task, agent.kick, &kick.to_le_bytes())?;

        let start = Instant::now();
        let result = loop {
            let r =
                target.read(archive, agent.task, agent.result, RESULT_SIZE)?;
            if u32_at(&r, 0) == kick {
                break r;
            }
            if start.elapsed() > timeout {
                return Err(stuck(archive, target, agent.task, timeout));
            }
            target.let_run(Duration::from_micros(500))?;
        };
        match u32_at(&result, 4) {
            STATUS_SENT => {}
            STATUS_NOT_CALLABLE => bail!(
                "hiffy refused: {} is not in its task-slots",
                archive.task_name(server)
            ),
            s => bail!("hiffy refused the request as malformed (status {s})"),
        }
        let rc = u32_at(&result, 8);
        let len = (u32_at(&result, 12) as usize).min(MESSAGE_MAX);
        let reply = result[16..16 + len].to_vec();
        let mut written = Vec::new();
        for (l, &at) in leases.iter().zip(&offsets) {
            if l.kind == LeaseKind::Read {
                written.push(Vec::new());
            } else {
                written.push(
                    target
                        .read(
                            archive,
                            agent.task,
                            agent.data + at as u64,
                            l.len as u64,
                        )
                        .context("reading back a write lease")?,
                );
            }
        }
        Ok(Sent { rc, reply, written })
    }
}

/// Why hiffy did not answer: faulted (by the server, usually) or slow.
fn stuck(
    archive: &Archive,
    target: &mut Target,
    task: usize,
    timeout: Duration,
) -> anyhow::Error {
    let row = target
        .tasks()
        .ok()
        .and_then(|rows| rows.into_iter().find(|r| r.index == task));
    if let Some(row) = row
        && let Ok(state) = row.decode_state()
        && let abi::TaskState::Faulted { fault, .. } = state
    {
        return anyhow!(
            "hiffy faulted during the call: {}",
            crate::tasks::fault_string(archive, &fault)
        );
    }
    anyhow!(
        "hiffy did not finish the call within {} ms (starved by busier \
         tasks, or the server has not replied)",
        timeout.as_millis()
    )
}

/// Formats write-lease bytes as a hex dump, 16 per line.
pub fn hexdump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = writeln!(out, "{:08x}  {}", i * 16, crate::target::hex(chunk));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(text: &str) -> Operation {
        let iface = idol::parse(text, "t.idol").expect("parses");
        iface.ops[0].clone()
    }

    const LOAD: &str = r#"Interface(name: "Mgr", ops: {
        "load": (
            args: { "device": "u8" },
            leases: { "image": (type: "[u8]", read: true, max_len: Some(8)) },
            reply: Result(ok: "()", err: CLike("MgrError")),
        ),
    })"#;

    #[test]
    fn a_read_lease_needs_input_and_respects_max_len() {
        let load = op(LOAD);
        let mut call = Call::default();
        let err = leases(&load, &call).expect_err("no -i");
        assert!(err.to_string().contains("-i FILE"), "{err}");
        call.inputs = vec![vec![0; 8]];
        assert_eq!(leases(&load, &call).expect("ok"), [Lend::read(vec![0; 8])]);
        call.inputs = vec![vec![0; 9]];
        let err = leases(&load, &call).expect_err("too long");
        assert!(err.to_string().contains("at most 8"), "{err}");
        call.inputs = vec![];
        call.write_lens = vec![4];
        assert!(leases(&load, &call).is_err());
    }

    const TWO: &str = r#"Interface(name: "Mgr", ops: {
        "attach": (
            leases: {
                "catalog": (type: "[u8]", read: true),
                "log": (type: "[u8]", write: true),
                "images": (type: "[u8]", read: true),
            },
            reply: Result(ok: "()", err: CLike("MgrError")),
        ),
    })"#;

    #[test]
    fn several_leases_take_inputs_and_sizes_in_order() {
        let attach = op(TWO);
        let mut call = Call {
            inputs: vec![vec![1; 3], vec![2; 5]],
            write_lens: vec![7],
            ..Call::default()
        };
        let got = leases(&attach, &call).expect("three leases");
        assert_eq!(got[0], Lend::read(vec![1; 3]));
        assert_eq!(
            got[1],
            Lend {
                kind: LeaseKind::Write,
                data: vec![],
                len: 7
            }
        );
        assert_eq!(got[2], Lend::read(vec![2; 5]));
        call.inputs.pop();
        let err = leases(&attach, &call).expect_err("one -i short");
        assert!(err.to_string().contains("images"), "{err}");
        call.inputs = vec![vec![1], vec![2], vec![3]];
        let err = leases(&attach, &call).expect_err("one -i too many");
        assert!(err.to_string().contains("too many"), "{err}");
    }
}
