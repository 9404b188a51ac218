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
fn a_task_over_its_flash_size_is_one_line_naming_it() {
    let text = std::fs::read_to_string(fixture("pingpong.toml"))
        .expect("fixture")
        .replace("\"xtask-e2e\"", "\"xtask-e2e-big\"")
        .replace(
            "priority = 2\nstart = true\nmax-sizes = {flash = 16384",
            "priority = 2\nstart = true\nmax-sizes = {flash = 4096",
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.toml");
    std::fs::write(&path, text).expect("write");
    let out = dist(&path);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: task ping: flash use ")
            && last.ends_with(" bytes exceeds max-sizes.flash 4096"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
