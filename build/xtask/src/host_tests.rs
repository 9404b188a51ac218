//! The host half of `cargo xtask test`: every `cargo test` run the
//! workspace needs, counted per test binary.
//!
//! Plain `cargo test` covers only the default members, so it would skip
//! two kinds of tests that exist (and once did skip them, silently):
//!
//! - the libraries of task crates (the FPGA manager's load state machine,
//!   the 7-series driver's header rules), which build for the host but are
//!   not default members because their binaries are freestanding. Any
//!   non-default member whose library holds a `#[test]` is run with
//!   `--lib`, so a new one cannot be forgotten;
//! - tests behind a feature (`ringbuf`'s `disabled` build), listed in
//!   [`FEATURE_RUNS`].
//!
//! Every run reports per binary, and an integration test file
//! (`tests/*.rs`) that ran no test in any run fails the whole command: a
//! test crate that runs nothing is a bug, not a pass.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::cargo::Workspace;
use crate::test::Tally;

/// Test runs behind a feature: `(package, feature, test target)`.
const FEATURE_RUNS: &[(&str, &str, &str)] = &[
    // With `disabled`, ring buffers compile to nothing but counters stay.
    ("ringbuf", "disabled", "disabled"),
];

/// One test binary's results, summed over every run that ran it.
#[derive(Clone, Debug, Default)]
struct Binary {
    package: String,
    /// `lib`, `bin`, `test` (an integration test file) or `doc`.
    kind: String,
    name: String,
    tally: Tally,
    ignored: u64,
}

/// Runs every host test; returns the sum and whether all runs succeeded.
pub fn run() -> Result<(Tally, bool)> {
    let ws = Workspace::new(crate::workspace_root());
    let task_libs = task_libraries_with_tests(&ws)?;
    let mut runs: Vec<Vec<String>> = vec![Vec::new()];
    if !task_libs.is_empty() {
        let mut args = vec!["--lib".to_owned()];
        for package in &task_libs {
            args.extend(["-p".to_owned(), package.clone()]);
        }
        runs.push(args);
    }
    for (package, feature, test) in FEATURE_RUNS {
        runs.push(
            ["-p", package, "--features", feature, "--test", test]
                .map(str::to_owned)
                .to_vec(),
        );
    }

    let mut binaries: BTreeMap<String, Binary> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut all_ok = true;
    for args in &runs {
        let (results, ok) = cargo_test(&ws, args)?;
        all_ok &= ok;
        for (key, binary) in results {
            let entry = binaries.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                Binary {
                    tally: Tally::default(),
                    ignored: 0,
                    ..binary.clone()
                }
            });
            entry.tally.add(binary.tally);
            entry.ignored += binary.ignored;
        }
    }

    let mut total = Tally::default();
    println!("host tests by binary (passed, failed):");
    for key in &order {
        let b = &binaries[key];
        total.add(b.tally);
        // Most crates have no doc tests; a row per crate saying so is noise.
        if b.kind == "doc" && b.tally.passed + b.tally.failed == 0 {
            continue;
        }
        println!(
            "  {:>4} {:>2}  {} {} {}",
            b.tally.passed, b.tally.failed, b.package, b.kind, b.name
        );
    }
    for b in ran_nothing(binaries.values()) {
        eprintln!(
            "error: test file {} of {} ran no test (in any run)",
            b.name, b.package
        );
        all_ok = false;
        total.failed += 1;
    }
    println!(
        "host tests: {} passed, {} failed in {} binaries, {} cargo runs",
        total.passed,
        total.failed,
        binaries.len(),
        runs.len()
    );
    if !all_ok && total.failed == 0 {
        total.failed = 1;
    }
    Ok((total, all_ok))
}

/// Integration test files that ran no test: ignored tests do not count,
/// and libraries or binaries without tests are allowed.
fn ran_nothing<'a>(
    binaries: impl Iterator<Item = &'a Binary>,
) -> impl Iterator<Item = &'a Binary> {
    binaries
        .filter(|b| b.kind == "test" && b.tally.passed + b.tally.failed == 0)
}

/// Non-default workspace members whose library has a `#[test]`.
pub fn task_libraries_with_tests(ws: &Workspace) -> Result<Vec<String>> {
    let out = ws
        .cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    let meta: Metadata = serde_json::from_slice(&out.stdout)
        .context("cannot parse the output of cargo metadata")?;
    let mut found = Vec::new();
    for package in &meta.packages {
        if meta.workspace_default_members.contains(&package.id) {
            continue;
        }
        let lib = package
            .targets
            .iter()
            .find(|t| t.kind.iter().any(|k| k == "lib"));
        let Some(dir) = lib.and_then(|t| Path::new(&t.src_path).parent())
        else {
            continue;
        };
        if tree_has_test(dir) {
            found.push(package.name.clone());
        }
    }
    Ok(found)
}

/// Whether any `.rs` file under `dir` declares a `#[test]`.
fn tree_has_test(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|e| {
        let path = e.path();
        if path.is_dir() {
            tree_has_test(&path)
        } else {
            path.extension().is_some_and(|x| x == "rs")
                && std::fs::read_to_string(&path)
                    .is_ok_and(|text| text.contains("#[test]"))
        }
    })
}

/// One `cargo test --no-fail-fast <args>`, echoing its output; returns
/// each binary's results by key and whether cargo succeeded.
///
/// Cargo names each binary on stderr (`Running tests/x.rs (path)`,
/// `Doc-tests crate`) and the binary writes its `test result:` line on
/// stdout. The two pipes are read apart, so lines are not interleaved by
/// time: instead the n-th header goes with the n-th result, which holds
/// because cargo runs the binaries one after another and each prints
/// exactly one result. The JSON build messages on stdout say which
/// package and target each executable belongs to.
fn cargo_test(
    ws: &Workspace,
    args: &[String],
) -> Result<(Vec<(String, Binary)>, bool)> {
    let mut child = ws
        .cargo()
        .args([
            "test",
            "--no-fail-fast",
            "--message-format=json-render-diagnostics",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let stderr = child.stderr.take().context("cargo test stderr")?;
    let headers = std::thread::spawn(move || {
        let mut headers = Vec::new();
        let mut err = std::io::stderr();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(err, "{line}");
            if let Some(header) = binary_header(&line) {
                headers.push(header);
            }
        }
        headers
    });
    let stdout = child.stdout.take().context("cargo test stdout")?;
    let mut artifacts: BTreeMap<String, (String, String, String)> =
        BTreeMap::new();
    let mut results = Vec::new();
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(artifact) = test_artifact(&line) {
            artifacts.insert(artifact.0, (artifact.1, artifact.2, artifact.3));
            continue;
        }
        if line.starts_with('{') && line.contains("\"reason\"") {
            continue;
        }
        let _ = writeln!(out, "{line}");
        if let Some(result) = cargo_test_result(&line) {
            results.push(result);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    let headers = headers.join().unwrap_or_default();
    if headers.len() != results.len() {
        // A binary that crashed prints no result; cargo fails then, and
        // the per-binary table would be misattributed.
        eprintln!(
            "error: cargo test named {} test binaries but {} reported",
            headers.len(),
            results.len()
        );
        return Ok((Vec::new(), false));
    }
    let binaries = headers
        .into_iter()
        .zip(results)
        .map(|(header, (tally, ignored))| {
            let (package, kind, name) = match &header {
                Header::Doc(krate) => {
                    (krate.clone(), "doc".to_owned(), String::new())
                }
                Header::Exe { file, src } => {
                    artifacts.get(file).cloned().unwrap_or_else(|| {
                        (file.clone(), "?".to_owned(), src.clone())
                    })
                }
            };
            let key = match &header {
                Header::Doc(krate) => format!("doc {krate}"),
                Header::Exe { .. } => format!("{package} {kind} {name}"),
            };
            let binary = Binary {
                package,
                kind,
                name,
                tally,
                ignored,
            };
            (key, binary)
        })
        .collect();
    Ok((binaries, status.success()))
}

/// A test binary as cargo announces it on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Header {
    /// `Running <src> (<dir>/<file>)`: the executable's file name.
    Exe { file: String, src: String },
    /// `Doc-tests <crate>`.
    Doc(String),
}

fn binary_header(line: &str) -> Option<Header> {
    let line = line.trim();
    if let Some(krate) = line.strip_prefix("Doc-tests ") {
        return Some(Header::Doc(krate.trim().to_owned()));
    }
    let rest = line.strip_prefix("Running ")?;
    let (src, exe) = rest.rsplit_once(" (")?;
    let exe = exe.strip_suffix(')')?;
    let file = Path::new(exe).file_name()?.to_string_lossy().into_owned();
    let src = src.strip_prefix("unittests ").unwrap_or(src).to_owned();
    Some(Header::Exe { file, src })
}

/// A `compiler-artifact` message for a test executable: its file name,
/// package, target kind and target name.
fn test_artifact(line: &str) -> Option<(String, String, String, String)> {
    if !line.starts_with('{') {
        return None;
    }
    let message: Artifact = serde_json::from_str(line).ok()?;
    if message.reason != "compiler-artifact" {
        return None;
    }
    let exe = message.executable?;
    let file = Path::new(&exe).file_name()?.to_string_lossy().into_owned();
    let package = package_name(&message.package_id);
    let kind = message.target.kind.first()?.clone();
    Some((file, package, kind, message.target.name))
}

/// The package name in a package id: `path+file:///dir#name@0.1.0`,
/// or `path+file:///dir/name#0.1.0` when the directory names it.
fn package_name(id: &str) -> String {
    let (path, fragment) = id.rsplit_once('#').unwrap_or((id, ""));
    match fragment.split_once('@') {
        Some((name, _)) => name.to_owned(),
        None => path.rsplit('/').next().unwrap_or(path).to_owned(),
    }
}

/// `test result: ok. 3 passed; 0 failed; 1 ignored; ...`: the tally and
/// the ignored count.
pub fn cargo_test_result(line: &str) -> Option<(Tally, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut parts = counts.split("; ");
    let passed = parts.next()?.strip_suffix(" passed")?.parse().ok()?;
    let failed = parts.next()?.strip_suffix(" failed")?.parse().ok()?;
    let ignored = parts
        .next()
        .and_then(|p| p.strip_suffix(" ignored"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Some((Tally { passed, failed }, ignored))
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
    #[serde(default)]
    workspace_default_members: Vec<String>,
}

#[derive(Deserialize)]
struct MetaPackage {
    id: String,
    name: String,
    targets: Vec<MetaTarget>,
}

#[derive(Deserialize)]
struct MetaTarget {
    kind: Vec<String>,
    src_path: String,
}

#[derive(Deserialize)]
struct Artifact {
    reason: String,
    #[serde(default)]
    package_id: String,
    #[serde(default)]
    executable: Option<String>,
    target: ArtifactTarget,
}

#[derive(Deserialize)]
struct ArtifactTarget {
    name: String,
    kind: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_summaries_give_passed_failed_and_ignored() {
        let ok = "test result: ok. 12 passed; 0 failed; 1 ignored; 0 \
                  measured; 0 filtered out; finished in 0.01s";
        let bad = "test result: FAILED. 3 passed; 2 failed; 0 ignored";
        let t = |passed, failed| Tally { passed, failed };
        assert_eq!(cargo_test_result(ok), Some((t(12, 0), 1)));
        assert_eq!(cargo_test_result(bad), Some((t(3, 2), 0)));
        assert_eq!(cargo_test_result("running 3 tests"), None);
    }

    #[test]
    fn only_a_test_file_that_ran_nothing_is_reported() {
        let binary = |kind: &str, passed, ignored| Binary {
            package: "p".into(),
            kind: kind.into(),
            name: format!("{kind}{passed}{ignored}"),
            tally: Tally { passed, failed: 0 },
            ignored,
        };
        let all = [
            binary("test", 3, 0),
            binary("test", 0, 0),
            binary("test", 0, 2),
            binary("lib", 0, 0),
            binary("doc", 0, 0),
        ];
        let names: Vec<&str> =
            ran_nothing(all.iter()).map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["test00", "test02"]);
    }

    #[test]
    fn headers_name_the_executable_or_the_doc_crate() {
        assert_eq!(
            binary_header(
                "     Running tests/live.rs (target/debug/deps/live-0c1a2407ef400d4a)"
            ),
            Some(Header::Exe {
                file: "live-0c1a2407ef400d4a".into(),
                src: "tests/live.rs".into()
            })
        );
        assert_eq!(
            binary_header(
                "     Running unittests src/lib.rs (/t/debug/deps/abi-01de)"
            ),
            Some(Header::Exe {
                file: "abi-01de".into(),
                src: "src/lib.rs".into()
            })
        );
        assert_eq!(
            binary_header("   Doc-tests ringbuf"),
            Some(Header::Doc("ringbuf".into()))
        );
        assert_eq!(binary_header("   Compiling abi v0.1.0"), None);
        assert_eq!(binary_header("error: test failed"), None);
    }

    #[test]
    fn artifacts_map_executables_to_package_and_target() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/lib/ringbuf#0.1.0","target":{"kind":["test"],"name":"disabled","src_path":"/w/lib/ringbuf/tests/disabled.rs"},"executable":"/w/target/debug/deps/disabled-9883","fresh":true}"#;
        assert_eq!(
            test_artifact(line),
            Some((
                "disabled-9883".into(),
                "ringbuf".into(),
                "test".into(),
                "disabled".into()
            ))
        );
        let named = "path+file:///w/test/idol-api#test-idol-api@0.1.0";
        assert_eq!(package_name(named), "test-idol-api");
        let library = r#"{"reason":"compiler-artifact","package_id":"x#a@1","target":{"kind":["lib"],"name":"a"},"executable":null}"#;
        assert_eq!(test_artifact(library), None);
        assert_eq!(test_artifact("test x ... ok"), None);
    }
}
