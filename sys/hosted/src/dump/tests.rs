//! The dump directory's promises (see the module docs), tried against a
//! real directory: no dump replaces a file, dumps are owner-only, a link is
//! not followed, a crash loop is capped, and the directory is the one
//! opened at boot.

use super::*;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("hosted-dump-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    d
}

fn fill_with(bytes: &'static [u8]) -> impl FnOnce(std::fs::File) -> Result<()> {
    move |mut f| {
        use std::io::Write;
        f.write_all(bytes)?;
        Ok(())
    }
}

#[test]
fn dumps_never_replace_a_file_even_across_boots() {
    let d = scratch("noreplace");
    let mut first = DumpDir::open(&d, "img", 2).unwrap();
    let a = first.write(Cause::Task(0), None, fill_with(b"a")).unwrap();
    // A second boot in the same second starts from the same name.
    let mut second = DumpDir::open(&d, "img", 2).unwrap();
    second.stem = first.stem.clone();
    let b = second.write(Cause::Task(0), None, fill_with(b"b")).unwrap();
    assert_ne!(a, b);
    assert_eq!(std::fs::read(&a).unwrap(), b"a");
    assert_eq!(std::fs::read(&b).unwrap(), b"b");
    // A requested name that exists is refused, and the file is intact.
    std::fs::write(d.join("mine"), b"precious").unwrap();
    let e = second.write(Cause::Debugger, Some("mine"), fill_with(b"x"));
    assert!(e.unwrap_err().contains("never replaces"));
    assert_eq!(std::fs::read(d.join("mine")).unwrap(), b"precious");
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn dumps_are_owner_only_and_names_cannot_climb() {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch("private");
    let mut dumps = DumpDir::open(&d, "img", 1).unwrap();
    let p = dumps
        .write(Cause::Debugger, Some("a.dump"), fill_with(b"x"))
        .unwrap();
    let mode = std::fs::metadata(&p).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    for bad in ["../escape", "/tmp/x", "..", ".hidden", "a/b"] {
        let e = dumps.write(Cause::Debugger, Some(bad), fill_with(b"x"));
        assert!(e.unwrap_err().contains("not a plain file name"), "{bad}");
    }
    assert!(!d.parent().unwrap().join("escape").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_symlink_at_a_requested_name_is_not_followed_or_replaced() {
    let d = scratch("symlink");
    let target = d.join("target");
    std::fs::write(&target, b"keep").unwrap();
    std::os::unix::fs::symlink(&target, d.join("link.dump")).unwrap();
    let mut dumps = DumpDir::open(&d, "img", 1).unwrap();
    let e = dumps.write(Cause::Debugger, Some("link.dump"), fill_with(b"x"));
    assert!(e.is_err());
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert!(
        std::fs::symlink_metadata(d.join("link.dump"))
            .unwrap()
            .is_symlink()
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_crash_loop_is_capped_per_task_and_per_run() {
    let d = scratch("caps");
    let mut dumps = DumpDir::open(&d, "img", 2).unwrap();
    let mut written = 0;
    for _ in 0..MAX_PER_TASK + 5 {
        if dumps.write(Cause::Task(1), None, fill_with(b"x")).is_ok() {
            written += 1;
        }
    }
    assert_eq!(written, MAX_PER_TASK);
    // Another task is still dumped.
    assert!(dumps.write(Cause::Task(0), None, fill_with(b"x")).is_ok());
    while dumps.write(Cause::Debugger, None, fill_with(b"x")).is_ok() {}
    assert_eq!(dumps.total, MAX_PER_RUN);
    let files = std::fs::read_dir(&d).unwrap().count();
    assert_eq!(files, MAX_PER_RUN as usize);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_directory_is_the_one_opened_at_boot() {
    let d = scratch("moved");
    let mut dumps = DumpDir::open(&d, "img", 1).unwrap();
    // Someone moves the directory away and puts a link in its place.
    let moved = d.with_extension("old");
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(&d, &moved).unwrap();
    let elsewhere = scratch("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, &d).unwrap();
    dumps
        .write(Cause::Debugger, Some("x.dump"), fill_with(b"x"))
        .unwrap();
    assert!(moved.join("x.dump").is_file());
    assert!(!elsewhere.join("x.dump").exists());
    std::fs::remove_file(&d).unwrap();
    std::fs::remove_dir_all(&moved).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}
