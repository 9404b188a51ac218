//! Host-side attacks for `test/attack.toml`: what a local attacker (or an
//! unlucky environment) can do to a running kernel from outside it,
//! through its debug probe, its dump directory, its standard output and
//! the directories it starts in.
//!
//! Two groups of cases, each printing `test_<name> ... ok` (or `...
//! FAILED <why>`) into the same tally as the image's own cases:
//!
//! - [`run_live`]: against the image's kernel, once its in-system cases
//!   are done (the runner says so on the console). The last case checks that the kernel still answers, no task is
//!   left faulted and the ticker's timer still fires; then we fault the
//!   image's gate task through the probe, which tells its runner to stop.
//! - [`run_hostile`]: against kernels of the same image that we start
//!   ourselves in a hostile environment (a foreign or open probe
//!   directory, a plain file or a link in its place, a closed stdout, a
//!   dump directory swapped for a link).
//!
//! No case depends on timing: each waits for a condition (an answer, an
//! end of file, a count that grows), and a kernel that never gets there
//! fails the case when the image's timeout stops it.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use debug_protocol::TaskRow;
use debug_protocol::wire::{
    self, Done, DumpWritten, Identity, MAX_LINE, MAX_QUEUE, Request, TaskTable,
};
use serde::de::DeserializeOwned;

use crate::test::Tally;

/// Is this the attack image (the one that gets host-side cases)?
pub fn is_attack_image(app_toml: &Path) -> bool {
    app_toml.file_stem().is_some_and(|s| s == "attack")
}

/// The image's fixed task indices (see `test/attack.toml`; checked
/// against the task table's names by `test_attack_image_layout`).
const GATE: usize = 5;
const TICKER: usize = 6;

/// What the runner prints when the in-system cases are done.
const IN_SYSTEM_DONE: &str = "attack: in-system cases done";

/// How long the in-system cases may take (the image's own timeout stops
/// a hung run sooner or later; this only bounds our wait).
const IN_SYSTEM_TIMEOUT: Duration = Duration::from_secs(600);

/// How long we wait for one probe answer. Only a wedged kernel takes it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a waited-for condition may take before the case fails. Far
/// beyond anything a loaded machine needs; it only turns a hang into a
/// failure.
const CONDITION_TIMEOUT: Duration = Duration::from_secs(60);

type Outcome = Result<(), String>;

/// A named case over a context `C`.
type Case<C> = (&'static str, fn(&C) -> Outcome);

/// The lines the kernel printed, and whether its stdout has ended.
type Lines = Mutex<(Vec<String>, bool)>;

/// The kernel's output, shared with the thread that echoes it, so cases
/// can wait for a line.
#[derive(Clone, Default)]
pub struct KernelLog {
    inner: Arc<(Lines, Condvar)>,
}

impl KernelLog {
    pub fn push(&self, line: &str) {
        let (lock, cv) = &*self.inner;
        if let Ok(mut g) = lock.lock() {
            g.0.push(line.to_owned());
        }
        cv.notify_all();
    }

    /// The kernel's stdout has ended.
    pub fn close(&self) {
        let (lock, cv) = &*self.inner;
        if let Ok(mut g) = lock.lock() {
            g.1 = true;
        }
        cv.notify_all();
    }

    /// The first line (from `from` on) that `pred` accepts; `None` if
    /// the output ends or [`CONDITION_TIMEOUT`] passes first.
    fn wait_for(
        &self,
        from: usize,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        self.wait_for_within(from, pred, CONDITION_TIMEOUT)
    }

    fn wait_for_within(
        &self,
        from: usize,
        pred: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        let (lock, cv) = &*self.inner;
        let deadline = Instant::now() + timeout;
        let mut g = lock.lock().ok()?;
        loop {
            if let Some(l) = g.0.iter().skip(from).find(|l| pred(l)) {
                return Some(l.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if g.1 || left.is_zero() {
                return None;
            }
            g = cv.wait_timeout(g, left).ok()?.0;
        }
    }

    fn len(&self) -> usize {
        self.inner.0.lock().map(|g| g.0.len()).unwrap_or(0)
    }
}

/// A probe client for the cases: plain requests, typed answers.
struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    fn connect(path: &Path) -> Result<Self, String> {
        let stream = UnixStream::connect(path).map_err(|e| {
            format!("cannot connect to {}: {e}", path.display())
        })?;
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let reader =
            BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(Self { stream, reader })
    }

    /// Sends raw bytes (a line, or anything) and reads one answer line.
    fn raw(&mut self, bytes: &[u8]) -> Result<String, String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("send: {e}"))?;
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("the kernel closed the connection".into()),
            Ok(_) => Ok(line),
            Err(e) => Err(format!("no answer: {e}")),
        }
    }

    fn call<T: DeserializeOwned>(&mut self, r: &Request) -> Result<T, String> {
        let line = self.raw(r.to_line().as_bytes())?;
        wire::parse_answer(&line).map_err(|e| e.to_string())
    }

    /// Expects a refusal whose reason contains `why`.
    fn refused(&mut self, bytes: &[u8], why: &str) -> Outcome {
        let line = self.raw(bytes)?;
        match wire::parse_answer::<Done>(&line) {
            Err(wire::AnswerError::Refused(r)) if r.contains(why) => Ok(()),
            other => Err(format!("expected a refusal ({why}), got {other:?}")),
        }
    }

    fn tasks(&mut self) -> Result<Vec<TaskRow>, String> {
        Ok(self.call::<TaskTable>(&Request::Tasks)?.tasks)
    }
}

/// The live kernel, as the cases see it.
pub struct Live {
    probe: PathBuf,
    dump_dir: PathBuf,
    log: KernelLog,
    /// The ticker's syscall count when the cases started.
    ticker_start: u64,
}

/// Runs every live case, prints their lines, and finally faults the gate
/// so that the image's runner stops the system.
pub fn run_live(log: &KernelLog, dump_dir: &Path) -> Tally {
    let mut tally = Tally::default();
    let Some(line) =
        log.wait_for(0, |l| l.starts_with("kernel: debug probe at "))
    else {
        report(
            &mut tally,
            "test_probe_came_up",
            Err("the kernel never opened its probe".into()),
        );
        return tally;
    };
    let probe = PathBuf::from(
        line.trim_start_matches("kernel: debug probe at ").trim(),
    );
    // The in-system attackers go first; then it is our turn.
    let done = log.wait_for_within(
        0,
        |l| l.contains(IN_SYSTEM_DONE),
        IN_SYSTEM_TIMEOUT,
    );
    if done.is_none() {
        report(
            &mut tally,
            "test_in_system_cases_finished",
            Err("the runner never said the in-system cases were done".into()),
        );
    }
    let mut live = Live {
        probe,
        dump_dir: dump_dir.to_owned(),
        log: log.clone(),
        ticker_start: 0,
    };
    live.ticker_start = Client::connect(&live.probe)
        .and_then(|mut c| c.tasks())
        .ok()
        .and_then(|t| t.get(TICKER).map(|r| r.syscalls))
        .unwrap_or(0);
    let cases: &[Case<Live>] = &[
        ("test_attack_image_layout", attack_image_layout),
        ("test_probe_non_ascii_hex", probe_non_ascii_hex),
        ("test_probe_garbage_lines", probe_garbage_lines),
        ("test_probe_out_of_bounds_requests", probe_out_of_bounds),
        ("test_probe_huge_line", probe_huge_line),
        ("test_probe_stalled_reader", probe_stalled_reader),
        ("test_probe_connection_flood", probe_connection_flood),
        ("test_probe_foreign_peer", probe_foreign_peer),
        ("test_dump_never_overwrites", dump_never_overwrites),
        ("test_dump_path_escape", dump_path_escape),
        ("test_dump_symlink_target", dump_symlink_target),
        ("test_dump_flood_is_capped", dump_flood_is_capped),
        ("test_kernel_still_serving", kernel_still_serving),
    ];
    for (name, case) in cases {
        report(&mut tally, name, case(&live));
    }
    // Tell the runner we are done (whatever happened: it must stop).
    let _ = Client::connect(&live.probe)
        .and_then(|mut c| c.call::<Done>(&Request::Fault { task: GATE }));
    tally
}

fn report(tally: &mut Tally, name: &str, outcome: Outcome) {
    let mut out = std::io::stdout().lock();
    match outcome {
        Ok(()) => {
            tally.passed += 1;
            let _ = writeln!(out, "[host] {name} ... ok");
        }
        Err(why) => {
            tally.failed += 1;
            let _ = writeln!(out, "[host] {name} ... FAILED {why}");
        }
    }
}

/// The gate and ticker are where [`GATE`] and [`TICKER`] say.
fn attack_image_layout(live: &Live) -> Outcome {
    let t = Client::connect(&live.probe)?.tasks()?;
    for (index, name) in [(GATE, "gate"), (TICKER, "ticker")] {
        match t.get(index) {
            Some(r) if r.name == name => {}
            other => {
                return Err(format!(
                    "task {index} should be {name}, is {:?}",
                    other.map(|r| &r.name)
                ));
            }
        }
    }
    Ok(())
}

/// A ram address of task `task`, from the task table.
fn ram_of(c: &mut Client, task: usize) -> Result<(u32, u32), String> {
    let t = c.tasks()?;
    let r = t.get(task).ok_or("no such task")?;
    Ok((r.ram.base, r.ram.size))
}

fn probe_non_ascii_hex(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    let (base, _) = ram_of(&mut c, TICKER)?;
    for data in ["é0", "0é", "ü", "zz", "abc", "\u{0660}\u{0661}"] {
        let req = format!(
            "{{\"op\":\"write\",\"task\":{TICKER},\"address\":{base},\"data\":{}}}\n",
            serde_json::to_string(data).map_err(|e| e.to_string())?
        );
        c.refused(req.as_bytes(), "bad request")?;
    }
    // The kernel is still there, on the same connection.
    c.call::<Identity>(&Request::Identity).map(|_| ())
}

fn probe_garbage_lines(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    for junk in [
        &b"\n"[..],
        b"\xff\xfe\x00garbage\n",
        b"{\"op\":\"format_disk\"}\n",
        b"{\"op\":\"read\"}\n",
        b"[1,2,3]\n",
        b"{\"op\":\"read\",\"task\":1e400,\"address\":0,\"length\":1}\n",
        b"\r\n",
    ] {
        c.refused(junk, "bad request")?;
    }
    c.call::<Identity>(&Request::Identity).map(|_| ())
}

fn probe_out_of_bounds(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    let (base, size) = ram_of(&mut c, TICKER)?;
    let line = |r: Request| r.to_line().into_bytes();
    c.refused(
        &line(Request::Read {
            task: 9999,
            address: 0,
            length: 1,
        }),
        "no task",
    )?;
    c.refused(
        &line(Request::Read {
            task: TICKER,
            address: base,
            length: u32::MAX,
        }),
        "too large",
    )?;
    c.refused(
        &line(Request::Read {
            task: TICKER,
            address: u32::MAX,
            length: 2,
        }),
        "outside",
    )?;
    c.refused(
        &line(Request::Read {
            task: TICKER,
            address: base + size - 1,
            length: 2,
        }),
        "outside",
    )?;
    c.refused(
        &line(Request::Write {
            task: TICKER,
            address: base + size,
            data: vec![1].into(),
        }),
        "not in task",
    )?;
    c.refused(&line(Request::Fault { task: 0 }), "supervisor")?;
    c.refused(&line(Request::Fault { task: usize::MAX }), "no task")?;
    Ok(())
}

/// Writes `bytes` until the kernel closes the connection; `Ok` once it
/// has, `Err` if it took more than `budget` bytes.
fn write_until_closed(
    s: &mut UnixStream,
    bytes: &[u8],
    budget: usize,
) -> Outcome {
    let mut sent = 0;
    while sent < budget {
        match s.write(bytes) {
            Ok(n) => sent += n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
                ) =>
            {
                return Ok(());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    Err(format!("still open after {sent} bytes"))
}

fn probe_huge_line(live: &Live) -> Outcome {
    let mark = live.log.len();
    let mut s = UnixStream::connect(&live.probe).map_err(|e| e.to_string())?;
    // Meanwhile another client is served.
    let mut other = Client::connect(&live.probe)?;
    write_until_closed(&mut s, &[b'a'; 64 << 10], 4 * MAX_LINE)?;
    live.log
        .wait_for(mark, |l| l.contains("sent a line over"))
        .ok_or("no log line about the long line")?;
    other.call::<Identity>(&Request::Identity).map(|_| ())
}

fn probe_stalled_reader(live: &Live) -> Outcome {
    let mark = live.log.len();
    let mut s = UnixStream::connect(&live.probe).map_err(|e| e.to_string())?;
    let mut c = Client::connect(&live.probe)?;
    let (base, _) = ram_of(&mut c, TICKER)?;
    let before = c.tasks()?.get(TICKER).map(|r| r.syscalls).unwrap_or(0);
    // Ask for large answers and never read one.
    let req = Request::Read {
        task: TICKER,
        address: base,
        length: 4096,
    }
    .to_line();
    write_until_closed(&mut s, req.as_bytes(), 64 * MAX_QUEUE)?;
    live.log
        .wait_for(mark, |l| l.contains("answers unread"))
        .ok_or("no log line about the unread answers")?;
    // Everyone else carried on: the probe answers, the ticker ticks.
    wait_until("the ticker to tick", || {
        let now = c.tasks()?.get(TICKER).map(|r| r.syscalls).unwrap_or(0);
        Ok(now > before)
    })
}

/// Polls `cond` (each poll is a round trip to the kernel) until it holds.
fn wait_until(
    what: &str,
    mut cond: impl FnMut() -> Result<bool, String>,
) -> Outcome {
    let deadline = Instant::now() + CONDITION_TIMEOUT;
    while Instant::now() < deadline {
        if cond()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(format!("waited {CONDITION_TIMEOUT:?} for {what}"))
}

fn probe_connection_flood(live: &Live) -> Outcome {
    let mut conns = Vec::new();
    for _ in 0..200 {
        match UnixStream::connect(&live.probe) {
            Ok(s) => conns.push(s),
            Err(_) => break, // the listen backlog is full: also fine
        }
    }
    let mut answered = 0;
    for s in &mut conns {
        s.set_read_timeout(Some(ANSWER_TIMEOUT))
            .map_err(|e| e.to_string())?;
        if s.write_all(Request::Identity.to_line().as_bytes()).is_err() {
            continue;
        }
        let mut line = String::new();
        if BufReader::new(&*s)
            .read_line(&mut line)
            .is_ok_and(|n| n > 0)
        {
            wire::parse_answer::<Identity>(&line).map_err(|e| e.to_string())?;
            answered += 1;
        }
    }
    if answered > 16 || answered == 0 {
        return Err(format!(
            "{answered} of {} flood connections served",
            conns.len()
        ));
    }
    drop(conns);
    // Once the flood is gone, a debugger gets in again.
    wait_until("a connection after the flood", || {
        Ok(Client::connect(&live.probe)
            .and_then(|mut c| c.call::<Identity>(&Request::Identity))
            .is_ok())
    })
}

/// A client whose uid is not the kernel's. We run as root, so one thread
/// takes uid 65534 and keeps only `CAP_DAC_OVERRIDE`, to get through the
/// private directory (which a real other user could not even enter);
/// the kernel must still refuse it by its credentials.
fn probe_foreign_peer(live: &Live) -> Outcome {
    if !rustix::process::geteuid().is_root() {
        return Err("needs root to pose as another user".into());
    }
    let mark = live.log.len();
    let path = live.probe.clone();
    let outcome = std::thread::spawn(move || -> Outcome {
        use rustix::thread::{CapabilitySet, capabilities, set_capabilities};
        rustix::thread::set_keep_capabilities(true)
            .map_err(|e| e.to_string())?;
        let nobody = rustix::process::Uid::from_raw(65534);
        rustix::thread::set_thread_res_uid(nobody, nobody, nobody)
            .map_err(|e| e.to_string())?;
        let mut caps = capabilities(None).map_err(|e| e.to_string())?;
        caps.effective = CapabilitySet::DAC_OVERRIDE;
        set_capabilities(None, caps).map_err(|e| e.to_string())?;
        let mut c = Client::connect(&path)?;
        match c.raw(Request::Identity.to_line().as_bytes()) {
            // The kernel closes the connection unread; the client sees an
            // EOF or, if its request was already queued, a reset.
            Err(e)
                if e.contains("closed")
                    || e.contains("send")
                    || e.contains("reset") =>
            {
                Ok(())
            }
            other => Err(format!("a foreign uid got {other:?}")),
        }
    })
    .join()
    .map_err(|_| "the foreign thread panicked".to_string())?;
    outcome?;
    live.log
        .wait_for(mark, |l| l.contains("refused a connection from uid 65534"))
        .map(|_| ())
        .ok_or_else(|| "no log line about the foreign peer".into())
}

fn dump_never_overwrites(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    let dump = |c: &mut Client, name: Option<&str>| {
        c.call::<DumpWritten>(&Request::Dump {
            name: name.map(str::to_owned),
        })
    };
    let first = dump(&mut c, Some("held.dump"))?;
    let bytes = std::fs::read(&first.path).map_err(|e| e.to_string())?;
    let again = c.raw(
        Request::Dump {
            name: Some("held.dump".into()),
        }
        .to_line()
        .as_bytes(),
    )?;
    if !again.contains("never replaces") {
        return Err(format!("a second dump of the same name: {again}"));
    }
    if std::fs::read(&first.path).map_err(|e| e.to_string())? != bytes {
        return Err("the first dump changed".into());
    }
    let precious = live.dump_dir.join("precious.dump");
    std::fs::write(&precious, b"not a dump, but mine")
        .map_err(|e| e.to_string())?;
    c.refused(
        Request::Dump {
            name: Some("precious.dump".into()),
        }
        .to_line()
        .as_bytes(),
        "never replaces",
    )?;
    if std::fs::read(&precious).map_err(|e| e.to_string())?
        != b"not a dump, but mine"
    {
        return Err("precious.dump was overwritten".into());
    }
    let (a, b) = (dump(&mut c, None)?, dump(&mut c, None)?);
    if a.path == b.path || !Path::new(&a.path).is_file() {
        return Err(format!("automatic dumps {} and {}", a.path, b.path));
    }
    let mode = std::fs::metadata(&a.path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!("dump mode {mode:o} is open to others"));
    }
    Ok(())
}

fn dump_path_escape(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    let outside = live
        .dump_dir
        .parent()
        .ok_or("no parent")?
        .join("escaped.dump");
    let abs = outside.display().to_string();
    for name in [
        "../escaped.dump",
        abs.as_str(),
        "..",
        ".hidden",
        "a/b",
        "x\ny",
    ] {
        c.refused(
            Request::Dump {
                name: Some(name.into()),
            }
            .to_line()
            .as_bytes(),
            "not a plain file name",
        )?;
    }
    if outside.exists() {
        return Err(format!("{} was written", outside.display()));
    }
    Ok(())
}

fn dump_symlink_target(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    let victim = live
        .dump_dir
        .parent()
        .ok_or("no parent")?
        .join("victim.txt");
    std::fs::write(&victim, b"keep me").map_err(|e| e.to_string())?;
    let link = live.dump_dir.join("trap.dump");
    std::os::unix::fs::symlink(&victim, &link).map_err(|e| e.to_string())?;
    c.refused(
        Request::Dump {
            name: Some("trap.dump".into()),
        }
        .to_line()
        .as_bytes(),
        "never replaces",
    )?;
    if std::fs::read(&victim).map_err(|e| e.to_string())? != b"keep me" {
        return Err("the link's target was written".into());
    }
    Ok(())
}

fn dump_flood_is_capped(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    let mark = live.log.len();
    for n in 0..1000 {
        let line = c.raw(Request::Dump { name: None }.to_line().as_bytes())?;
        if line.contains("dump skipped") {
            live.log
                .wait_for(mark, |l| l.contains("dump skipped"))
                .ok_or("no log line about the skipped dump")?;
            return if n <= 64 {
                Ok(())
            } else {
                Err(format!("{n} dumps written"))
            };
        }
    }
    Err("1000 dumps and no cap".into())
}

fn kernel_still_serving(live: &Live) -> Outcome {
    let mut c = Client::connect(&live.probe)?;
    wait_until("the ticker to keep ticking", || {
        let t = c.tasks()?;
        let ticks = t.get(TICKER).map(|r| r.syscalls).unwrap_or(0);
        Ok(ticks > live.ticker_start)
    })?;
    // Every task runs (the runner restarts any attacker that faulted, so
    // wait for that rather than catch one mid-restart).
    wait_until("every task to be running", || {
        let t = c.tasks()?;
        Ok(t.iter()
            .all(|r| r.decode_state().is_ok_and(|s| !s.is_faulted())))
    })
}

/// Runs every hostile-environment case.
pub fn run_hostile(kernel: &Path, archive: &Path) -> Tally {
    let mut tally = Tally::default();
    let cases: &[Case<Hostile>] = &[
        ("test_probe_foreign_directory", probe_foreign_directory),
        ("test_probe_open_directory", probe_open_directory),
        ("test_probe_directory_is_a_file", probe_directory_is_a_file),
        ("test_probe_directory_is_a_link", probe_directory_is_a_link),
        (
            "test_probe_socket_path_is_a_file",
            probe_socket_path_is_a_file,
        ),
        (
            "test_probe_second_kernel_refused",
            probe_second_kernel_refused,
        ),
        ("test_closed_stdout", closed_stdout),
        ("test_dump_directory_swapped_for_a_link", dump_dir_swapped),
    ];
    for (name, case) in cases {
        let outcome = Hostile::new(kernel, archive).and_then(|h| case(&h));
        report(&mut tally, name, outcome);
    }
    tally
}

/// A scratch world for one hostile case.
struct Hostile {
    kernel: PathBuf,
    archive: PathBuf,
    dir: tempfile::TempDir,
}

/// A kernel we started; killed on drop, whatever happened.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Hostile {
    fn new(kernel: &Path, archive: &Path) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        set_mode(dir.path(), 0o700)?;
        Ok(Self {
            kernel: kernel.to_owned(),
            archive: archive.to_owned(),
            dir,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The kernel with TMPDIR here and no XDG_RUNTIME_DIR, so its default
    /// probe directory is `<here>/leasehold-<uid>`.
    fn command(&self) -> Command {
        let mut c = Command::new(&self.kernel);
        c.arg(&self.archive)
            .arg("--dump-dir")
            .arg(self.dir.path())
            .env_remove("XDG_RUNTIME_DIR")
            .env("TMPDIR", self.dir.path())
            .stdin(Stdio::null());
        c
    }

    fn default_dir(&self) -> PathBuf {
        self.path(&format!("leasehold-{}", rustix::process::getuid().as_raw()))
    }

    /// Runs the kernel, expecting it to refuse to start: exit status 2
    /// and one stderr line containing `what` and naming `path`.
    fn refuses(&self, mut cmd: Command, what: &str, path: &Path) -> Outcome {
        let out =
            wait_output(cmd.stdout(Stdio::null()).stderr(Stdio::piped()))?;
        let err = String::from_utf8_lossy(&out.1);
        let lines: Vec<&str> = err.lines().collect();
        let named = path.display().to_string();
        match (out.0, lines.as_slice()) {
            (Some(2), [line])
                if line.contains(what) && line.contains(&named) =>
            {
                Ok(())
            }
            _ => Err(format!("status {:?}, stderr {err:?}", out.0)),
        }
    }

    /// Starts a kernel with its probe at `probe`; waits for an answer.
    fn start(
        &self,
        mut cmd: Command,
        probe: &Path,
        stdout: Stdio,
    ) -> Result<Started, String> {
        let child = cmd
            .arg("--probe")
            .arg(probe)
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let started = Started(child);
        wait_until("the kernel's probe", || {
            Ok(Client::connect(probe)
                .and_then(|mut c| c.call::<Identity>(&Request::Identity))
                .is_ok())
        })?;
        Ok(started)
    }
}

/// Waits (bounded) for a child to exit; its status code and stderr.
fn wait_output(cmd: &mut Command) -> Result<(Option<i32>, Vec<u8>), String> {
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut v);
        }
        v
    });
    let deadline = Instant::now() + CONDITION_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let err = reader.join().unwrap_or_default();
            return Ok((status.code(), err));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the kernel neither started nor refused".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn set_mode(p: &Path, mode: u32) -> Outcome {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| e.to_string())
}

fn probe_foreign_directory(h: &Hostile) -> Outcome {
    // Another user made our directory first, open to all.
    let dir = h.default_dir();
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534))
        .map_err(|e| e.to_string())?;
    set_mode(&dir, 0o777)?;
    h.refuses(h.command(), "belongs to uid 65534", &dir)
}

fn probe_open_directory(h: &Hostile) -> Outcome {
    let dir = h.default_dir();
    std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
    set_mode(&dir, 0o755)?;
    h.refuses(h.command(), "must be 0700", &dir)?;
    // XDG_RUNTIME_DIR open to others is refused too.
    let xdg = h.path("xdg");
    std::fs::create_dir(&xdg).map_err(|e| e.to_string())?;
    set_mode(&xdg, 0o777)?;
    let mut cmd = h.command();
    cmd.env("XDG_RUNTIME_DIR", &xdg);
    h.refuses(cmd, "others may write in it", &xdg)
}

fn probe_directory_is_a_file(h: &Hostile) -> Outcome {
    let dir = h.default_dir();
    std::fs::write(&dir, b"a plain file").map_err(|e| e.to_string())?;
    h.refuses(h.command(), "not a directory", &dir)
}

fn probe_directory_is_a_link(h: &Hostile) -> Outcome {
    let dir = h.default_dir();
    let elsewhere = h.path("elsewhere");
    std::fs::create_dir(&elsewhere).map_err(|e| e.to_string())?;
    set_mode(&elsewhere, 0o700)?;
    std::os::unix::fs::symlink(&elsewhere, &dir).map_err(|e| e.to_string())?;
    h.refuses(h.command(), "symbolic link", &dir)
}

fn probe_socket_path_is_a_file(h: &Hostile) -> Outcome {
    let sock = h.path("probe.sock");
    std::fs::write(&sock, b"mine").map_err(|e| e.to_string())?;
    let mut cmd = h.command();
    cmd.arg("--probe").arg(&sock);
    h.refuses(cmd, "not a socket", &sock)?;
    match std::fs::read(&sock) {
        Ok(b) if b == b"mine" => Ok(()),
        other => Err(format!("the file became {other:?}")),
    }
}

fn probe_second_kernel_refused(h: &Hostile) -> Outcome {
    let sock = h.path("probe.sock");
    let first = h.start(h.command(), &sock, Stdio::null())?;
    let mut cmd = h.command();
    cmd.arg("--probe").arg(&sock);
    h.refuses(cmd, "already listening", &sock)?;
    // The first still answers.
    Client::connect(&sock)?.call::<Identity>(&Request::Identity)?;
    drop(first);
    Ok(())
}

fn closed_stdout(h: &Hostile) -> Outcome {
    let sock = h.path("probe.sock");
    // A pipe whose reader is gone before the kernel writes a line, as
    // with `cargo xtask run app.toml | head -0`.
    let (reader, writer) = rustix::pipe::pipe().map_err(|e| e.to_string())?;
    drop(reader);
    let mut kernel = h.start(h.command(), &sock, Stdio::from(writer))?;
    let mut c = Client::connect(&sock)?;
    let before = c.tasks()?.get(TICKER).map(|r| r.syscalls).unwrap_or(0);
    wait_until("tasks to run with stdout closed", || {
        let now = c.tasks()?.get(TICKER).map(|r| r.syscalls).unwrap_or(0);
        Ok(now > before)
    })?;
    // It stops cleanly when told to, rather than dying of EPIPE.
    let pid = rustix::process::Pid::from_child(&kernel.0);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .map_err(|e| e.to_string())?;
    let status = kernel.0.wait().map_err(|e| e.to_string())?;
    match status.code() {
        Some(130) => Ok(()),
        _ => Err(format!("stopped with {status}")),
    }
}

fn dump_dir_swapped(h: &Hostile) -> Outcome {
    let sock = h.path("probe.sock");
    let dumps = h.path("dumps");
    std::fs::create_dir(&dumps).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&h.kernel);
    cmd.arg(&h.archive)
        .arg("--dump-dir")
        .arg(&dumps)
        .stdin(Stdio::null());
    let _kernel = h.start(cmd, &sock, Stdio::null())?;
    // Someone moves the dump directory and leaves a link to theirs.
    let moved = h.path("dumps.moved");
    let theirs = h.path("theirs");
    std::fs::rename(&dumps, &moved).map_err(|e| e.to_string())?;
    std::fs::create_dir(&theirs).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&theirs, &dumps).map_err(|e| e.to_string())?;
    Client::connect(&sock)?.call::<DumpWritten>(&Request::Dump {
        name: Some("x.dump".into()),
    })?;
    if !moved.join("x.dump").is_file() || theirs.join("x.dump").exists() {
        return Err("the dump followed the link".into());
    }
    Ok(())
}
