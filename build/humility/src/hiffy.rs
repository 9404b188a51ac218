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
pub const HIFFY_VERSION: u32 = 1;
/// Message and reply limit (hiffy's `MESSAGE_MAX`).
pub const MESSAGE_MAX: usize = 256;
/// Size of `HIFFY_REQUEST`: six words and the argument bytes.
pub const REQUEST_SIZE: u64 = 24 + MESSAGE_MAX as u64;
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
    /// `-i`: contents of a read lease.
    pub input: Option<Vec<u8>>,
    /// `-n`: size of a write lease.
    pub write_len: Option<usize>,
    /// `-t`: the serving task, when several serve the interface.
    pub task: Option<String>,
    /// `-T`: how long to wait for hiffy.
    pub timeout: Option<Duration>,
}

/// The result of a call: the printable line and any bytes the server
/// wrote into a write lease.
#[derive(Debug)]
pub struct Called {
    pub text: String,
    pub written: Option<Vec<u8>>,
}

/// A checked request, ready for hiffy.
struct Request {
    server: usize,
    op: u16,
    args: Vec<u8>,
    lease_kind: u32,
    lease_len: usize,
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
    let (lease_kind, lease_len) = lease(&op, call)?;
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
            lease_kind,
            lease_len,
        },
        label,
    ))
}

/// The lease hiffy should lend: `(kind, length)`, checked against the
/// op's declaration as the server will check it.
fn lease(op: &Operation, call: &Call) -> Result<(u32, usize)> {
    let wants = match op.leases.as_slice() {
        [] => {
            if call.input.is_some() || call.write_len.is_some() {
                bail!("{} takes no lease; drop -i/-n", op.name);
            }
            return Ok((0, 0));
        }
        [one] => one,
        many => bail!(
            "{} takes {} leases; hiffy lends at most one",
            op.name,
            many.len()
        ),
    };
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
    let (kind, len) =
        match (wants.read, wants.write, &call.input, call.write_len) {
            (true, false, Some(data), None) => (1, data.len()),
            (false, true, None, Some(n)) => (2, n),
            (true, true, Some(data), n) => {
                (3, n.unwrap_or(data.len()).max(data.len()))
            }
            (true, true, None, Some(n)) => (3, n),
            (true, _, None, _) => {
                bail!(
                    "{} reads lease {}: give its contents with -i FILE",
                    op.name,
                    wants.name
                )
            }
            (false, true, _, None) => {
                bail!(
                    "{} writes lease {}: give its size with -n BYTES",
                    op.name,
                    wants.name
                )
            }
            _ => bail!(
                "{} lends lease {} {}; use {}",
                op.name,
                wants.name,
                if wants.read {
                    "for reading"
                } else {
                    "for writing"
                },
                if wants.read { "-i" } else { "-n" }
            ),
        };
    if let Some(max) = wants.max_len
        && len > max.get() as usize
    {
        bail!("lease {} holds at most {max} bytes; got {len}", wants.name);
    }
    Ok((kind, len))
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
    let agent = agent(archive)?;
    let hiffy = archive
        .manifest
        .tasks
        .get(agent.task)
        .ok_or_else(|| anyhow!("no hiffy task"))?;
    if !hiffy
        .task_slots
        .iter()
        .any(|s| usize::from(s.task) == req.server)
    {
        bail!(
            "hiffy may not call {}: add it to tasks.{}.task-slots in app.toml",
            archive.task_name(req.server),
            hiffy.name
        );
    }
    if req.lease_len as u64 > agent.data_len {
        bail!(
            "the lease is {} bytes; hiffy's buffer holds {} (raise \
             tasks.{}.config.data-size)",
            req.lease_len,
            agent.data_len,
            hiffy.name
        );
    }
    target.live("hiffy -c")?;
    let ready = u32_at(&target.read(archive, agent.task, agent.ready, 4)?, 0);
    if ready != HIFFY_VERSION {
        bail!(
            "hiffy is not running (HIFFY_READY is {ready}, expected \
             {HIFFY_VERSION}); see `humility tasks`"
        );
    }
    if let Some(data) = &call.input {
        target.write(agent.task, agent.data, data)?;
    }
    let mut request = Vec::with_capacity(REQUEST_SIZE as usize);
    for word in [
        req.server as u32,
        u32::from(req.op),
        MESSAGE_MAX as u32,
        req.lease_kind,
        req.lease_len as u32,
        req.args.len() as u32,
    ] {
        request.extend(word.to_le_bytes());
    }
    request.extend(&req.args);
    request.resize(REQUEST_SIZE as usize, 0);
    target.write(agent.task, agent.request, &request)?;
    let kick = u32_at(&target.read(archive, agent.task, agent.kick, 4)?, 0)
        .wrapping_add(1);
    target.write(agent.task, agent.kick, &kick.to_le_bytes())?;

    let timeout = call.timeout.unwrap_or(Duration::from_secs(5));
    let start = Instant::now();
    let result = loop {
        let r = target.read(archive, agent.task, agent.result, RESULT_SIZE)?;
        if u32_at(&r, 0) == kick {
            break r;
        }
        if start.elapsed() > timeout {
            return Err(stuck(archive, target, agent.task, timeout));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    match u32_at(&result, 4) {
        STATUS_SENT => {}
        STATUS_NOT_CALLABLE => bail!(
            "hiffy refused: {} is not in its task-slots",
            archive.task_name(req.server)
        ),
        s => bail!("hiffy refused the request as malformed (status {s})"),
    }
    let rc = u32_at(&result, 8);
    let len = (u32_at(&result, 12) as usize).min(MESSAGE_MAX);
    let reply = &result[16..16 + len];
    let debug = archive.debug(req.server).ok();
    let text = format!(
        "{label} => {}",
        wire::decode_reply(&op, rc, reply, debug.as_deref())
    );
    let written = if req.lease_kind >= 2 {
        Some(
            target
                .read(archive, agent.task, agent.data, req.lease_len as u64)
                .context("reading back the write lease")?,
        )
    } else {
        None
    };
    Ok(Called { text, written })
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
        let err = lease(&load, &call).expect_err("no -i");
        assert!(err.to_string().contains("-i FILE"), "{err}");
        call.input = Some(vec![0; 8]);
        assert_eq!(lease(&load, &call).expect("ok"), (1, 8));
        call.input = Some(vec![0; 9]);
        let err = lease(&load, &call).expect_err("too long");
        assert!(err.to_string().contains("at most 8"), "{err}");
        call.input = None;
        call.write_len = Some(4);
        assert!(lease(&load, &call).is_err());
    }
}
