//! `inherit`: a derived app.toml overrides, adds and removes what its base
//! says, and every error names the file the offending key came from.
//!
//! Each test writes a base and a derived file into a temporary directory
//! and loads the derived one, as `cargo xtask dist` would.

use std::path::{Path, PathBuf};

use app_config::Config;

const BASE: &str = r#"
name = "base"
board = "hosted"
stacksize = 1024

[kernel]
features = ["a"]

[tasks.jefe]
name = "task-jefe"
priority = 0
start = true
notifications = ["fault", "timer"]
config = { tasks-to-hold = ["ping"], on-task-fault = { ping = "hey" } }

[tasks.pong]
name = "task-pong"
priority = 1
max-sizes = {flash = 8192, ram = 8192}

[tasks.ping]
name = "task-ping"
priority = 2
notifications = ["hey"]
task-slots = ["pong"]
features = ["loud"]

[tasks.idle]
name = "task-idle"
priority = 5

[peripherals.spi]
model = "spi-controller"
"#;

/// Writes `files` (name, text) into a fresh directory.
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn load(dir: &Path, name: &str) -> Result<Config, String> {
    Config::load(dir.join(name)).map_err(|e| e.to_string())
}

fn derived(text: &str) -> (tempfile::TempDir, Result<Config, String>) {
    let dir = dir_with(&[("base.toml", BASE), ("app.toml", text)]);
    let result = load(dir.path(), "app.toml");
    (dir, result)
}

/// The error for `text`, with the temporary directory replaced by `<dir>`.
fn derived_error(text: &str) -> String {
    let (dir, result) = derived(text);
    let err = result.expect_err("the derived file is rejected");
    err.replace(&dir.path().display().to_string(), "<dir>")
}

fn task_names(c: &Config) -> Vec<&str> {
    c.tasks().iter().map(|t| t.name.as_str()).collect()
}

#[test]
fn a_file_with_only_inherit_is_its_base() {
    let (_dir, c) = derived("inherit = \"base.toml\"\n");
    let c = c.expect("valid");
    assert_eq!(c.name(), "base");
    assert_eq!(task_names(&c), ["jefe", "pong", "ping", "idle"]);
    assert_eq!(c.source_files().len(), 2);
}

#[test]
fn scalars_override_and_tables_merge_key_by_key() {
    let (_dir, c) = derived(
        r#"
inherit = "base.toml"
name = "derived"

[kernel]
dump-on-fault = true

[tasks.ping]
priority = 3
start = true

[tasks.jefe.config]
tasks-to-hold = ["pong"]
on-task-fault = { pong = "hey" }
"#,
    );
    let c = c.expect("valid");
    assert_eq!(c.name(), "derived");
    assert!(c.kernel().dump_on_fault);
    assert_eq!(c.kernel().features, ["a"], "the base's kernel key stays");
    let ping = c.task_by_name("ping").expect("ping");
    assert_eq!(ping.priority, 3);
    assert!(ping.start);
    assert_eq!(ping.crate_name, "task-ping", "unnamed fields stay");
    assert_eq!(ping.features, ["loud"]);
    let jefe = &c.tasks()[0].config;
    assert_eq!(jefe["tasks-to-hold"], serde_json::json!(["pong"]));
    // on-task-fault is a table in both files: merged, not replaced.
    assert_eq!(jefe["on-task-fault"]["ping"], "hey");
    assert_eq!(jefe["on-task-fault"]["pong"], "hey");
}

#[test]
fn arrays_replace_the_base_array_whole() {
    let (_dir, c) = derived(
        "inherit = \"base.toml\"\n[tasks.ping]\nfeatures = []\n\
         task-slots = [{peer = \"pong\"}]\n",
    );
    let c = c.expect("valid");
    let ping = c.task_by_name("ping").expect("ping");
    assert!(ping.features.is_empty());
    assert_eq!(ping.task_slots.len(), 1);
    assert_eq!(ping.task_slots[0].name, "peer");
}

#[test]
fn new_tasks_are_added_after_the_base_ones() {
    let (_dir, c) = derived(
        r#"
inherit = "base.toml"
[tasks.extra]
name = "task-extra"
priority = 4
task-slots = ["ping"]
uses = ["spi"]
[peripherals.gpio]
model = "gpio"
"#,
    );
    let c = c.expect("valid");
    assert_eq!(task_names(&c), ["jefe", "pong", "ping", "idle", "extra"]);
    let extra = c.task_by_name("extra").expect("extra");
    assert_eq!(extra.index, 4);
    assert_eq!(extra.task_slots[0].task, 2);
    let names: Vec<_> =
        c.peripherals().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["spi", "gpio"]);
}

#[test]
fn a_task_can_be_removed_and_one_redefined_from_scratch() {
    let (_dir, c) = derived(
        r#"
inherit = "base.toml"
remove-tasks = ["ping", "pong"]
[tasks.jefe]
config = { tasks-to-hold = [], on-task-fault = {} }
[tasks.pong]
name = "task-pong"
priority = 2
"#,
    );
    let c = c.expect("valid");
    // pong was removed, so its redefinition is a new task at the end,
    // with nothing of the old one (no max-sizes).
    assert_eq!(task_names(&c), ["jefe", "idle", "pong"]);
    let pong = c.task_by_name("pong").expect("pong");
    assert_eq!(pong.max_flash, None);
    assert_eq!(pong.priority, 2);
}

#[test]
fn a_removed_task_still_named_elsewhere_is_an_error_in_that_file() {
    let err =
        derived_error("inherit = \"base.toml\"\nremove-tasks = [\"pong\"]\n");
    assert_eq!(
        err,
        "<dir>/base.toml: tasks.ping.task-slots: no task named \"pong\""
    );
}

#[test]
fn removing_what_the_base_lacks_is_an_error() {
    assert_eq!(
        derived_error("inherit = \"base.toml\"\nremove-tasks = [\"nope\"]\n"),
        "<dir>/app.toml: remove-tasks: the base has no task named \"nope\""
    );
    assert_eq!(
        derived_error(
            "inherit = \"base.toml\"\nremove-peripherals = [\"gpio\"]\n"
        ),
        "<dir>/app.toml: remove-peripherals: the base has no peripheral \
         named \"gpio\""
    );
}

#[test]
fn removing_without_a_base_is_an_error() {
    let text = format!("remove-tasks = [\"ping\"]\n{BASE}");
    let dir = dir_with(&[("app.toml", &text)]);
    let err = load(dir.path(), "app.toml").expect_err("rejected");
    assert!(
        err.ends_with(
            "app.toml: remove-tasks: only a file that inherits from a base \
             may remove entries (add `inherit = \"<base>.toml\"`)"
        ),
        "{err}"
    );
}

#[test]
fn remove_tasks_must_be_an_array_of_names() {
    let err =
        derived_error("inherit = \"base.toml\"\nremove-tasks = \"ping\"\n");
    assert_eq!(
        err,
        "<dir>/app.toml:2:16: remove-tasks: must be an array of tasks names"
    );
}

#[test]
fn a_missing_base_is_one_line_naming_both_files() {
    let dir = dir_with(&[("app.toml", "inherit = \"nope.toml\"\n")]);
    let err = load(dir.path(), "app.toml").expect_err("rejected");
    let d = dir.path().display().to_string();
    assert!(
        err.starts_with(&format!(
            "{d}/app.toml: inherit: cannot read the base file {d}/nope.toml: "
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn a_cycle_is_an_error_naming_the_chain() {
    let dir = dir_with(&[
        ("a.toml", "inherit = \"sub/b.toml\"\nname = \"a\"\n"),
        ("sub/b.toml", "inherit = \"../a.toml\"\n"),
    ]);
    let err = load(dir.path(), "a.toml").expect_err("rejected");
    let d = dir.path().display().to_string();
    assert_eq!(
        err,
        format!(
            "{d}/sub/b.toml: inherit: inherit cycle: {d}/a.toml inherits \
             {d}/sub/b.toml inherits {d}/a.toml (a file may not inherit \
             from itself, directly or through its bases)"
        )
    );
}

#[test]
fn a_file_inheriting_itself_is_a_cycle() {
    let dir = dir_with(&[("a.toml", "inherit = \"./a.toml\"\n")]);
    let err = load(dir.path(), "a.toml").expect_err("rejected");
    assert!(err.contains("inherit cycle"), "{err}");
}

#[test]
fn inherit_must_be_a_string() {
    let err = derived_error("inherit = 3\n");
    assert_eq!(
        err,
        "<dir>/app.toml:1:11: inherit: must be a string: the path of the \
         base file, relative to this file"
    );
}

#[test]
fn a_rule_broken_by_a_base_key_names_the_base() {
    // The derived file makes ping as unimportant as idle: the key it set
    // is the derived file's.
    assert_eq!(
        derived_error("inherit = \"base.toml\"\n[tasks.ping]\npriority = 5\n"),
        "<dir>/app.toml: tasks.ping.priority: priority 5 is not more \
         important than idle's (5); every other task needs a numerically \
         lower priority"
    );
    // The derived file lowers idle instead: now the key in the message is
    // ping's, which the base gave.
    assert_eq!(
        derived_error("inherit = \"base.toml\"\n[tasks.idle]\npriority = 2\n"),
        "<dir>/base.toml: tasks.ping.priority: priority 2 is not more \
         important than idle's (2); every other task needs a numerically \
         lower priority"
    );
}

#[test]
fn a_schema_error_gives_the_position_in_the_file_that_has_it() {
    let err =
        derived_error("inherit = \"base.toml\"\n\n[tasks.pong]\nprio = 1\n");
    assert!(
        err.starts_with(
            "<dir>/app.toml:4:1: tasks.pong.prio: unknown field `prio`"
        ),
        "{err}"
    );
    let base =
        BASE.replace("start = true\nnotifications", "start = 1\nnotifications");
    let dir = dir_with(&[
        ("base.toml", &base),
        ("app.toml", "inherit = \"base.toml\"\nname = \"x\"\n"),
    ]);
    let err = load(dir.path(), "app.toml").expect_err("rejected");
    let line = base.lines().position(|l| l == "start = 1").unwrap() + 1;
    let d = dir.path().display().to_string();
    assert!(
        err.starts_with(&format!(
            "{d}/base.toml:{line}:9: tasks.jefe.start: invalid type"
        )),
        "{err}"
    );
}

#[test]
fn a_chain_of_three_applies_in_order_and_names_bases_relatively() {
    let dir = dir_with(&[
        ("images/base.toml", BASE),
        (
            "images/lab/mid.toml",
            "inherit = \"../base.toml\"\nname = \"mid\"\nstacksize = 2048\n",
        ),
        (
            "top.toml",
            "inherit = \"images/lab/mid.toml\"\nname = \"top\"\n",
        ),
    ]);
    let c = load(dir.path(), "top.toml").expect("valid");
    assert_eq!(c.name(), "top");
    assert_eq!(c.tasks()[0].stacksize, 2048);
    let files: Vec<PathBuf> = c.source_files().to_vec();
    assert_eq!(files.len(), 3);
    assert!(files[2].ends_with("images/lab/../base.toml"), "{files:?}");
    let d = dir.path().display().to_string();
    assert_eq!(c.file_of("stacksize"), format!("{d}/images/lab/mid.toml"));
    assert_eq!(
        c.file_of("tasks.ping.uses"),
        format!("{d}/images/base.toml")
    );
    assert_eq!(c.file_of("name"), format!("{d}/top.toml"));
}

#[test]
fn blob_paths_are_relative_to_the_file_that_names_them() {
    let base = format!("{BASE}\n[blobs]\nfw = \"blobs/fw.bin\"\n");
    let dir = dir_with(&[
        ("base/base.toml", &base),
        ("base/blobs/fw.bin", "0123"),
        ("derived/app.toml", "inherit = \"../base/base.toml\"\n"),
    ]);
    let c = load(dir.path(), "derived/app.toml").expect("valid");
    assert_eq!(c.blobs()[0].size, Some(4));
    let resolved = c.blobs()[0].resolved.canonicalize().expect("exists");
    let expected = dir.path().join("base/blobs/fw.bin").canonicalize();
    assert_eq!(resolved, expected.expect("exists"));
}

#[test]
fn the_resolved_toml_is_a_standalone_equivalent_app_toml() {
    let (dir, c) = derived(
        "inherit = \"base.toml\"\nremove-tasks = [\"ping\"]\n\
         [tasks.jefe]\nconfig = { tasks-to-hold = [], on-task-fault = {} }\n",
    );
    let c = c.expect("valid");
    let text = c.resolved_toml();
    assert!(!text.contains("inherit"), "{text}");
    assert!(!text.contains("remove-tasks"), "{text}");
    let again = Config::parse(&text, dir.path().join("resolved.toml"))
        .expect("the resolved file loads on its own");
    assert_eq!(again.tasks(), c.tasks());
    assert_eq!(again.peripherals(), c.peripherals());
    assert_eq!(again.source_files().len(), 1);
}
