//! Golden tests: each fixture in `test/idol-golden/fixtures` must generate
//! exactly the checked-in `test/idol-golden/expected/<name>.client.rs` and
//! `<name>.server.rs`.
//!
//! After an intended change to the generator, regenerate them with
//! `IDOL_BLESS=1 cargo test -p idol --test golden` and review the diff.

use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/idol-golden")
}

/// Compares `actual` with the expected file, or rewrites it when blessing.
fn compare(expected_path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("IDOL_BLESS").is_some() {
        std::fs::write(expected_path, actual).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(expected_path).map_err(|e| {
        format!("{}: {e} (run with IDOL_BLESS=1)", expected_path.display())
    })?;
    if expected == actual {
        return Ok(());
    }
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| {
            expected.lines().count().min(actual.lines().count())
        });
    Err(format!(
        "{} differs from the generated code from line {}:\n  expected: \
         {:?}\n  actual:   {:?}\n(IDOL_BLESS=1 regenerates it)",
        expected_path.display(),
        line + 1,
        expected.lines().nth(line).unwrap_or("<end of file>"),
        actual.lines().nth(line).unwrap_or("<end of file>"),
    ))
}

#[test]
fn every_fixture_generates_its_expected_code() {
    let dir = golden_dir();
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(dir.join("fixtures"))
        .expect("fixtures directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "idol"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 4, "fixtures missing: {fixtures:?}");

    let mut failures = Vec::new();
    for fixture in &fixtures {
        let stem = fixture.file_stem().unwrap().to_string_lossy();
        let iface = match idol::load(fixture) {
            Ok(iface) => iface,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        let client = idol::client::generate_client_stub(&iface).unwrap();
        let server = idol::server::generate_server_support(
            &iface,
            idol::ServerStyle::InOrder,
        )
        .unwrap();
        let expected = dir.join("expected");
        for (suffix, code) in [("client", client), ("server", server)] {
            let path = expected.join(format!("{stem}.{suffix}.rs"));
            if let Err(e) = compare(&path, &code) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn generate_all_has_both_halves_under_headers() {
    let all =
        idol::generate_all(golden_dir().join("fixtures/spi.idol")).unwrap();
    let client = all.find("// Client stub for `Spi`").unwrap();
    let server = all.find("// Server support for `Spi`").unwrap();
    assert!(client < server);
    assert!(all.contains("pub struct Spi {"));
    assert!(all.contains("pub trait InOrderSpiImpl {"));
}

/// Type-checks the generated code of every fixture against the real
/// `userlib` and `idol-runtime`, for the task target. The check crate is
/// its own workspace; it gets a target directory of its own inside ours,
/// so it never waits on the lock of the `cargo test` that runs it.
#[test]
fn generated_code_compiles_for_the_task_target() {
    let manifest = golden_dir().join("compile-check/Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
    .join("idol-compile-check");
    let status = std::process::Command::new(cargo)
        .args(["check", "--quiet", "--target", "x86_64-unknown-none"])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "{} does not compile", manifest.display());
}
