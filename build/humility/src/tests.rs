//! Tests that need a real ELF, a real archive or a real dump.
//!
//! DWARF decoding is tested against this test binary's own debug info:
//! it declares a ring buffer and counters with the real `ringbuf` and
//! `counters` crates, records into them, reads their memory back through
//! `/proc/self/mem` (no `unsafe` needed) and decodes it as humility would
//! decode a task's.

use std::io::{Read, Seek, SeekFrom, Write};

use abi::{FaultInfo, Generation, SchedState, TaskId, TaskState};
use counters::{Count, count, counters};
use ringbuf::{ringbuf, ringbuf_entry};
use serde_json::json;

use crate::archive::Archive;
use crate::dwarf::DebugInfo;
use crate::elf::Elf;
use crate::target::{Dump, TaskRow, hex};
use crate::value::Value;

#[derive(Copy, Clone, Debug, PartialEq)]
enum Trace {
    None,
    Locked(TaskId),
    LoadDone { device: u8, bytes: u32 },
    Wide(u64, i16),
    Maybe(Option<u16>),
}

ringbuf!(TEST_RINGBUF, Trace, 4, Trace::None);

#[derive(Copy, Clone, Count)]
enum Event {
    Started,
    Failed(#[count(children)] Step),
}

/// `Open` is never counted: its counter must read 0.
#[allow(dead_code)]
#[derive(Copy, Clone, Count)]
enum Step {
    Open,
    Write,
}

counters!(TEST_COUNTERS, Event);

/// This binary's debug info (loaded once per test thread; `DebugInfo`
/// caches with `Rc`s and so is not `Sync`).
fn own_debug() -> std::rc::Rc<DebugInfo> {
    thread_local! {
        static INFO: std::rc::Rc<DebugInfo> = {
            let exe = std::env::current_exe().expect("current_exe");
            let elf = Elf::parse(std::fs::read(exe).expect("read exe"))
                .expect("parse exe");
            std::rc::Rc::new(DebugInfo::load(&elf).expect("load DWARF"))
        };
    }
    INFO.with(|i| i.clone())
}

/// Reads our own memory, as the probe reads a task's.
fn own_memory(address: usize, len: u64) -> Vec<u8> {
    let mut mem = std::fs::File::open("/proc/self/mem").expect("open mem");
    mem.seek(SeekFrom::Start(address as u64)).expect("seek");
    let mut out = vec![0; len as usize];
    mem.read_exact(&mut out).expect("read mem");
    out
}

/// Decodes one of our statics, found by name in DWARF, read at the
/// address it really has (`at`; the test binary is position independent).
fn decode_static(name: &str, at: usize) -> Value {
    let debug = own_debug();
    let found = debug.lookup(name);
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    let size = debug.size_of(found[0].ty);
    assert!(size > 0, "{name} has no size");
    debug.decode(found[0].ty, &own_memory(at, size))
}

#[test]
fn ring_buffer_entries_decode_by_variant_name_oldest_first() {
    let locked =
        Trace::Locked(TaskId::for_index_and_gen(3, Generation::new(2)));
    ringbuf_entry!(TEST_RINGBUF, Trace::Wide(1, -1));
    ringbuf_entry!(TEST_RINGBUF, Trace::Maybe(None));
    // The same line and payload twice in a row: one entry, count 2.
    for _ in 0..2 {
        ringbuf_entry!(TEST_RINGBUF, locked);
    }
    ringbuf_entry!(TEST_RINGBUF, Trace::Maybe(Some(9)));
    ringbuf_entry!(
        TEST_RINGBUF,
        Trace::LoadDone {
            device: 0,
            bytes: 32220
        }
    );
    ringbuf_entry!(TEST_RINGBUF, Trace::Wide(u64::MAX, -300));

    let value =
        decode_static("TEST_RINGBUF", &TEST_RINGBUF as *const _ as usize);
    let entries = crate::vars::ring_entries(&value).expect("a ring buffer");
    let shown: Vec<(String, u64)> = entries
        .iter()
        .map(|e| (e.payload.to_string(), e.count))
        .collect();
    // Four slots: the two oldest entries were overwritten; the repeated
    // `locked` was folded into one entry with count 2.
    assert_eq!(
        shown,
        [
            ("Locked(TaskId(3/gen2))".to_string(), 2),
            ("Maybe(Some(9))".to_string(), 1),
            ("LoadDone { device: 0, bytes: 32220 }".to_string(), 1),
            ("Wide(18446744073709551615, -300)".to_string(), 1),
        ]
    );
    assert!(entries.iter().all(|e| e.line > 0));
    // Slot 0 was written twice (the wrap), so its generation is 2.
    let slot0 = entries.iter().find(|e| e.index == 0).expect("slot 0");
    assert_eq!(slot0.generation, 2);
}

#[test]
fn counters_decode_per_variant_with_nested_children() {
    count!(TEST_COUNTERS, Event::Started);
    count!(TEST_COUNTERS, Event::Failed(Step::Write));
    count!(TEST_COUNTERS, Event::Failed(Step::Write));
    let value =
        decode_static("TEST_COUNTERS", &TEST_COUNTERS as *const _ as usize);
    assert_eq!(
        value.counts(),
        [
            ("Started".to_string(), 1),
            ("Failed.Open".to_string(), 0),
            ("Failed.Write".to_string(), 2),
        ]
    );
}

#[test]
fn statics_are_found_by_path_suffix() {
    let debug = own_debug();
    let v = debug.lookup("tests::TEST_RINGBUF");
    assert_eq!(v.len(), 1);
    assert!(v[0].path.ends_with("tests::TEST_RINGBUF"), "{}", v[0].path);
    assert!(debug.lookup("NO_SUCH_STATIC_ANYWHERE").is_empty());
    assert!(debug.type_name(v[0].ty).contains("Ringbuf"));
}

/// A manifest for the tests: jefe, a driver, the manager, hiffy.
fn manifest(image_id: u64) -> serde_json::Value {
    let task = |name: &str, index: u16, notifications: &[&str]| {
        let ram = 0x4000_0000 + u32::from(index) * 0x10000;
        json!({
            "name": name, "crate_name": format!("task-{name}"),
            "index": index, "priority": index, "start": true,
            "flash": {
                "base": 0x1000_0000 + u32::from(index) * 0x8000,
                "size": 0x4000,
            },
            "ram": {"base": ram, "size": 0x100},
            "stack": {"base": ram, "size": 0x80},
            "elf": format!("elf/task/{name}"),
            "task_slots": [], "uses": [], "notifications": notifications,
            "interrupts": [], "kipc": [], "features": [],
        })
    };
    json!({
        "name": "unit", "version": "0.1.0", "git_revision": "abc",
        "board": "hosted", "image_id": image_id,
        "kernel": {"dump_on_fault": false, "features": []},
        "tasks": [
            task("jefe", 0, &["fault", "timer"]),
            task("ice40", 1, &[]),
            task("fpga_mgr", 2, &[]),
            task("hiffy", 3, &[]),
        ],
        "peripherals": [], "blobs": [],
    })
}

/// Writes a zip with the given files.
fn zip_file(
    dir: &std::path::Path,
    name: &str,
    files: &[(&str, &[u8])],
) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut zip =
        zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
    for (n, data) in files {
        zip.start_file(*n, zip::write::SimpleFileOptions::default())
            .expect("start");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish");
    path
}

fn test_archive(dir: &std::path::Path, image_id: u64) -> Archive {
    let text = manifest(image_id).to_string();
    let path =
        zip_file(dir, "build-unit.zip", &[("manifest.json", text.as_bytes())]);
    Archive::open(&path).expect("archive opens")
}

fn row(index: usize, state: &TaskState, recv_mask: Option<u32>) -> TaskRow {
    TaskRow {
        index,
        name: String::new(),
        generation: 0,
        priority: 0,
        state: state.encode().to_vec().into(),
        syscalls: 0,
        notifications: 0,
        timer: Some(1071),
        ram: debug_protocol::Range { base: 0, size: 0 },
        flash: debug_protocol::Range { base: 0, size: 0 },
        recv_mask,
        panic: None,
    }
}

#[test]
fn task_states_read_like_humility() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = test_archive(dir.path(), 7);
    let show = |index, state: TaskState, mask| {
        let r = row(index, &state, mask);
        let decoded = r.decode_state().expect("decodes");
        crate::tasks::state_string(&archive, &decoded, &r, 1000)
    };
    let mgr_gen3 = TaskId::for_index_and_gen(2, Generation::new(3));
    assert_eq!(
        show(3, TaskState::Healthy(SchedState::InReply(mgr_gen3)), None),
        "wait: reply from fpga_mgr/gen3"
    );
    assert_eq!(
        show(3, TaskState::Healthy(SchedState::InSend(mgr_gen3)), None),
        "wait: send to fpga_mgr/gen3"
    );
    assert_eq!(
        show(0, TaskState::Healthy(SchedState::InRecv(None)), Some(0b11)),
        "recv, notif: bit0(fault) bit1(timer T+71)"
    );
    assert_eq!(
        show(1, TaskState::Healthy(SchedState::Runnable), None),
        "ready"
    );
    assert_eq!(
        show(1, TaskState::Healthy(SchedState::Stopped), None),
        "stopped"
    );
    let jefe = TaskId::for_index_and_gen(0, Generation::ZERO);
    assert_eq!(
        show(
            1,
            TaskState::Faulted {
                fault: FaultInfo::Injected(jefe),
                original_state: SchedState::InRecv(None),
            },
            None
        ),
        "FAULT: killed by jefe/gen0 (was: recv)"
    );
    assert_eq!(
        show(
            1,
            TaskState::Faulted {
                fault: FaultInfo::Injected(TaskId::KERNEL),
                original_state: SchedState::Runnable,
            },
            None
        ),
        "FAULT: killed by kernel (was: ready)"
    );
    assert_eq!(
        show(
            1,
            TaskState::Faulted {
                fault: FaultInfo::MemoryAccess {
                    address: Some(0x10),
                    source: abi::FaultSource::User,
                },
                original_state: SchedState::Runnable,
            },
            None
        ),
        "FAULT: mem fault (precise: 0x10) (was: ready)"
    );
}

#[test]
fn a_malformed_state_is_an_error_not_a_panic() {
    let mut r = row(0, &TaskState::default(), None);
    r.state = vec![0xff; 3].into();
    assert!(r.decode_state().is_err());
    r.state = vec![0xff; 20].into();
    assert!(r.decode_state().is_err());
    // Non-hex in a row from the wire is refused when the row is read.
    let text = r#"{"index":0,"name":"t","generation":0,"priority":0,
        "state":"zz","ram":{"base":0,"size":0},"flash":{"base":0,"size":0}}"#;
    assert!(serde_json::from_str::<TaskRow>(text).is_err());
}

/// A dump of the test archive's image, with `ram` for every task.
fn dump_files(image_id: &str, ram_len: usize) -> Vec<(String, Vec<u8>)> {
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            json!({"index": i, "name": "t", "generation": 0, "priority": i,
                   "state": hex(&TaskState::default().encode()),
                   "ram": {"base": 0, "size": 0x100},
                   "flash": {"base": 0, "size": 0}})
        })
        .collect();
    let header = json!({"format": "leasehold-dump-1", "image_id": image_id,
                        "name": "unit", "git_revision": "abc",
                        "uptime_ms": 5, "reason": "test", "tasks": tasks});
    let mut files =
        vec![("dump.json".to_string(), header.to_string().into_bytes())];
    for i in 0..4 {
        files.push((format!("ram/{i}.bin"), vec![0xAA; ram_len]));
    }
    files
}

fn write_dump(
    dir: &std::path::Path,
    name: &str,
    files: &[(String, Vec<u8>)],
) -> std::path::PathBuf {
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    zip_file(dir, name, &refs)
}

#[test]
fn dumps_are_checked_before_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = test_archive(dir.path(), 7);
    let id = archive.image_id();

    let good = write_dump(dir.path(), "good.zip", &dump_files(&id, 0x100));
    let dump = Dump::open(&good, &archive).expect("a good dump opens");
    assert_eq!(dump.tasks.len(), 4);

    let other = write_dump(
        dir.path(),
        "other.zip",
        &dump_files("00000000000000ff", 0x100),
    );
    let err = Dump::open(&other, &archive)
        .err()
        .expect("another image")
        .to_string();
    assert!(
        err.contains(
            "of another image (archive 0000000000000007, dump 00000000000000ff)"
        ),
        "{err}"
    );

    let short = write_dump(dir.path(), "short.zip", &dump_files(&id, 0x10));
    let err = Dump::open(&short, &archive)
        .err()
        .expect("short RAM")
        .to_string();
    assert!(err.contains("truncated: ram/0.bin has 16 bytes"), "{err}");

    let bytes = std::fs::read(&good).expect("read");
    let cut = dir.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = Dump::open(&cut, &archive).err().expect("cut").to_string();
    assert!(err.contains("corrupt or truncated"), "{err}");

    let garbage = dir.path().join("garbage.zip");
    std::fs::write(&garbage, b"not a zip at all").expect("write");
    let err = Dump::open(&garbage, &archive)
        .err()
        .expect("garbage")
        .to_string();
    assert!(err.contains("corrupt or truncated"), "{err}");

    let mut files = dump_files(&id, 0x100);
    files[0].1 = b"{\"format\": \"core\"".to_vec();
    let bad = write_dump(dir.path(), "bad.zip", &files);
    let err = Dump::open(&bad, &archive)
        .err()
        .expect("bad json")
        .to_string();
    assert!(err.contains("malformed dump.json"), "{err}");
}

#[test]
fn archives_that_are_not_archives_say_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = test_archive(dir.path(), 7);
    let bytes = std::fs::read(archive.path()).expect("read");
    let cut = dir.path().join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).expect("write");
    let err = Archive::open(&cut).err().expect("cut").to_string();
    assert!(
        err.contains("is not an image archive (corrupt or truncated"),
        "{err}"
    );

    let empty = zip_file(dir.path(), "empty.zip", &[("README.TXT", b"hi")]);
    let err = Archive::open(&empty).err().expect("empty").to_string();
    assert!(err.contains("no manifest.json"), "{err}");

    let bad = zip_file(dir.path(), "bad.zip", &[("manifest.json", b"{}")]);
    let err = Archive::open(&bad).err().expect("bad").to_string();
    assert!(err.contains("manifest.json is malformed"), "{err}");

    let err = archive.task("nope").expect_err("unknown").to_string();
    assert_eq!(
        err,
        "unknown task \"nope\" (this image has: jefe, ice40, fpga_mgr, hiffy)"
    );
}

#[test]
fn a_missing_probe_socket_means_not_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = test_archive(dir.path(), 7);
    let sock = dir.path().join("none.sock");
    let err = crate::target::Probe::attach(&sock, &archive)
        .err()
        .expect("no socket")
        .to_string();
    assert!(
        err.starts_with("system not running: no probe socket"),
        "{err}"
    );
}

/// A fake kernel's answer to `identity`.
fn identity(image_id: &str) -> String {
    debug_protocol::wire::answer_line(&Ok(debug_protocol::wire::Identity {
        name: "unit".into(),
        image_id: image_id.into(),
        git_revision: "abc".into(),
        uptime_ms: 1,
        dump_dir: None,
    }))
    .trim_end()
    .to_owned()
}

/// A fake kernel that answers `identity` and then hangs up, as a kernel
/// that exits mid-command does.
#[test]
fn a_probe_that_goes_away_mid_command_is_a_clear_error() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = test_archive(dir.path(), 7);
    let sock = dir.path().join("k.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    let id = archive.image_id();
    let kernel = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader =
            std::io::BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("identity");
        let mut w = stream;
        writeln!(w, "{}", identity(&id)).expect("answer");
        line.clear();
        reader.read_line(&mut line).expect("tasks");
        // ...and exit without answering.
    });
    let probe = crate::target::Probe::attach(&sock, &archive).expect("attach");
    let mut target = crate::target::Target::Live(probe);
    let err = target.tasks().expect_err("closed").to_string();
    assert!(err.contains("closed the connection mid-command"), "{err}");
    kernel.join().expect("kernel thread");

    // And one for another image.
    let listener =
        std::os::unix::net::UnixListener::bind(dir.path().join("o.sock"))
            .expect("bind");
    let other = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut w = stream;
        writeln!(w, "{}", identity("00000000000000ff")).expect("answer");
    });
    let err =
        crate::target::Probe::attach(&dir.path().join("o.sock"), &archive)
            .err()
            .expect("other image")
            .to_string();
    assert_eq!(
        err,
        "archive and running image differ (archive 0000000000000007, \
         running 00000000000000ff)"
    );
    other.join().expect("other thread");
}

const MGR: &str = r#"Interface(name: "Mgr", ops: {
    "set": (
        args: {
            "device": "u8", "enable": "bool", "offset": "i16", "count": "u32",
        },
        reply: Result(ok: "u32", err: CLike("MgrError")),
    ),
})"#;

#[test]
fn arguments_encode_as_a_packed_struct_in_idol_order() {
    let iface = idol::parse(MGR, "mgr.idol").expect("parses");
    let op = &iface.ops[0];
    let given = crate::wire::parse_args(&[
        "count=0x01020304,offset=-2".into(),
        "device=7".into(),
        "enable=true".into(),
    ])
    .expect("parses");
    let bytes = crate::wire::encode_args(op, &given, None).expect("encodes");
    assert_eq!(bytes, [7, 1, 0xFE, 0xFF, 4, 3, 2, 1]);
}

#[test]
fn bad_arguments_are_named() {
    let iface = idol::parse(MGR, "mgr.idol").expect("parses");
    let op = &iface.ops[0];
    let err = |args: &[&str]| {
        let raw: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        crate::wire::parse_args(&raw)
            .and_then(|g| crate::wire::encode_args(op, &g, None))
            .expect_err("an error")
            .to_string()
    };
    assert_eq!(
        err(&["garbage"]),
        "argument \"garbage\" is not of the form name=value"
    );
    assert_eq!(
        err(&["device=1,device=2"]),
        "argument \"device\" is given twice"
    );
    assert!(
        err(&["device=256,enable=1,offset=0,count=0"])
            .contains("256 does not fit in u8")
    );
    assert!(
        err(&["device=1,enable=maybe,offset=0,count=0"])
            .contains("is not a bool")
    );
    assert!(
        err(&["device=1,enable=1,offset=0"])
            .starts_with("missing argument \"count\"")
    );
    assert!(
        err(&["device=1,enable=1,offset=0,count=1,x=2"])
            .starts_with("unknown argument \"x\"")
    );
}

#[test]
fn replies_decode_values_errors_and_deaths() {
    let iface = idol::parse(MGR, "mgr.idol").expect("parses");
    let op = &iface.ops[0];
    let decode =
        |rc, reply: &[u8]| crate::wire::decode_reply(op, rc, reply, None);
    assert_eq!(decode(0, &[42, 0, 0, 0]), "Ok(42)");
    assert_eq!(decode(3, &[]), "Err(MgrError(0x3))");
    assert_eq!(
        decode(0xFFFF_FF05, &[]),
        "Err(server died; it is now generation 5)"
    );
    assert_eq!(decode(0xFFFF_FE02, &[]), "Err(BadLease)");
}
