//! humility's debugger commands against a real system: the debugger test
//! image (`test/debugger/app.toml`), whose tasks are left in known
//! states by `test/debug-tasks`: `deep` waits at the bottom of a
//! recursion, `nullread` faulted reading address 0, `panicker` panicked,
//! `waiter` waits in `sys_recv_open` and owns the statics `KNOWN` (flash)
//! and `COUNTER` (RAM); `ticker` and `metronome` count `TICKS` every
//! 10 ms (in `tick` and `beat`), for `humility gdb`'s breakpoints.
//!
//! Each test boots its own kernel with a private probe socket and dump
//! directory, waits until every task has reached its state (never a
//! sleep standing in for that), and runs the real `humility` binary.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `test/debug-tasks`: the recursion's depth and each frame's buffer.
const DEPTH: usize = 24;
const FRAME_BYTES: u64 = 512;

/// The debugger's image, built once.
fn debugger_image() -> &'static Image {
    static IMAGE: OnceLock<Image> = OnceLock::new();
    IMAGE.get_or_init(|| hosted_image("test/debugger/app.toml"))
}

/// Boots the debugger's image and waits until every task is where the
/// tests expect it.
fn boot() -> System {
    let sys = System::start(debugger_image());
    sys.wait_for(&["tasks"], "every task in its state", |t| {
        row(t, "nullread").contains("FAULT: mem fault")
            && row(t, "panicker").contains("FAULT: panicked")
            && row(t, "deep").contains("notif: bit0")
            && row(t, "waiter").ends_with(" recv")
    });
    sys
}

/// What only these tests ask of a booted system.
trait DebuggerSystem {
    fn raw(&self, line: &str) -> String;
    fn dump(&self, name: &str) -> PathBuf;
}

impl DebuggerSystem for System {
    /// Sends one raw probe request line; returns the answer line.
    fn raw(&self, line: &str) -> String {
        let mut s = UnixStream::connect(&self.socket).expect("probe");
        s.set_read_timeout(Some(WAIT_LIMIT)).unwrap();
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).unwrap();
        answer
    }

    /// Humility against a dump this system wrote.
    fn dump(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let out = self.ok(&["dump", name]);
        assert!(out.contains("dump written to"), "{out}");
        assert!(path.is_file(), "{}", path.display());
        path
    }
}

/// Task `name`'s row of `tasks`.
fn row(tasks: &str, name: &str) -> String {
    tasks
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_default()
        .to_owned()
}

/// The frames of `tasks -s <task>`: (frame number, pc, function), one
/// per function (inlined functions share their frame's number).
fn frames(text: &str) -> Vec<(usize, u64, String)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?.strip_prefix('#')?.parse().ok()?;
            let pc =
                u64::from_str_radix(w.next()?.strip_prefix("0x")?, 16).ok()?;
            Some((n, pc, w.next()?.to_owned()))
        })
        .collect()
}

/// The functions of frame `n`, innermost first.
fn functions_of(frames: &[(usize, u64, String)], n: usize) -> Vec<&str> {
    frames
        .iter()
        .filter(|f| f.0 == n)
        .map(|f| f.2.as_str())
        .collect()
}

/// A register's value in `registers` output (`-` gives `None`).
fn register(text: &str, name: &str) -> Option<u64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let i = words.windows(2).position(|w| w[0] == name && w[1] == "=")?;
    u64::from_str_radix(words.get(i + 2)?.strip_prefix("0x")?, 16).ok()
}

/// The traces `tasks -s` gives for each task, checked against what each
/// task of the image is doing; the same from a dump.
fn check_traces(tasks_s: impl Fn(&str) -> String) {
    let waiter = frames(&tasks_s("waiter"));
    let f0 = functions_of(&waiter, 0);
    assert!(
        f0.contains(&"userlib::syscalls::sys_recv_open")
            && f0.last() == Some(&"debug_tasks::wait_for_messages"),
        "waiter's first frame: {waiter:?}"
    );
    assert_eq!(functions_of(&waiter, 1), ["main"], "{waiter:?}");

    let nullread = frames(&tasks_s("nullread"));
    assert_eq!(
        functions_of(&nullread, 0).last(),
        Some(&"debug_tasks::read_null"),
        "the faulting instruction first: {nullread:?}"
    );
    assert_eq!(functions_of(&nullread, 1), ["main"], "{nullread:?}");

    let panicker = frames(&tasks_s("panicker"));
    let names: Vec<&str> = panicker.iter().map(|f| f.2.as_str()).collect();
    let at = |name: &str| names.iter().position(|n| *n == name);
    let (Some(handler), Some(fmt), Some(explode), Some(main)) = (
        at("__rustc::rust_begin_unwind"),
        at("core::panicking::panic_fmt"),
        at("debug_tasks::explode"),
        at("main"),
    ) else {
        panic!("panicker's trace: {panicker:?}");
    };
    assert!(
        handler < fmt && fmt < explode && explode < main,
        "{names:?}"
    );

    let deep = frames(&tasks_s("deep"));
    let descents = deep
        .iter()
        .filter(|f| f.2 == "debug_tasks::deep::descend")
        .count();
    assert_eq!(descents, DEPTH + 1, "{deep:?}");
    assert!(deep.iter().any(|f| f.2 == "debug_tasks::deep::bottom"));
    assert_eq!(deep.last().map(|f| f.2.as_str()), Some("_start"));
}

#[test]
fn test_stack_traces_name_the_right_functions_live_and_on_dumps() {
    let sys = boot();
    check_traces(|task| sys.ok(&["tasks", "-s", task]));
    // The inlined syscall stub is marked as such.
    let waiter = sys.ok(&["tasks", "-s", "waiter"]);
    assert!(
        waiter.contains("userlib::syscalls::sys_recv_open [inlined]"),
        "{waiter}"
    );
    let dump = sys.dump("traces.dump");
    check_traces(|task| {
        on_dump(debugger_image(), &dump, &["tasks", "-s", task])
    });
    // Every task in one listing, too.
    let all = sys.ok(&["tasks", "-s"]);
    for name in ["jefe", "deep", "nullread", "panicker", "waiter", "idle"] {
        assert!(!row(&all, name).is_empty(), "{all}");
    }
    assert_eq!(all.matches(" _start\n").count(), 8, "{all}");
}

#[test]
fn test_registers_show_the_fault() {
    let sys = boot();
    let regs = sys.ok(&["registers", "nullread"]);
    assert!(regs.contains("registers at the fault"), "{regs}");
    assert!(regs.contains("fault address: 0x0\n"), "{regs}");
    assert!(regs.contains("signal: 11\n"), "{regs}");
    // rip is the faulting instruction: the first frame of the trace.
    let trace = frames(&sys.ok(&["tasks", "-s", "nullread"]));
    assert_eq!(register(&regs, "rip"), Some(trace[0].1), "{regs}");
    // The same registers from a dump.
    let dump = sys.dump("regs.dump");
    assert_eq!(
        on_dump(debugger_image(), &dump, &["registers", "nullread"]),
        regs
    );
    // A waiting task: what the kernel can see of it, the rest marked.
    let waiter = sys.ok(&["registers", "waiter"]);
    assert!(waiter.contains("waiting in a kernel call"), "{waiter}");
    assert!(register(&waiter, "rsp").is_some(), "{waiter}");
    assert!(register(&waiter, "rbp").is_some(), "{waiter}");
    assert_eq!(register(&waiter, "r15"), None, "{waiter}");
    // `-s` adds the trace; `tasks -v` shows registers too.
    let with_stack = sys.ok(&["registers", "-s", "waiter"]);
    assert!(with_stack.contains("wait_for_messages"), "{with_stack}");
    let verbose = sys.ok(&["tasks", "-v", "nullread"]);
    assert!(verbose.contains("fault address: 0x0"), "{verbose}");
}

#[test]
fn test_stackmargin_matches_the_deep_frames() {
    let sys = boot();
    let margins = sys.ok(&["stackmargin"]);
    let deep = row(&margins, "deep");
    let cols: Vec<u64> = deep
        .split_whitespace()
        .skip(2)
        .take(3)
        .map(|w| w.parse().unwrap())
        .collect();
    let [size, deepest, margin] = cols[..] else {
        panic!("{margins}");
    };
    assert_eq!(size, 16384, "{margins}");
    assert_eq!(deepest + margin, size, "{margins}");
    // What the frames add up to: from the stack's top to the stack
    // pointer where the task waits, at the bottom of the recursion.
    let map = sys.ok(&["tasks", "-v", "deep"]);
    let ram = map
        .split_whitespace()
        .skip_while(|w| *w != "ram")
        .nth(1)
        .and_then(|w| w.trim_end_matches(',').split('+').next())
        .and_then(|w| u64::from_str_radix(w.strip_prefix("0x")?, 16).ok())
        .unwrap_or_else(|| panic!("{map}"));
    let sp = register(&sys.ok(&["registers", "deep"]), "rsp").unwrap();
    let frames_use = ram + size - sp;
    assert!(frames_use >= DEPTH as u64 * FRAME_BYTES, "{frames_use}");
    let diff = deepest.abs_diff(frames_use);
    assert!(
        diff * 20 <= frames_use,
        "deepest {deepest} vs frames {frames_use}:\n{margins}"
    );
    // The same from a dump; and other tasks are far from overflow.
    // Every task but jefe is settled (blocked or held faulted), so its row
    // is the same in the dump. jefe keeps working (timer ticks, the two
    // faults it holds), and a painted stack only ever gets used deeper, so
    // its deepest use in the later dump is at least what was seen live.
    let dump = sys.dump("margins.dump");
    let dumped = on_dump(debugger_image(), &dump, &["stackmargin"]);
    for task in ["deep", "nullread", "panicker", "waiter", "idle"] {
        assert_eq!(row(&dumped, task), row(&margins, task), "{dumped}");
    }
    let jefe_deepest = |text: &str| -> u64 {
        row(text, "jefe")
            .split_whitespace()
            .nth(3)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("{text}"))
    };
    assert!(jefe_deepest(&dumped) >= jefe_deepest(&margins), "{dumped}");
    assert!(!margins.contains("within 10%"), "{margins}");
}

#[test]
fn test_readmem_and_writeword() {
    let sys = boot();
    let known = sys.ok(&["readmem", "KNOWN"]);
    assert!(known.contains("|leasehold-debug!|"), "{known}");
    assert!(known.contains(" 6c 65 61 73 "), "{known}");
    let counter = sys.ok(&["readmem", "-w", "COUNTER"]);
    assert!(counter.contains(": 12345678 "), "{counter}");
    // By address, as longs.
    let address = counter.split(':').next().unwrap().trim().to_owned();
    let as_long = sys.ok(&["readmem", "-l", &address, "8"]);
    assert!(as_long.starts_with(&address), "{as_long}");

    let out = sys.ok(&["writeword", "COUNTER", "0xcafef00d"]);
    assert!(out.contains("wrote 0xcafef00d"), "{out}");
    let value = sys.ok(&["readvar", "COUNTER"]);
    assert!(value.contains(&format!("= {}", 0xcafe_f00du32)), "{value}");
    let out = sys.ok(&["writeword", &address, "7"]);
    assert!(out.contains("wrote 0x00000007"), "{out}");
    assert!(sys.ok(&["readvar", "COUNTER"]).contains("= 7\n"));

    // A dump reads, and refuses writes.
    let dump = sys.dump("mem.dump");
    assert_eq!(
        on_dump(debugger_image(), &dump, &["readmem", "KNOWN"]),
        known
    );
    let mut args = vec![
        "-a".to_owned(),
        debugger_image().archive.display().to_string(),
        "-d".to_owned(),
        dump.display().to_string(),
    ];
    args.extend(["writeword", "COUNTER", "1"].map(String::from));
    failed_with(&humility(&args), "a dump cannot be changed");
}

#[test]
fn test_bad_inputs_are_clear_errors_and_the_kernel_is_unharmed() {
    let sys = boot();
    failed_with(&sys.humility(&["registers", "nosuch"]), "unknown task");
    failed_with(&sys.humility(&["tasks", "-s", "nosuch"]), "unknown task");
    failed_with(
        &sys.humility(&["readmem", "0x10"]),
        "outside every task's memory",
    );
    failed_with(&sys.humility(&["readmem", "0xffffffffffff"]), "outside");
    failed_with(&sys.humility(&["readmem", "KNOWN", "0x100000"]), "runs out");
    failed_with(&sys.humility(&["readmem", "NO_SUCH_SYMBOL"]), "no symbol");
    failed_with(&sys.humility(&["readmem", "KNOWN", "0"]), "out of range");
    failed_with(&sys.humility(&["readmem", "KNOWN", "zz"]), "not a length");
    failed_with(
        &sys.humility(&["writeword", "KNOWN", "1"]),
        "cannot be written",
    );
    failed_with(
        &sys.humility(&["writeword", "COUNTER", "0x100000000"]),
        "not a 32-bit number",
    );
    // The kernel itself refuses bad register and memory requests.
    for (request, want) in [
        (r#"{"op":"registers","task":99}"#, "no task 99"),
        (r#"{"op":"registers","task":-1}"#, "bad request"),
        (r#"{"op":"registers"}"#, "bad request"),
        (
            r#"{"op":"read","task":4,"address":16,"length":4}"#,
            "outside",
        ),
        (
            r#"{"op":"write","task":4,"address":268435456,"data":"00"}"#,
            "not in task",
        ),
        (r#"{"op":"halt","task":99}"#, "no task 99"),
        (r#"{"op":"halt","task":2}"#, "not running"),
        (r#"{"op":"step","task":4}"#, "not held"),
        (r#"{"op":"release","task":99}"#, "no task 99"),
        (
            r#"{"op":"breakpoint","address":16,"set":true}"#,
            "not in any task's flash",
        ),
        (r#"{"op":"breakpoint","address":16}"#, "bad request"),
    ] {
        let answer = sys.raw(request);
        assert!(
            answer.contains(r#""ok":false"#) && answer.contains(want),
            "{request}: {answer}"
        );
    }
    // Still serving, and nothing changed. jefe may be momentarily ready
    // (handling a timer tick or a held fault), so wait for its receive
    // rather than expecting it at one instant.
    sys.wait_for(&["tasks"], "waiter and jefe receiving", |tasks| {
        row(tasks, "waiter").ends_with(" recv")
            && row(tasks, "jefe").contains("recv")
    });
    assert!(
        !sys.log_text().contains("panicked at"),
        "{}",
        sys.log_text()
    );
}

/// Task `name`'s linked ELF, out of the archive, in `dir`.
fn task_elf(dir: &Path, name: &str) -> PathBuf {
    let file = std::fs::File::open(&debugger_image().archive).expect("archive");
    let mut zip = zip::ZipArchive::new(file).expect("archive zip");
    let mut entry = zip
        .by_name(&format!("elf/task/{name}"))
        .expect("the task's ELF in the archive");
    let path = dir.join(format!("{name}.elf"));
    let mut out = std::fs::File::create(&path).expect("ELF copy");
    std::io::copy(&mut entry, &mut out).expect("ELF copy");
    path
}

/// The last path component of a function name, without generics:
/// `core::ptr::read_volatile<u32>` is `read_volatile`.
fn short(name: &str) -> String {
    let plain = name.split('<').next().unwrap_or(name);
    plain.rsplit("::").next().unwrap_or(plain).to_owned()
}

/// GDB's caller frames for thread `lwp` of `thread apply all bt`: the
/// frames it prints with an address (a return address), as (pc, short
/// function name).
fn gdb_frames(bt: &str, lwp: usize) -> Vec<(u64, String)> {
    let head = format!("(LWP {lwp}):");
    bt_frames(
        bt.lines()
            .skip_while(|l| !(l.starts_with("Thread ") && l.ends_with(&head)))
            .skip(1),
    )
}

/// The caller frames of one `bt`, as [`gdb_frames`].
fn bt_frames<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(u64, String)> {
    lines
        .skip_while(|l| !l.starts_with('#'))
        .take_while(|l| l.starts_with('#'))
        .filter(|l| !l.starts_with("#0 "))
        .filter_map(|l| {
            let mut w = l.split_whitespace().skip(1);
            let pc =
                u64::from_str_radix(w.next()?.strip_prefix("0x")?, 16).ok()?;
            (w.next()? == "in").then_some(())?;
            Some((pc, short(w.next()?)))
        })
        .collect()
}

#[test]
fn test_gdb_opens_core_dumps_and_sees_the_frames_tasks_s_sees() {
    let sys = boot();
    let dump = sys.dump("gdb.dump");
    for (name, index) in
        [("nullread", 2), ("panicker", 3), ("waiter", 4), ("deep", 1)]
    {
        let elf = task_elf(sys.dir.path(), name);
        let out = Command::new("gdb")
            .args(["-nx", "-batch", "-ex", "set debuginfod enabled off"])
            .args(["-ex", "thread apply all bt"])
            .arg(&elf)
            .arg(&dump)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run gdb (install it: apt-get install gdb)");
        let bt = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "gdb: {bt}");
        // One thread per task.
        for lwp in 1..=6 {
            assert!(bt.contains(&format!("(LWP {lwp}):")), "{bt}");
        }
        let gdb = gdb_frames(&bt, index + 1);
        // humility's frames from #1 up to main (where GDB stops).
        let trace =
            frames(&on_dump(debugger_image(), &dump, &["tasks", "-s", name]));
        let mut ours = Vec::new();
        for n in 1.. {
            let f = functions_of(&trace, n);
            let Some(outer) = f.last() else { break };
            let pc = trace.iter().find(|t| t.0 == n).unwrap().1;
            ours.push((pc, short(outer)));
            if short(outer) == "main" {
                break;
            }
        }
        assert!(!gdb.is_empty(), "{name}: no frames from gdb:\n{bt}");
        assert_eq!(gdb, ours, "{name}: gdb's frames, then ours:\n{bt}");
    }
}

/// humility's frames of `tasks -s` output from #1 up to `main` (where
/// GDB stops), as (pc, short name of the outermost function).
fn caller_frames(tasks_s: &str) -> Vec<(u64, String)> {
    let trace = frames(tasks_s);
    let mut ours = Vec::new();
    for n in 1.. {
        let f = functions_of(&trace, n);
        let Some(outer) = f.last() else { break };
        let pc = trace.iter().find(|t| t.0 == n).unwrap().1;
        ours.push((pc, short(outer)));
        if short(outer) == "main" {
            break;
        }
    }
    ours
}

/// `humility gdb [TASK]` against `sys`, once it says where it listens:
/// the child, its port and the GDB script it wrote.
struct GdbServer {
    child: Child,
    port: u16,
    script: PathBuf,
}

impl GdbServer {
    fn start(sys: &System, task: Option<&str>) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_humility"))
            .arg("-a")
            .arg(&debugger_image().archive)
            .arg("-p")
            .arg(&sys.socket)
            .arg("gdb")
            .args(task)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run humility gdb");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        // humility: GDB server for <image> on 127.0.0.1:<port>; connect
        // with: gdb -x <script>
        let port = first
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {first:?}"));
        let script = first
            .split("gdb -x ")
            .nth(1)
            .map(|p| PathBuf::from(p.trim()))
            .unwrap_or_else(|| panic!("no script in {first:?}"));
        assert!(script.is_file(), "{first}");
        Self {
            child,
            port,
            script,
        }
    }

    /// Waits for humility to end; its exit status and stdout's rest.
    fn wait(mut self) -> (std::process::ExitStatus, String) {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut rest = String::new();
                let _ =
                    self.child.stdout.take().unwrap().read_to_string(&mut rest);
                let mut err = String::new();
                let _ =
                    self.child.stderr.take().unwrap().read_to_string(&mut err);
                return (status, rest + &err);
            }
            assert!(t0.elapsed() < WAIT_LIMIT, "humility gdb did not end");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for GdbServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real GDB driven through its standard input, one command batch at
/// a time.
struct Gdb {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    marks: usize,
}

impl Gdb {
    fn start(script: &Path) -> Self {
        // One pipe for both streams: GDB writes an error (stderr) before
        // it reads the next command, so on one pipe the error always
        // comes before the next command's mark. Two pipes read by two
        // threads could deliver it after the mark, into the wrong answer.
        let (out, write) = std::io::pipe().expect("pipe");
        let child = Command::new("gdb")
            .args(["-nx", "-q", "-x"])
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(write.try_clone().expect("pipe"))
            .stderr(write)
            .spawn()
            .expect("cannot run gdb (install it: apt-get install gdb)");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            marks: 0,
        }
    }

    /// Runs `commands`; returns what GDB printed for them.
    fn run(&mut self, commands: &[&str]) -> String {
        self.marks += 1;
        let mark = format!("@@done-{}@@", self.marks);
        let stdin = self.child.stdin.as_mut().unwrap();
        for c in commands {
            writeln!(stdin, "{c}").unwrap();
        }
        writeln!(stdin, "echo {mark}\\n").unwrap();
        stdin.flush().unwrap();
        let mut out = String::new();
        let t0 = Instant::now();
        loop {
            let left = WAIT_LIMIT.saturating_sub(t0.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(&mark) => return out,
                Ok(line) => {
                    // GDB prompts on standard output without a newline.
                    let mut line = line.as_str();
                    while let Some(rest) = line.strip_prefix("(gdb) ") {
                        line = rest;
                    }
                    out.push_str(line);
                    out.push('\n');
                }
                Err(_) => {
                    panic!("gdb: no {mark} within {WAIT_LIMIT:?}:\n{out}")
                }
            }
        }
    }
}

impl Drop for Gdb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `TICKS` of `task`, read through humility (another probe connection
/// than the GDB server's).
fn ticks(sys: &System, task: &str) -> (String, u32) {
    let out = sys.ok(&["readmem", "-w", "-t", task, "TICKS", "4"]);
    let (address, rest) =
        out.split_once(':').unwrap_or_else(|| panic!("{out}"));
    let word = rest.split_whitespace().next().unwrap_or_default();
    let value =
        u32::from_str_radix(word, 16).unwrap_or_else(|_| panic!("{out}"));
    (address.trim().to_owned(), value)
}

/// Waits until `task`'s `TICKS` is past `than`.
fn ticks_pass(sys: &System, task: &str, than: u32) -> u32 {
    let t0 = Instant::now();
    loop {
        let (_, now) = ticks(sys, task);
        if now > than {
            return now;
        }
        assert!(
            t0.elapsed() < WAIT_LIMIT,
            "{task} stopped counting at {now}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn test_live_gdb_threads_frames_memory_and_a_breakpoint_that_holds_one_task() {
    let sys = boot();
    let server = GdbServer::start(&sys, Some("ticker"));
    let mut gdb = Gdb::start(&server.script);
    gdb.run(&[]);

    // Every task is a thread, named.
    let threads = gdb.run(&["info threads"]);
    for (i, name) in [
        "jefe",
        "deep",
        "nullread",
        "panicker",
        "waiter",
        "idle",
        "ticker",
        "metronome",
    ]
    .iter()
    .enumerate()
    {
        // `Thread 1.N` when GDB sees a process id, `Thread N` otherwise.
        let want = format!(".{} ({name})", i + 1);
        let plain = format!("Thread {} ({name})", i + 1);
        assert!(
            threads.contains(&want) || threads.contains(&plain),
            "{want}:\n{threads}"
        );
    }

    // A waiting task's frames are those of `tasks -s`.
    for (name, tid) in [("waiter", 5), ("deep", 2)] {
        gdb.run(&[&format!("thread {tid}")]);
        let bt = gdb.run(&["bt"]);
        let ours = caller_frames(&sys.ok(&["tasks", "-s", name]));
        // GDB stops at `main` only in its main file (ticker's); in the
        // others it goes on to `_start`, as `tasks -s` does. Compare up
        // to `main`.
        let mut theirs = bt_frames(bt.lines());
        if let Some(at) = theirs.iter().position(|f| f.1 == "main") {
            theirs.truncate(at + 1);
        }
        assert!(!theirs.is_empty(), "{name}: no frames:\n{bt}");
        assert_eq!(theirs, ours, "{name}: gdb's frames, then ours:\n{bt}");
    }

    // Memory, through the task's regions: KNOWN as words.
    // (Rust statics are in their crate's namespace for GDB.)
    let x = gdb.run(&["x/4wx &debug_tasks::KNOWN"]);
    for word in ["0x7361656c", "0x6c6f6865", "0x65642d64", "0x21677562"] {
        assert!(x.contains(word), "{word}:\n{x}");
    }
    let bad = gdb.run(&["x/4wx 0x10"]);
    assert!(
        bad.contains("Cannot access memory at address 0x10"),
        "{bad}"
    );

    // A breakpoint in ticker's loop holds ticker, and only ticker.
    let (ticker_at, _) = ticks(&sys, "ticker");
    let hit = gdb.run(&["break debug_tasks::tick", "continue"]);
    assert!(
        hit.contains("Thread 7 \"ticker\" hit Breakpoint 1")
            || (hit.contains("Breakpoint 1") && hit.contains("tick")),
        "{hit}"
    );
    assert!(hit.contains("debug_tasks::tick"), "{hit}");
    let held = gdb.run(&[&format!("x/wx {ticker_at}")]);
    let (_, t0) = ticks(&sys, "ticker");
    assert!(held.contains(&format!("{t0:#010x}")), "{t0}:\n{held}");
    let (_, m0) = ticks(&sys, "metronome");
    ticks_pass(&sys, "metronome", m0 + 3);
    assert_eq!(ticks(&sys, "ticker").1, t0, "ticker ran while held");
    gdb.run(&["thread 7"]);
    let bt = gdb.run(&["bt"]);
    assert!(bt.contains("#0  debug_tasks::tick"), "{bt}");

    // Continue: one more period, and the breakpoint again.
    let again = gdb.run(&["continue"]);
    assert!(again.contains("Breakpoint 1"), "{again}");
    assert_eq!(ticks(&sys, "ticker").1, t0 + 1, "{again}");

    // Detach: nothing held, no breakpoint left.
    gdb.run(&["detach"]);
    ticks_pass(&sys, "ticker", t0 + 3);
    let (status, rest) = server.wait();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("session ended"), "{rest}");
    let log = sys.log_text();
    assert!(!log.contains("panicked at"), "{log}");
    let tasks = sys.ok(&["tasks"]);
    assert!(row(&tasks, "waiter").ends_with(" recv"), "{tasks}");
}

/// `$body#xx`.
fn packet(body: &[u8]) -> Vec<u8> {
    let sum = body.iter().fold(0u8, |s, b| s.wrapping_add(*b));
    let mut p = vec![b'$'];
    p.extend_from_slice(body);
    p.extend_from_slice(format!("#{sum:02x}").as_bytes());
    p
}

/// Reads what the server sends until `until` holds for it.
fn read_until(
    s: &mut std::net::TcpStream,
    until: impl Fn(&str) -> bool,
) -> String {
    let mut got = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 4096];
    while !until(&String::from_utf8_lossy(&got)) {
        assert!(
            t0.elapsed() < WAIT_LIMIT,
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        let n = s.read(&mut buf).expect("read from humility gdb");
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A complete reply packet: `$...#xx`.
fn has_reply(text: &str) -> bool {
    text.find('$')
        .and_then(|at| text[at..].find('#').map(|h| at + h + 3 <= text.len()))
        .unwrap_or(false)
}

#[test]
fn test_gdb_server_refuses_bad_packets_and_a_dead_debugger_holds_nothing() {
    let sys = boot();
    let dir = tempfile::tempdir().unwrap();
    // Where `tick` is in ticker, as GDB reads it from the ELF.
    let elf = task_elf(dir.path(), "ticker");
    let out = Command::new("gdb")
        .args(["-nx", "-batch", "-ex", "info address debug_tasks::tick"])
        .arg(&elf)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run gdb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let tick = text
        .split("at address 0x")
        .nth(1)
        .and_then(|r| {
            r.trim_end().trim_end_matches('.').split_whitespace().next()
        })
        .map(|h| h.trim_end_matches('.').to_owned())
        .unwrap_or_else(|| panic!("{text}"));

    let server = GdbServer::start(&sys, None);
    let mut s =
        std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_read_timeout(Some(WAIT_LIMIT)).unwrap();
    // A damaged checksum: `-`, so that GDB sends it again.
    s.write_all(b"$g#00").unwrap();
    assert_eq!(read_until(&mut s, |t| !t.is_empty()), "-");
    // Stray bytes are ignored; an address outside every task is an error.
    s.write_all(b"garbage").unwrap();
    s.write_all(&packet(b"m10,4")).unwrap();
    let r = read_until(&mut s, has_reply);
    assert!(r.starts_with("+$E"), "{r}");
    // A command gdbstub cannot parse: an error, and the session goes on.
    s.write_all(&packet(b"mzz,4")).unwrap();
    let r = read_until(&mut s, has_reply);
    assert!(r.starts_with("+$E"), "{r}");
    // A packet too long for the server: refused as a whole.
    let mut long = b"M".to_vec();
    long.extend(std::iter::repeat_n(b'0', 10_000));
    s.write_all(&packet(&long)).unwrap();
    let r = read_until(&mut s, has_reply);
    assert!(r.starts_with("+$E"), "{r}");
    // A breakpoint outside every task's flash is refused.
    s.write_all(&packet(b"Z0,10,1")).unwrap();
    let r = read_until(&mut s, has_reply);
    assert!(r.starts_with("+$E"), "{r}");
    // Still a working server: the threads, a breakpoint in `tick`, and
    // ticker stops there.
    s.write_all(&packet(b"qfThreadInfo")).unwrap();
    let r = read_until(&mut s, has_reply);
    assert!(r.starts_with("+$m"), "{r}");
    s.write_all(&packet(format!("Z0,{tick},1").as_bytes()))
        .unwrap();
    let r = read_until(&mut s, has_reply);
    assert!(r.starts_with("+$OK"), "{r}");
    s.write_all(&packet(b"vCont;c")).unwrap();
    let r = read_until(&mut s, |t| t.contains("swbreak") && has_reply(t));
    assert!(r.contains("T05thread:07"), "{r}");
    let (_, t0) = ticks(&sys, "ticker");
    let (_, m0) = ticks(&sys, "metronome");
    ticks_pass(&sys, "metronome", m0 + 2);
    assert_eq!(ticks(&sys, "ticker").1, t0, "ticker ran while held");

    // humility dies holding ticker at a breakpoint: the kernel lets it go
    // and takes the breakpoint away.
    drop(server);
    ticks_pass(&sys, "ticker", t0 + 3);
    let log = sys.log_text();
    assert!(!log.contains("panicked at"), "{log}");
    assert!(!log.contains("ticker faulted"), "{log}");
}

#[test]
fn test_truncated_and_foreign_dumps_are_clear_errors() {
    let sys = boot();
    let dump = sys.dump("whole.dump");
    let bytes = std::fs::read(&dump).unwrap();
    let archive = debugger_image().archive.display().to_string();
    for (what, data) in [
        ("truncated", bytes[..bytes.len() / 3].to_vec()),
        ("header only", bytes[..64].to_vec()),
        ("empty", Vec::new()),
        ("not a dump", b"hello, world".to_vec()),
    ] {
        let path = sys
            .dir
            .path()
            .join(format!("{}.dump", what.replace(' ', "-")));
        std::fs::write(&path, &data).unwrap();
        let d = path.display().to_string();
        let out = humility(&["-a", &archive, "-d", &d, "tasks", "-s"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(
            stderr.starts_with("humility: error: dump "),
            "{what}: {stderr}"
        );
    }
}

/// Parses `-o csv` output into its header and records.
fn csv_records(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn json(text: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

#[test]
fn test_tasks_counters_and_ringbuf_as_json_and_csv() {
    let sys = boot();
    // jefe's counted ring buffer has seen both faults it holds (it
    // records them after the kernel shows them), and records nothing
    // more in this image.
    sys.wait_for(&["ringbuf", "jefe"], "jefe's trace", |t| {
        t.matches("Held(").count() >= 2
    });

    // tasks: one record per task, the same states as the table.
    let table = sys.ok(&["tasks"]);
    let tasks = json(&sys.ok(&["tasks", "-o", "json"]));
    assert_eq!(tasks.len(), 8, "{tasks:?}");
    for t in &tasks {
        let name = t["name"].as_str().unwrap();
        assert!(!row(&table, name).is_empty(), "{name}:\n{table}");
        // Only tasks that stay in one state (jefe and the counters wake
        // on timers between the two reads).
        if ["deep", "nullread", "panicker", "waiter"].contains(&name) {
            let state = t["state"].as_str().unwrap();
            assert!(row(&table, name).contains(state), "{name}: {state}");
        }
    }
    let nullread = &tasks[2];
    assert_eq!(nullread["faulted"], true);
    assert_eq!(tasks[4]["faulted"], false);
    assert_eq!(tasks[1]["stack_size"], 16384);
    let (header, rows) = csv_records(&sys.ok(&["tasks", "-o", "csv"]));
    assert_eq!(&header[..3], ["index", "name", "generation"]);
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[2][1], "nullread");
    let one = json(&sys.ok(&["tasks", "-o", "json", "waiter"]));
    assert_eq!(one.len(), 1);
    failed_with(&sys.humility(&["tasks", "-o", "json", "-s"]), "-v and -s");
    // An unknown format is clap's usage error, naming the choices.
    let xml = sys.humility(&["tasks", "-o", "xml"]);
    assert!(!xml.status.success());
    let err = String::from_utf8_lossy(&xml.stderr);
    assert!(err.contains("[possible values: text, json, csv]"), "{err}");

    // counters: the same counts as the text, per counter.
    let text = sys.ok(&["counters", "jefe"]);
    let counters = json(&sys.ok(&["counters", "-o", "json", "jefe"]));
    assert!(!counters.is_empty(), "{text}");
    for c in &counters {
        assert_eq!(c["task"], "jefe");
        let line = format!(
            "{:>10} {}",
            c["count"].as_u64().unwrap(),
            c["counter"].as_str().unwrap()
        );
        assert!(text.contains(&line), "{line:?} not in:\n{text}");
    }
    let (header, rows) =
        csv_records(&sys.ok(&["counters", "-o", "csv", "jefe"]));
    assert_eq!(header, ["task", "counters", "counter", "count"]);
    assert_eq!(rows.len(), counters.len());

    // counters list: every counter by name, from the archive alone.
    let archive = debugger_image().archive.display().to_string();
    let list = succeeded(
        &humility(&["-a", &archive, "counters", "list", "jefe"]),
        &["counters", "list"],
    );
    for c in &counters {
        assert!(list.contains(c["counter"].as_str().unwrap()), "{list}");
    }
    assert!(list.contains("counted ringbuf"), "{list}");
    let names = json(&succeeded(
        &humility(&["-a", &archive, "counters", "list", "-o", "json"]),
        &["counters", "list", "-o", "json"],
    ));
    assert!(names.iter().all(|n| n["task"] == "jefe"), "{names:?}");

    // ringbuf: one record per entry, as the table.
    let ring_text = sys.ok(&["ringbuf", "jefe"]);
    let ring = json(&sys.ok(&["ringbuf", "-o", "json", "jefe"]));
    let table_rows = ring_text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u64>().is_ok())
        })
        .count();
    assert_eq!(ring.len(), table_rows, "{ring_text}");
    for e in &ring {
        assert!(ring_text.contains(e["payload"].as_str().unwrap()));
    }
    let (header, rows) =
        csv_records(&sys.ok(&["ringbuf", "-o", "csv", "jefe"]));
    assert_eq!(header.last().map(String::as_str), Some("payload"));
    assert_eq!(rows.len(), ring.len());

    // --totals: the records per variant add up to the entries' counts,
    // and a counted buffer has seen at least as many as it holds.
    let totals = json(&sys.ok(&["ringbuf", "--totals", "-o", "json", "jefe"]));
    let held: u64 = ring.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    let summed: u64 =
        totals.iter().map(|t| t["records"].as_u64().unwrap()).sum();
    assert_eq!(held, summed, "{totals:?}");
    let faulted = totals
        .iter()
        .find(|t| t["variant"] == "Faulted")
        .unwrap_or_else(|| panic!("{totals:?}"));
    assert!(
        faulted["ever"].as_u64().unwrap()
            >= faulted["records"].as_u64().unwrap()
    );
    let text = sys.ok(&["ringbuf", "--totals", "jefe"]);
    assert!(text.starts_with("TASK "), "{text}");
    assert!(text.contains("Faulted"), "{text}");

    // The same from a dump.
    let dump = sys.dump("out.dump");
    assert_eq!(
        json(&on_dump(
            debugger_image(),
            &dump,
            &["ringbuf", "-o", "json", "jefe"]
        )),
        ring
    );
    let on = json(&on_dump(
        debugger_image(),
        &dump,
        &["counters", "-o", "json", "jefe"],
    ));
    assert_eq!(on, counters);
}
