//! `cargo xtask dist` end to end on the demo tasks: the archive's entries,
//! its manifest, a patched task slot, and a task too big for its
//! `max-sizes`.
//!
//! These build real tasks and the kernel in the workspace's `target/`, so
//! the first run takes a minute; later runs reuse cargo's cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image_manifest::ImageManifest;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where xtask builds: `CARGO_TARGET_DIR` if set, else `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        Some(d) if !d.is_empty() => root().join(d),
        _ => root().join("target"),
    }
}

fn dist(app_toml: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("dist")
        .arg(app_toml)
        .output()
        .expect("xtask runs")
}

fn entry(zip: &mut zip::ZipArchive<std::fs::File>, name: &str) -> Vec<u8> {
    let mut file = zip.by_name(name).expect(name);
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).expect("read entry");
    bytes
}

#[test]
fn dist_writes_an_archive_with_every_part_and_a_patched_slot() {
    let out = dist(&fixture("pingpong.toml"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("xtask-e2e/dist/build-xtask-e2e.zip"),
        "{stderr}"
    );

    let path = target_dir().join("xtask-e2e/dist/build-xtask-e2e.zip");
    let file = std::fs::File::open(&path).expect("archive exists");
    let mut zip = zip::ZipArchive::new(file).expect("a zip");
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| Some(n.ok()?.into_owned()))
        .collect();
    for name in ["app.toml", "manifest.json", "README.TXT", "elf/kernel"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let app = entry(&mut zip, "app.toml");
    let given = std::fs::read(fixture("pingpong.toml")).expect("fixture");
    assert_eq!(app, given, "app.toml is stored verbatim");

    let json = entry(&mut zip, "manifest.json");
    let text = String::from_utf8(json).expect("UTF-8");
    let manifest = ImageManifest::from_json(&text).expect("a manifest");
    let tasks: Vec<&str> = manifest.tasks.iter().map(|t| &*t.name).collect();
    assert_eq!(tasks, ["sup", "pong", "ping", "idle"]);
    assert_ne!(manifest.image_id, 0);
    for task in &manifest.tasks {
        assert!(names.contains(&task.elf), "{} in {names:?}", task.elf);
    }

    // ping's one slot, `pong`, now holds pong's index, 1.
    let elf = entry(&mut zip, "elf/task/ping");
    let file = object::File::parse(&*elf).expect("an ELF");
    use object::{Object, ObjectSection};
    let table = file.section_by_name(".task_slot_table").expect("slots");
    let data = table.data().expect("slot data");
    assert_eq!(&data[..2], &1u16.to_le_bytes());
    assert_eq!(&data[4..8], b"pong");
}

#[test]
fn a_task_over_its_flash_cap_is_one_line_naming_it_and_both_numbers() {
    // A variant of the fixture, written the way a user would: it
    // inherits everything and caps one task's flash below what it needs.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.toml");
    let text = format!(
        "inherit = {:?}\nname = \"xtask-e2e-big\"\n\
         [tasks.ping]\nmax-sizes = {{flash = 4096}}\n",
        fixture("pingpong.toml").display().to_string()
    );
    std::fs::write(&path, text).expect("write");
    let out = dist(&path);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or("");
    let prefix = format!(
        "error: {}: tasks.ping.max-sizes.flash: task ping needs ",
        path.display()
    );
    assert!(
        last.starts_with(&prefix)
            && last.ends_with(" bytes of flash, over its cap of 4096"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unknown_peripheral_model_is_one_line_naming_the_key_and_the_models() {
    // A misspelled FPGA model (the 35T without its `t`) used to pass dist
    // and fail at boot.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.toml");
    let text = format!(
        "inherit = {:?}\nname = \"xtask-e2e-model\"\n\
         [peripherals.fpga0]\nmodel = \"xc7a35\"\n",
        fixture("pingpong.toml").display().to_string()
    );
    std::fs::write(&path, text).expect("write");
    let out = dist(&path);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> =
        stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    let prefix = format!(
        "error: {}: peripherals.fpga0.model: unknown model \"xc7a35\"; \
         the hosted board's models are spi-controller, gpio,",
        path.display()
    );
    assert!(errors[0].starts_with(&prefix), "{stderr}");
    assert!(errors[0].contains("xc7a35t"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// One row of `cargo xtask sizes`: the task name and its numbers (`auto`
/// caps as `None`).
fn sizes_rows(stdout: &str) -> Vec<(String, Vec<Option<u64>>)> {
    let mut lines = stdout.lines();
    let header: Vec<&str> =
        lines.next().expect("header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "TASK", "TEXT", "RODATA", "DATA", "BSS", "STACK", "FLASH",
            "REGION", "CAP", "RAM", "REGION", "CAP"
        ]
    );
    lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let mut cells = l.split_whitespace();
            let name = cells.next().expect("name").to_owned();
            (name, cells.map(|c| c.parse().ok()).collect())
        })
        .collect()
}

/// The end of the last allocated section inside `[base, base + size)`,
/// less `base`: how much of the region the ELF fills.
fn extent(file: &object::File<'_>, base: u32, size: u32) -> u64 {
    use object::{Object, ObjectSection};
    let (base, end) = (u64::from(base), u64::from(base) + u64::from(size));
    file.sections()
        .filter(|s| s.address() >= base && s.address() < end && s.size() > 0)
        .map(|s| s.address() + s.size() - base)
        .max()
        .unwrap_or(0)
}

#[test]
fn sizes_match_the_elf_sections_and_the_manifest() {
    let app = fixture("sizes.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("sizes")
        .arg(&app)
        .output()
        .expect("xtask runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows = sizes_rows(&stdout);

    let path = target_dir().join("xtask-sizes/dist/build-xtask-sizes.zip");
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(&path).expect("archive"))
            .expect("a zip");
    let json =
        String::from_utf8(entry(&mut zip, "manifest.json")).expect("UTF-8");
    let manifest = ImageManifest::from_json(&json).expect("a manifest");
    assert_eq!(rows.len(), manifest.tasks.len() + 1, "{stdout}");
    let mut sum = [0u64; 5];
    for (task, (name, n)) in manifest.tasks.iter().zip(&rows) {
        assert_eq!(&task.name, name);
        let elf = entry(&mut zip, &task.elf);
        let file = object::File::parse(&*elf).expect("an ELF");
        use object::{Object, ObjectSection};
        let section = |s: &str| file.section_by_name(s).map_or(0, |s| s.size());
        let want = [
            Some(section(".text")),
            Some(section(".rodata")),
            Some(section(".data")),
            Some(section(".bss")),
            Some(u64::from(task.stack.size)),
            Some(extent(&file, task.flash.base, task.flash.size)),
            Some(u64::from(task.flash.size)),
        ];
        assert_eq!(&n[..7], &want, "{name}: {stdout}");
        assert_eq!(
            n[8],
            Some(extent(&file, task.ram.base, task.ram.size)),
            "{name}"
        );
        assert_eq!(n[9], Some(u64::from(task.ram.size)), "{name}");
        // The region is what the task uses, page-rounded.
        assert_eq!(
            u64::from(task.flash.size),
            want[5].unwrap().div_ceil(4096) * 4096
        );
        for (i, v) in [0, 1, 2, 3, 4].into_iter().zip(&mut sum) {
            *v += n[i].unwrap_or(0);
        }
    }
    // The caps are app.toml's: pong has both, the others none.
    let pong = &rows[1].1;
    assert_eq!((pong[7], pong[10]), (Some(16384), Some(8192)));
    let sup = &rows[0].1;
    assert_eq!((sup[7], sup[10]), (None, None));
    let total = &rows.last().expect("totals").1;
    assert_eq!(&total[..5], sum.map(Some).as_slice());
    assert!(stdout.contains("tasks.pong.max-sizes.flash = "), "{stdout}");
}
