//! humility against real systems: the default image (`app.toml`: jefe,
//! the iCE40 and Artix-7 drivers, the FPGA manager, the demo client,
//! hiffy) booted on the hosted kernel, and dumps it wrote.
//!
//! Each test boots its own kernel (`leasehold-kernel <archive> --probe
//! <socket in a temporary directory>`), so they can run in parallel and
//! change the system as they like; a [`System`] guard stops the kernel
//! (and with it every task) when the test ends, also when it fails. The
//! image is built once, by `cargo xtask dist app.toml`, with the same
//! `CARGO_TARGET_DIR` as the test.
//!
//! Every command runs the real `humility` binary, so what is checked is
//! what a user sees: stdout, stderr, exit status.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `CALLS` and `ERRORS` of one row of `counters ipc`.
fn ipc_calls(
    table: &str,
    task: &str,
    iface: &str,
    side: &str,
    op: &str,
) -> (u64, u64) {
    let row = table
        .lines()
        .find(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 6
                && w[0] == task
                && w[1] == iface
                && w[2] == side
                && w[3] == op
        })
        .unwrap_or_else(|| {
            panic!("no {task} {iface} {side} {op} in:\n{table}")
        });
    let w: Vec<&str> = row.split_whitespace().collect();
    (w[4].parse().unwrap(), w[5].parse().unwrap())
}

/// The value of counter `name` in `humility counters` output for one
/// static.
fn counter(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            let n = w.next()?.parse().ok()?;
            (w.next()? == name).then_some(n)
        })
        .unwrap_or_else(|| panic!("no counter {name} in:\n{text}"))
}

#[test]
fn live_tasks_ringbuf_counters_and_hiffy() {
    let sys = System::boot();

    // `tasks` against the live image. jefe spends its life in RECV, open
    // to its fault and timer notifications, but a timer can make it
    // runnable at the instant of any one snapshot: wait for the state
    // rather than assert a snapshot.
    let tasks = sys.wait_for(&["tasks"], "jefe in recv", |t| {
        task_row(t, "jefe").contains("recv, notif: bit0(fault) bit1(timer")
    });
    for name in ["ice40", "xc7", "fpga_mgr", "demo", "hiffy", "idle"] {
        task_row(&tasks, name);
    }

    // The demo's loads, in the manager's ring buffer, decoded.
    let ring = sys.ok(&["ringbuf", "fpga_mgr"]);
    assert!(
        ring.contains("Bound { device: 1, driver: TaskId(2/gen0) }"),
        "{ring}"
    );
    assert!(
        ring.contains("Load { device: 1, result: Ok(()) }"),
        "{ring}"
    );
    assert!(
        ring.contains("Released { device: 1, holder: TaskId(4/gen0) }"),
        "{ring}"
    );

    // hiffy calls the manager: lock, a load with a read lease from a
    // file, release; counters must show exactly these calls.
    let ipc0 = sys.ok(&["counters", "ipc", "fpga_mgr"]);
    let errs0 = sys.ok(&["counters", "fpga_mgr"]);
    let bitstream = workspace().join("test/bitstreams/ice40-hx1k-blinky.bin");
    let bitstream = bitstream.display().to_string();
    let out =
        sys.ok(&["hiffy", "-c", "FpgaManager.lock", "-a", "device_index=0"]);
    assert_eq!(out.trim(), "FpgaManager.lock(device_index: 0) => Ok(())");
    let out = sys.ok(&[
        "hiffy",
        "-c",
        "FpgaManager.load",
        "-a",
        "device_index=0,flags=0,timeout_ms=2000",
        "-i",
        &bitstream,
    ]);
    assert!(out.trim().ends_with("=> Ok(())"), "{out}");
    let out =
        sys.ok(&["hiffy", "-c", "FpgaManager.state", "-a", "device_index=0"]);
    assert!(out.contains("=> Ok("), "{out}");
    // A call the manager refuses: no such device.
    let out =
        sys.ok(&["hiffy", "-c", "FpgaManager.state", "-a", "device_index=9"]);
    assert!(out.contains("=> Err(BadDevice)"), "{out}");
    let out =
        sys.ok(&["hiffy", "-c", "FpgaManager.release", "-a", "device_index=0"]);
    assert!(out.trim().ends_with("=> Ok(())"), "{out}");

    let ring = sys.ok(&["ringbuf", "fpga_mgr"]);
    assert!(
        ring.contains("Locked { device: 0, holder: TaskId(5/gen0) }"),
        "hiffy's lock:\n{ring}"
    );
    assert!(
        ring.contains("Released { device: 0, holder: TaskId(5/gen0) }"),
        "{ring}"
    );
    let loads = ring.matches("Load { device: 0, result: Ok(()) }").count();
    assert_eq!(loads, 2, "the demo's load and hiffy's:\n{ring}");
    let ice40 = sys.ok(&["ringbuf", "ice40"]);
    assert!(ice40.contains("Write(TaskId(3/gen0), 32220)"), "{ice40}");

    let ipc1 = sys.ok(&["counters", "ipc", "fpga_mgr"]);
    for (op, calls, errors) in [
        ("lock", 1, 0),
        ("load", 1, 0),
        ("release", 1, 0),
        ("state", 2, 1),
    ] {
        let (c0, e0) =
            ipc_calls(&ipc0, "fpga_mgr", "FpgaManager", "server", op);
        let (c1, e1) =
            ipc_calls(&ipc1, "fpga_mgr", "FpgaManager", "server", op);
        assert_eq!(
            (c1 - c0, e1 - e0),
            (calls, errors),
            "FpgaManager.{op} calls, errors"
        );
    }
    let errs1 = sys.ok(&["counters", "fpga_mgr"]);
    assert_eq!(
        counter(&errs1, "BadDevice") - counter(&errs0, "BadDevice"),
        1,
        "{errs1}"
    );
    assert_eq!(counter(&errs1, "NotLocked"), counter(&errs0, "NotLocked"));
}

/// jefe's external controls, driven the way Humility drives them: the
/// debugger writes `JEFE_EXTERNAL_*` through the probe and jefe acts on
/// its next tick. Fault (and hold), release, hold, start; then the same
/// inspection from a dump.
#[test]
fn test_jefe_external_control() {
    let sys = System::boot();
    let gen0 = generation(&sys.ok(&["tasks"]), "xc7");

    // -f: faulted by jefe, and held: it stays faulted.
    let out = sys.ok(&["jefe", "-f", "xc7"]);
    assert!(out.contains("faulted xc7"), "{out}");
    let tasks = sys.ok(&["tasks"]);
    let row = task_row(&tasks, "xc7");
    assert!(
        row.contains("FAULT: killed by jefe/gen0 (was: recv"),
        "{tasks}"
    );
    assert_eq!(
        generation(&tasks, "xc7"),
        gen0 + 1,
        "the kernel bumps the generation at the fault"
    );
    // Held: once jefe records that it holds this incarnation, nothing
    // restarts it, so the task row must still show the fault.
    let held = format!("Held(TaskId(2/gen{}))", gen0 + 1);
    sys.wait_for(&["ringbuf", "jefe"], "jefe holds xc7", |r| {
        r.contains(&held)
    });
    let tasks = sys.ok(&["tasks"]);
    assert!(
        task_row(&tasks, "xc7").contains("FAULT: killed by jefe"),
        "held:\n{tasks}"
    );
    let jefe_ring = sys.ok(&["ringbuf", "jefe"]);
    assert!(
        jefe_ring.contains("External { request: Fault, task: TaskId(2/gen"),
        "{jefe_ring}"
    );
    assert!(jefe_ring.contains("Held(TaskId(2/gen"), "{jefe_ring}");
    // The manager was told (it is on the fault mailing list for xc7).
    assert!(
        jefe_ring.contains("Notified { task: TaskId(3/gen0), mask: 2 }"),
        "{jefe_ring}"
    );

    // jefe's dump-on-fault policy (app.toml) had the kernel dump the
    // system when xc7 faulted, before anything could restart it.
    assert!(
        jefe_ring.contains("Dumped { task: TaskId(2/gen1), ok: true }"),
        "{jefe_ring}"
    );
    // The kernel names its dumps `<image>-<boot time>-<n>.dump`; this
    // run's first is the policy's.
    let policy_dump = std::fs::read_dir(sys.dir.path())
        .expect("dump directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("leasehold-demo-") && name.ends_with("-1.dump")
        })
        .expect("no dump by policy");
    let archive = image().archive.display().to_string();
    let policy = policy_dump.display().to_string();
    let held = succeeded(
        &humility(&["-a", &archive, "-d", &policy, "tasks"]),
        &["-d", "tasks"],
    );
    assert!(
        task_row(&held, "xc7").contains("FAULT: killed by jefe"),
        "{held}"
    );

    // The same, from a dump.
    let dump = sys.dir.path().join("held.dump");
    let out = sys.ok(&["dump", &dump.display().to_string()]);
    assert!(out.contains("dump written to"), "{out}");
    let archive = image().archive.display().to_string();
    let d = dump.display().to_string();
    let dumped = succeeded(
        &humility(&["-a", &archive, "-d", &d, "tasks"]),
        &["-d", "tasks"],
    );
    assert!(
        task_row(&dumped, "xc7").contains("FAULT: killed by jefe/gen0"),
        "{dumped}"
    );
    let ring = succeeded(
        &humility(&["-a", &archive, "-d", &d, "ringbuf", "fpga_mgr"]),
        &["-d", "ringbuf"],
    );
    assert!(
        ring.contains("Load { device: 1, result: Ok(()) }"),
        "{ring}"
    );
    let counters = succeeded(
        &humility(&["-a", &archive, "-d", &d, "counters", "jefe"]),
        &["-d", "counters"],
    );
    assert_eq!(counter(&counters, "External"), 1, "{counters}");
    assert_eq!(counter(&counters, "Faulted"), 1, "{counters}");

    // -r: released, so restarted, and the manager binds the new driver.
    let out = sys.ok(&["jefe", "-r", "xc7"]);
    assert!(out.contains("released xc7"), "{out}");
    sys.wait_tasks("xc7 restarted", |t| !task_row(t, "xc7").contains("FAULT"));
    let ring = sys.ok(&["ringbuf", "xc7"]);
    assert!(
        ring.contains("Announced"),
        "the new driver announced itself:\n{ring}"
    );

    // -H, then a fault from elsewhere (the probe's own `fault`): held.
    let out = sys.ok(&["jefe", "-H", "xc7"]);
    assert!(out.contains("xc7"), "{out}");
    probe_request(&sys.socket, r#"{"op":"fault","task":2}"#);
    let tasks = sys.wait_tasks("xc7 faulted by the kernel", |t| {
        task_row(t, "xc7").contains("FAULT: killed by kernel")
    });
    let g = generation(&tasks, "xc7");
    let held = format!("Held(TaskId(2/gen{g}))");
    sys.wait_for(&["ringbuf", "jefe"], "jefe holds xc7", |r| {
        r.contains(&held)
    });
    let tasks = sys.ok(&["tasks"]);
    assert!(
        task_row(&tasks, "xc7").contains("FAULT: killed by kernel"),
        "held:\n{tasks}"
    );

    // -s: jefe restarts it, keeping the hold. (The restarted driver may
    // fault at once with PeripheralGrantRevoked, since the manager took
    // its grants at the fault; held, it then stays faulted. Either way the
    // kernel's injected fault is gone.)
    let out = sys.ok(&["jefe", "-s", "xc7"]);
    assert!(out.contains("xc7"), "{out}");
    let tasks = sys.wait_tasks("xc7 started", |t| {
        !task_row(t, "xc7").contains("killed by kernel")
    });
    assert!(generation(&tasks, "xc7") >= g, "{tasks}");
    let jefe_ring = sys.ok(&["ringbuf", "jefe"]);
    assert!(
        jefe_ring.contains("External { request: Start, task: TaskId(2/gen"),
        "{jefe_ring}"
    );
    // If the new incarnation faulted, jefe must hold it: wait for jefe
    // to say so for that generation, then the fault must still be there.
    let later = sys.ok(&["tasks"]);
    if task_row(&later, "xc7").contains("FAULT") {
        let h = generation(&later, "xc7");
        let held = format!("Held(TaskId(2/gen{h}))");
        sys.wait_for(&["ringbuf", "jefe"], "jefe holds xc7 again", |r| {
            r.contains(&held)
        });
        let again = sys.ok(&["tasks"]);
        assert_eq!(
            task_row(&again, "xc7"),
            task_row(&later, "xc7"),
            "-s keeps the hold"
        );
    }

    // jefe refuses to act on itself; humility says so.
    failed_with(&sys.humility(&["jefe", "-f", "jefe"]), "jefe");
    // jefe counted what it did and refused.
    let done = sys.ok(&["readvar", "JEFE_EXTERNAL_REQUESTS"]);
    assert!(done.contains('4'), "4 requests done: {done}");
}

/// What every bad input gets: one clear error line, exit status 1, no
/// panic.
#[test]
fn bad_input_is_one_clear_error() {
    let archive = image().archive.display().to_string();
    let mut sys = System::boot();

    // A real dump, then broken copies of it.
    let dump = sys.dir.path().join("good.dump");
    sys.ok(&["dump", &dump.display().to_string()]);
    let bytes = std::fs::read(&dump).unwrap();
    let truncated = sys.dir.path().join("truncated.dump");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt = sys.dir.path().join("corrupt.dump");
    let mut bad = bytes.clone();
    for b in &mut bad[30..bytes.len() / 2] {
        *b ^= 0x5a;
    }
    std::fs::write(&corrupt, &bad).unwrap();
    let garbage = sys.dir.path().join("garbage.dump");
    std::fs::write(&garbage, b"this is not a dump\n").unwrap();
    for (file, cmd) in [
        (&truncated, "tasks"),
        (&corrupt, "tasks"),
        (&garbage, "ringbuf"),
    ] {
        let f = file.display().to_string();
        failed_with(
            &humility(&["-a", &archive, "-d", &f, cmd]),
            "corrupt or truncated",
        );
    }
    // The good dump still works.
    let d = dump.display().to_string();
    succeeded(&humility(&["-a", &archive, "-d", &d, "tasks"]), &["tasks"]);

    // An archive from another image, against the live system and the
    // dump.
    let other = other_image_archive(sys.dir.path());
    let o = other.display().to_string();
    let s = sys.socket.display().to_string();
    failed_with(
        &humility(&["-a", &o, "-p", &s, "tasks"]),
        "archive and running image differ",
    );
    failed_with(
        &humility(&["-a", &o, "-d", &d, "tasks"]),
        "of another image",
    );

    // Garbage hiffy arguments.
    for args in [
        "device_index=banana",
        "garbage",
        "no_such_arg=1",
        "device_index=300",
    ] {
        failed_with(
            &sys.humility(&["hiffy", "-c", "FpgaManager.state", "-a", args]),
            "",
        );
    }
    failed_with(&sys.humility(&["hiffy", "-c", "FpgaManager.nope"]), "nope");
    failed_with(
        &sys.humility(&["hiffy", "-c", "NoSuchIface.op"]),
        "NoSuchIface",
    );
    // Unknown task and symbol.
    failed_with(&sys.humility(&["jefe", "-f", "nosuchtask"]), "nosuchtask");
    failed_with(
        &sys.humility(&["readvar", "NO_SUCH_STATIC"]),
        "NO_SUCH_STATIC",
    );

    // A probe that answers `identity`, then closes mid-command.
    let fake = sys.dir.path().join("fake.sock");
    let id = format!("{:016x}", image_id(&image().archive));
    let server = fake_probe(&fake, id);
    let f = fake.display().to_string();
    failed_with(
        &humility(&["-a", &archive, "-p", &f, "tasks"]),
        "closed the connection mid-command",
    );
    server.join().unwrap();

    // The kernel gone: the socket disappears.
    sys.stop();
    failed_with(
        &humility(&["-a", &archive, "-p", &s, "tasks"]),
        "system not running",
    );
    // No archive at all.
    let out = Command::new(env!("CARGO_BIN_EXE_humility"))
        .args(["-p", &s, "tasks"])
        .env_remove("HUMILITY_ARCHIVE")
        .output()
        .unwrap();
    failed_with(&out, "no archive");
}

/// Sends one raw request to the probe; insists it succeeds.
fn probe_request(socket: &Path, line: &str) {
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    writeln!(s, "{line}").unwrap();
    let mut answer = String::new();
    BufReader::new(&s).read_line(&mut answer).unwrap();
    assert!(answer.contains(r#""ok":true"#), "{line} -> {answer}");
}

/// A probe that answers `identity` as the image would, then closes the
/// connection on the next request.
fn fake_probe(path: &Path, image_id: String) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let answer = format!(
            r#"{{"ok":true,"name":"leasehold-demo","image_id":"{image_id}","git_revision":"x","uptime_ms":1}}"#
        );
        writeln!(writer, "{answer}").unwrap();
        line.clear();
        let _ = reader.read_line(&mut line);
        // Dropping both ends closes the connection mid-command.
    })
}

fn image_id(archive: &Path) -> u64 {
    let file = std::fs::File::open(archive).unwrap();
    let mut zip = zip::ZipArchive::new(file).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_reader(zip.by_name("manifest.json").unwrap()).unwrap();
    manifest["image_id"].as_u64().unwrap()
}

/// A copy of the default image's archive whose manifest names another
/// image id: what humility sees given the archive of another build.
fn other_image_archive(dir: &Path) -> PathBuf {
    let src = std::fs::File::open(&image().archive).unwrap();
    let mut zip = zip::ZipArchive::new(src).unwrap();
    let path = dir.join("other.zip");
    let mut out = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).unwrap();
        if entry.name().is_ok_and(|n| n == "manifest.json") {
            drop(entry);
            let mut manifest: serde_json::Value =
                serde_json::from_reader(zip.by_name("manifest.json").unwrap())
                    .unwrap();
            let id = manifest["image_id"].as_u64().unwrap();
            manifest["image_id"] = (id ^ 0xdead_beef).into();
            out.start_file(
                "manifest.json",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            out.write_all(manifest.to_string().as_bytes()).unwrap();
        } else {
            out.raw_copy_file(entry).unwrap();
        }
    }
    out.finish().unwrap();
    path
}

/// `humility map | head`: a reader that closed its end before humility
/// wrote is not an error of humility's. The pipe's read end is closed
/// before humility starts, so every run takes the broken-pipe path.
#[test]
fn a_reader_that_went_away_is_not_a_panic() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let archive = image().archive.display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_humility"))
        .args(["-a", &archive, "map"])
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .output()
        .expect("cannot run humility");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(stderr.is_empty(), "{stderr}");
}
