//! humility against the emulated board: the default image built for
//! `mps2-an386` (`app-mps2.toml`) booted under QEMU with its GDB stub on
//! a loopback port, read with `humility --qemu 127.0.0.1:PORT`.
//!
//! The port is free by construction: the test binds 127.0.0.1:0 itself
//! and hands the listening socket to QEMU (`-chardev
//! socket,fd=N,server=on`), so nothing races for it and no test waits
//! for QEMU to start listening: a connection is queued on the socket
//! until QEMU accepts it.
//!
//! Without `qemu-system-arm` every test here says so and passes
//! (`.ci/run` installs it; the -mps2 suites skip the same way).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;

/// The default image built for the board, once for all tests.
struct BoardImage {
    archive: PathBuf,
    elf: PathBuf,
    tasks: Vec<String>,
}

fn qemu_missing() -> bool {
    let found = Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "skipped: qemu-system-arm is not installed (install it with \
             `apt-get install qemu-system-arm`; .ci/run does)"
        );
    }
    !found
}

fn image() -> &'static BoardImage {
    static IMAGE: OnceLock<BoardImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let archive = dist("app-mps2.toml");
        let elf = archive.with_file_name("leasehold-demo-mps2.elf");
        assert!(elf.is_file(), "no board ELF at {}", elf.display());
        let manifest = humility::archive::Archive::open(&archive)
            .expect("archive opens")
            .manifest;
        let tasks = manifest.tasks.iter().map(|t| t.name.clone()).collect();
        BoardImage {
            archive,
            elf,
            tasks,
        }
    })
}

/// A booted board; dropping it stops QEMU.
struct Board {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Board {
    /// Boots the image with the GDB stub on a loopback port of our own,
    /// and waits (by its console) until both FPGAs are operating, so
    /// every test starts from the same state.
    fn boot() -> Self {
        let image = image();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("console.log");
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        // QEMU inherits the listening socket.
        rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty())
            .expect("clear FD_CLOEXEC");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        let out = std::fs::File::create(&log).expect("console log");
        let child = Command::new("qemu-system-arm")
            .args(["-M", "mps2-an386", "-cpu", "cortex-m4"])
            .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-chardev")
            // nodelay as `-gdb tcp:` sets it: without it each reply
            // waits for the ack of QEMU's `+` (Nagle against delayed
            // ACKs), some 40 ms a packet.
            .arg(format!(
                "socket,id=gdb0,fd={fd},server=on,wait=off,nodelay=on"
            ))
            .args(["-gdb", "chardev:gdb0"])
            .arg("-kernel")
            .arg(&image.elf)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log fd"))
            .stderr(out)
            .spawn()
            .expect("qemu-system-arm starts");
        drop(listener);
        let board = Self {
            child,
            port,
            dir,
            log,
        };
        board.wait_console(|log| {
            log.matches("state Operating").count() >= 2
                && log.contains("all tasks running")
        });
        board
    }

    fn console(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the console shows `f` (a limit against a hang only);
    /// a task's fault on the way fails at once.
    fn wait_console(&self, f: impl Fn(&str) -> bool) {
        wait_file(&self.log, "the board's console", |log| {
            assert!(!log.contains("faulted"), "a task faulted:\n{log}");
            f(log)
        });
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Target for Board {
    fn humility(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "-a".to_owned(),
            image().archive.display().to_string(),
            "--qemu".to_owned(),
            self.address(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        humility(&all)
    }

    fn context(&self) -> String {
        format!("console:\n{}", self.console())
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The STATE column of task `name`'s row.
fn state(tasks: &str, name: &str) -> String {
    let row = task_row(tasks, name);
    row.split_whitespace().skip(4).collect::<Vec<_>>().join(" ")
}

#[test]
fn tasks_ringbuf_counters_readvar_and_a_dump_from_the_board() {
    if qemu_missing() {
        return;
    }
    let board = Board::boot();
    let image = image();

    // Every task of the image, by index, in its state at rest: servers
    // and drivers waiting in RECV, the demo done and waiting for a
    // notification, the store for the manager's reply, idle the only
    // runnable task.
    let tasks = board.wait_for(&["tasks"], "every task at rest", |t| {
        image.tasks.iter().all(|n| {
            let s = state(t, n);
            match n.as_str() {
                "idle" => s == "ready" || s == "RUNNING",
                "demo" | "hiffy" => s.starts_with("notif"),
                "store" => s.starts_with("wait: reply from fpga_mgr"),
                _ => s.starts_with("recv"),
            }
        })
    });
    let rows: Vec<&str> = tasks.lines().skip(1).collect();
    assert_eq!(rows.len(), image.tasks.len(), "{tasks}");
    for (i, name) in image.tasks.iter().enumerate() {
        let row = task_row(&tasks, name);
        let w: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(w[0], i.to_string(), "{tasks}");
        assert_eq!(generation(&tasks, name), 0, "{tasks}");
    }
    assert!(state(&tasks, "jefe").starts_with("recv"), "{tasks}");
    assert!(state(&tasks, "fpga_mgr").starts_with("recv"), "{tasks}");

    // The manager's trace, decoded with its ELF's DWARF: both loads.
    let ring = board.ok(&["ringbuf", "fpga_mgr"]);
    for device in [0, 1] {
        let load = format!("Load {{ device: {device}, result: Ok(()) }}");
        assert!(ring.contains(&load), "{ring}");
    }
    // Idol's per-op counters: the demo's calls, as the manager served
    // them.
    let ipc = board.ok(&["counters", "ipc", "fpga_mgr"]);
    assert!(ipc.contains("FpgaManager"), "{ipc}");
    // A static by name, in a task's RAM (jefe's external-control flag).
    let ready = board.ok(&["readvar", "JEFE_EXTERNAL_READY"]);
    assert!(ready.contains("JEFE_EXTERNAL_READY"), "{ready}");
    assert!(ready.contains(" 1") || ready.contains("= 1"), "{ready}");

    // A dump of the board's memory reads back like the hosted kernel's.
    let dump = board.dir.path().join("board.dump");
    let said = board.ok(&["dump", dump.to_str().unwrap()]);
    assert!(said.contains("dump written to"), "{said}");
    let a = image.archive.display().to_string();
    let d = dump.display().to_string();
    let from_dump =
        succeeded(&humility(&["-a", &a, "-d", &d, "tasks"]), &["-d", "tasks"]);
    // The same states, timers aside (they are relative to the uptime,
    // and the board ran between the two commands).
    let timeless = |s: String| {
        s.split("T+")
            .map(|p| p.trim_start_matches(|c: char| c.is_ascii_digit()))
            .collect::<Vec<_>>()
            .join("T+")
    };
    for name in &image.tasks {
        let (live, dumped) = (state(&tasks, name), state(&from_dump, name));
        // hiffy polls on its own timer (every few ms), so at any instant
        // it may be asleep or just woken: either is at rest.
        if name == "hiffy" {
            let resting = |s: &str| {
                s.starts_with("notif") || s == "ready" || s == "RUNNING"
            };
            assert!(
                resting(&live) && resting(&dumped),
                "{name}: live\n{tasks}\ndump\n{from_dump}"
            );
            continue;
        }
        assert_eq!(
            timeless(dumped),
            timeless(live),
            "{name}: live\n{tasks}\ndump\n{from_dump}"
        );
    }
    let ring_dump = succeeded(
        &humility(&["-a", &a, "-d", &d, "ringbuf", "fpga_mgr"]),
        &["-d", "ringbuf"],
    );
    assert!(
        ring_dump.contains("Load { device: 1, result: Ok(()) }"),
        "{ring_dump}"
    );
    // The same file is never written over.
    let again = board.humility(&["dump", dump.to_str().unwrap()]);
    failed_with(&again, "cannot create dump");

    // The board ran on after each command: the console still moves
    // and humility can attach again.
    board.ok(&["tasks"]);
}

#[test]
fn jefe_faults_and_restarts_a_task_on_the_board() {
    if qemu_missing() {
        return;
    }
    let board = Board::boot();
    let out = board.ok(&["jefe", "-f", "hiffy"]);
    assert!(out.contains("faulted hiffy"), "{out}");
    let tasks = board.ok(&["tasks"]);
    assert!(state(&tasks, "hiffy").starts_with("FAULT"), "{tasks}");
    let out = board.ok(&["jefe", "-r", "hiffy"]);
    assert!(out.contains("released hiffy"), "{out}");
    let tasks = board.wait_for(&["tasks"], "hiffy restarted", |t| {
        generation(t, "hiffy") == 1 && state(t, "hiffy").starts_with("notif")
    });
    assert_eq!(generation(&tasks, "jefe"), 0, "{tasks}");
}

/// hiffy's calls work by the same writes and reads (the board runs
/// between them), and so does `humility fpga`: the HX8K image, twice
/// hiffy's buffer, streamed to the board's iCE40 model.
#[test]
fn hiffy_and_an_fpga_load_on_the_board() {
    if qemu_missing() {
        return;
    }
    let board = Board::boot();
    let out =
        board.ok(&["hiffy", "-c", "FpgaManager.state", "-a", "device_index=0"]);
    assert!(out.contains("=> Ok("), "{out}");
    let out =
        board.ok(&["hiffy", "-c", "FpgaManager.state", "-a", "device_index=9"]);
    assert!(out.contains("=> Err(BadDevice)"), "{out}");

    let hx8k = workspace().join("test/bitstreams/ice40-hx8k-blinky.bin");
    let out = board.ok(&["fpga", "load", "hx8k", hx8k.to_str().unwrap()]);
    assert!(
        out.starts_with("humility: hx8k: operating; 135100 bytes in "),
        "{out}"
    );
    let status = board.ok(&["fpga", "status", "hx8k"]);
    assert!(status.starts_with("device 2 hx8k: operating\n"), "{status}");
    assert!(status.contains("loaded by hiffy/gen0"), "{status}");
}

/// A port nobody listens on: bound, then closed.
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("port");
    l.local_addr().expect("addr").port()
}

#[test]
fn no_stub_listening_is_one_line() {
    let a = image().archive.display().to_string();
    let addr = format!("127.0.0.1:{}", dead_port());
    let out = humility(&["-a", &a, "--qemu", &addr, "tasks"]);
    failed_with(&out, "no GDB stub listening");
}

#[test]
fn a_remote_address_is_refused() {
    let a = image().archive.display().to_string();
    for addr in ["10.1.2.3:1234", "0.0.0.0:1234", "example.com:1234"] {
        let out = humility(&["-a", &a, "--qemu", addr, "tasks"]);
        failed_with(&out, "not a loopback address");
    }
}

/// A "stub" that answers whatever it is sent with `reply`, then hangs
/// up: humility must give one line, never a panic or a hang.
fn garbage_stub(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("port");
    let port = l.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let Ok((mut s, _)) = l.accept() else { return };
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let mut buf = [0u8; 256];
        let _ = s.read(&mut buf);
        let _ = s.write_all(reply);
        let _ = s.shutdown(std::net::Shutdown::Write);
        // Drain until humility hangs up.
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    (port, t)
}

#[test]
fn garbage_from_the_stub_is_one_line() {
    let a = image().archive.display().to_string();
    let cases: [(&[u8], &str); 4] = [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", "closed the connection"),
        (b"+$PacketSize=zz#24", "malformed"),
        (b"+$OK#00$OK#00$OK#00$OK#00", "bad checksum"),
        (b"+$PacketSize=1000#f1+$W00#b7", "exited"),
    ];
    for (reply, want) in cases {
        let (port, t) = garbage_stub(reply);
        let addr = format!("127.0.0.1:{port}");
        let out = humility(&["-a", &a, "--qemu", &addr, "tasks"]);
        failed_with(&out, want);
        t.join().expect("stub thread");
    }
}

#[test]
fn a_hosted_archive_is_not_read_as_a_board() {
    let hosted = common::image();
    let a = hosted.archive.display().to_string();
    let out = humility(&["-a", &a, "--qemu", "127.0.0.1:1", "tasks"]);
    failed_with(&out, "reads mps2-an386 boards");
}
