//! A realistic, valid app.toml (tests/data/app.toml): what it resolves to,
//! where its measured tasks are placed, and the manifest it yields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use abi::Kipcnum;
use app_config::{Config, ManifestExtras, TaskLayout, TaskUsage};
use image_manifest::{ImageManifest, InterruptRoute, Region, TaskSlot};

fn data_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/app.toml")
}

fn load_good() -> Config {
    match Config::load(data_path()) {
        Ok(c) => c,
        Err(e) => panic!("good config rejected: {e}"),
    }
}

fn region(base: u32, size: u32) -> Region {
    Region { base, size }
}

#[test]
fn good_config_resolves_names_to_indices() {
    let c = load_good();
    assert_eq!(c.name(), "demo");
    assert_eq!(c.version(), Some("0.2.0"));
    assert_eq!(c.board(), "hosted");
    assert_eq!(c.kernel().crate_name.as_deref(), Some("kern"));
    assert!(c.kernel().dump_on_fault);

    let names: Vec<_> = c.tasks().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["jefe", "spi", "pong", "ping", "idle"]);
    assert_eq!(c.supervisor().map(|t| t.name.as_str()), Some("jefe"));

    let jefe = &c.tasks()[0];
    assert_eq!(jefe.crate_name, "task-jefe");
    assert_eq!(
        jefe.kipc,
        [
            Kipcnum::ReinitTask,
            Kipcnum::FaultTask,
            Kipcnum::RevokePeripheral,
            Kipcnum::RestorePeripheral
        ]
    );
    assert_eq!(jefe.config["allowed-callers"]["restart"][0], "ping");
    assert_eq!(jefe.stacksize, 4096, "top-level default");

    let ping = c.task_by_name("ping").expect("ping");
    assert_eq!(ping.index, 3);
    let slots: Vec<_> = ping
        .task_slots
        .iter()
        .map(|s| (s.name.as_str(), s.task))
        .collect();
    assert_eq!(slots, [("pong", 2), ("peer", 1)]);
    assert!(ping.config.is_null());

    let pong = c.task_by_name("pong").expect("pong");
    assert_eq!(pong.stacksize, 2048);
    assert_eq!(pong.uses, [1]);
    assert_eq!(pong.interrupts[0].peripheral, 1);
    assert_eq!(pong.interrupts[0].mask(), 0b10);
    assert_eq!(pong.notification_mask("timer"), Some(1));

    let spi1 = c.peripheral_by_name("spi1").expect("spi1");
    assert_eq!(spi1.managed_by, Some(0));
    assert_eq!(spi1.config["cs-lines"], 2);
    assert_eq!(spi1.config["clock-hz"], 1.2e7);
    assert_eq!(c.peripherals()[1].managed_by, None);

    let blob = &c.blobs()[0];
    assert_eq!(blob.name, "blinky");
    assert_eq!(blob.size, Some(23));
    assert!(blob.resolved.ends_with("tests/data/blobs/blinky.bin"));
}

/// What a build might have measured for each task: exactly its caps, so
/// that the regions are easy to predict.
fn usage() -> Vec<TaskUsage> {
    [
        (65536, 16384),
        (32768, 8192),
        (16384, 8192),
        (16384, 8192),
        (128, 4608),
    ]
    .into_iter()
    .map(|(flash, ram)| TaskUsage { flash, ram })
    .collect()
}

fn layout(c: &Config) -> Vec<TaskLayout> {
    c.place(&usage()).expect("fits")
}

#[test]
fn good_config_is_placed_at_fixed_addresses() {
    let c = load_good();
    let guard = abi::HOSTED_GUARD_SIZE;
    assert_eq!(guard, 0x1_0000, "the addresses below assume 64 KiB");
    let expect = [
        // jefe: 64 KiB flash, 16 KiB RAM, first RAM region above a guard.
        (
            region(0x1000_0000, 0x1_0000),
            region(0x4001_0000, 0x4000),
            4096,
        ),
        // spi: flash after a 4 KiB gap; RAM after the next guard.
        (
            region(0x1001_1000, 0x8000),
            region(0x4002_4000, 0x2000),
            4096,
        ),
        (
            region(0x1001_A000, 0x4000),
            region(0x4003_6000, 0x2000),
            2048,
        ),
        (
            region(0x1001_F000, 0x4000),
            region(0x4004_8000, 0x2000),
            4096,
        ),
        // idle: 128 bytes of flash and 4608 of RAM round up to pages; its
        // 200-byte stack rounds up to 16.
        (
            region(0x1002_4000, 0x1000),
            region(0x4005_A000, 0x2000),
            208,
        ),
    ];
    let layout = layout(&c);
    assert_eq!(layout.len(), expect.len());
    for (i, (flash, ram, stack)) in expect.into_iter().enumerate() {
        let want = TaskLayout {
            flash,
            ram,
            stack: region(ram.base, stack),
        };
        assert_eq!(layout[i], want, "task {i}");
    }
}

fn extras() -> ManifestExtras {
    ManifestExtras {
        git_revision: "0123abcd-dirty".into(),
        image_id: 0xfeed_f00d,
        fallback_version: "9.9.9".into(),
        elf_paths: BTreeMap::from([(
            "idle".to_owned(),
            "elf/task/idle-custom".to_owned(),
        )]),
        serves: BTreeMap::from([("pong".to_owned(), vec!["Pong".to_owned()])]),
        blob_sizes: BTreeMap::new(),
    }
}

#[test]
fn manifest_round_trips_through_json() {
    let c = load_good();
    let m = c.to_manifest(&layout(&c), extras());
    let back = ImageManifest::from_json(&m.to_json()).expect("valid json");
    assert_eq!(back, m);

    assert_eq!(m.version, "0.2.0");
    assert_eq!(m.git_revision, "0123abcd-dirty");
    assert_eq!(m.image_id, 0xfeed_f00d);
    assert!(m.kernel.dump_on_fault);
    assert_eq!(m.kernel.features, ["trace"]);

    let spi = &m.tasks[1];
    assert_eq!(spi.index, 1);
    assert_eq!(spi.elf, "elf/task/spi");
    assert_eq!(spi.uses, [0]);
    assert_eq!(
        spi.task_slots,
        [TaskSlot {
            name: "sys".into(),
            task: 0
        }]
    );
    assert_eq!(
        spi.interrupts,
        [InterruptRoute {
            irq: "spi1.irq".into(),
            peripheral: 0,
            line: "irq".into(),
            mask: 1,
        }]
    );
    assert_eq!(m.tasks[2].interrupts[0].mask, 0b10);
    assert_eq!(m.tasks[2].serves, ["Pong"]);
    assert_eq!(m.tasks[4].elf, "elf/task/idle-custom");
    assert_eq!(m.tasks[4].stack, region(0x4005_A000, 208));
    assert_eq!(
        m.tasks[0].kipc,
        [
            "reinit_task",
            "fault_task",
            "revoke_peripheral",
            "restore_peripheral"
        ]
    );
    assert_eq!(m.peripherals[0].managed_by, Some(0));
    assert_eq!(m.blobs[0].path, "blob/blinky");
    assert_eq!(m.blobs[0].size, 23, "size found by load");
}

#[test]
fn parse_neither_reads_blobs_nor_needs_a_version() {
    let text = std::fs::read_to_string(data_path()).expect("read");
    let text = text.replace("version = \"0.2.0\"\n", "");
    let c = Config::parse(&text, "/nonexistent/app.toml").expect("valid");
    assert_eq!(c.version(), None);
    assert_eq!(c.blobs()[0].size, None);
    assert_eq!(
        c.blobs()[0].resolved,
        Path::new("/nonexistent/blobs/blinky.bin")
    );
    let mut x = extras();
    x.blob_sizes.insert("blinky".into(), 7);
    let m = c.to_manifest(&layout(&c), x);
    assert_eq!(m.version, "9.9.9");
    assert_eq!(m.blobs[0].size, 7);
}

#[test]
fn load_reports_a_missing_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.toml");
    std::fs::copy(data_path(), &path).expect("copy");
    let err = Config::load(&path).expect_err("blob is missing");
    let blob = dir.path().join("blobs/blinky.bin");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: blobs.blinky: cannot read {}: No such file or directory \
             (os error 2)",
            path.display(),
            blob.display()
        )
    );
}

#[test]
fn load_reports_a_missing_file() {
    let err = Config::load("/nonexistent/app.toml").expect_err("missing");
    assert_eq!(
        err.to_string(),
        "cannot read /nonexistent/app.toml: No such file or directory \
         (os error 2)"
    );
}
