//! `allowed-callers` checked against the interfaces themselves.
//!
//! app-config checks that the callers named exist; only here are the
//! `.idol` files at hand, so here we check, before building anything,
//! that each interface a task restricts is one of the workspace's `idl/`
//! files and each op it names is one of that interface's ops. After
//! linking, [`check_served`] checks the task really serves the interface
//! (its `.idolatry` section), so that a restriction can never be silently
//! ignored. Each error is one line naming the file and the key.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use app_config::Config;

/// Checks every task's `allowed-callers` against the interfaces in
/// `idl_dir` (every `*.idol` file there).
pub fn check(config: &Config, idl_dir: &Path) -> Result<()> {
    if config.tasks().iter().all(|t| t.allowed_callers.is_empty()) {
        return Ok(());
    }
    let interfaces = load_interfaces(idl_dir)?;
    for task in config.tasks() {
        for entry in &task.allowed_callers {
            let key = format!(
                "tasks.{}.allowed-callers.{}",
                task.name, entry.interface
            );
            let at = |key: &str| format!("{}: {key}", config.file_of(key));
            let Some(iface) = interfaces
                .iter()
                .find(|i| i.name == entry.interface.as_str())
            else {
                let names: Vec<String> =
                    interfaces.iter().map(|i| i.name.to_string()).collect();
                bail!(
                    "{}: no interface {} in {} (there are: {})",
                    at(&key),
                    entry.interface,
                    idl_dir.display(),
                    names.join(", ")
                );
            };
            for op in entry.op_names() {
                if !iface.ops.iter().any(|o| o.name == op) {
                    let ops: Vec<String> =
                        iface.ops.iter().map(|o| o.name.to_string()).collect();
                    let key = format!("{key}.{op}");
                    bail!(
                        "{}: interface {} has no op `{op}` (it has {})",
                        at(&key),
                        entry.interface,
                        ops.join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}

/// Checks that a task serves every interface its `allowed-callers` names;
/// `serves` are the interface names its `.idolatry` section holds.
pub fn check_served(
    config: &Config,
    task: &app_config::Task,
    serves: &[String],
) -> Result<()> {
    for entry in &task.allowed_callers {
        if !serves.contains(&entry.interface) {
            let key = format!(
                "tasks.{}.allowed-callers.{}",
                task.name, entry.interface
            );
            let serving = if serves.is_empty() {
                "no interface".to_owned()
            } else {
                serves.join(", ")
            };
            bail!(
                "{}: {key}: task {} does not serve interface {} (it serves \
                 {serving})",
                config.file_of(&key),
                task.name,
                entry.interface,
            );
        }
    }
    Ok(())
}

fn load_interfaces(dir: &Path) -> Result<Vec<idol::Interface>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| anyhow!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "idol") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .iter()
        .map(|p| idol::load(p).map_err(|e| anyhow!("{e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
        name = "callers"
        board = "hosted"
        stacksize = 1024
        [tasks.jefe]
        name = "task-jefe"
        priority = 0
        notifications = ["fault", "timer"]
        ALLOWED
        [tasks.suite]
        name = "suite"
        priority = 1
        task-slots = ["jefe"]
        [tasks.idle]
        name = "task-idle"
        priority = 2
    "#;

    fn config(allowed: &str) -> Config {
        Config::parse(&BASE.replace("ALLOWED", allowed), "app.toml")
            .expect("valid app.toml")
    }

    fn idl() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idl")
    }

    #[test]
    fn real_ops_of_a_real_interface_pass() {
        let c = config(
            r#"allowed-callers = { Jefe = { set_disposition = ["suite"] } }"#,
        );
        check(&c, &idl()).expect("accepted");
        let c = config(r#"allowed-callers = { Jefe = ["suite"] }"#);
        check(&c, &idl()).expect("accepted");
    }

    #[test]
    fn an_unknown_op_is_one_line_naming_file_and_key() {
        let c =
            config(r#"allowed-callers = { Jefe = { set_dispo = ["suite"] } }"#);
        let e = check(&c, &idl()).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "app.toml: tasks.jefe.allowed-callers.Jefe.set_dispo: \
                 interface Jefe has no op `set_dispo` (it has get_state,"
            ),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn an_unknown_interface_is_one_line_naming_file_and_key() {
        let c = config(r#"allowed-callers = { Jeff = ["suite"] }"#);
        let e = check(&c, &idl()).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "app.toml: tasks.jefe.allowed-callers.Jeff: no interface Jeff in"
            ),
            "{e}"
        );
        assert!(e.contains("Jefe"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn a_task_must_serve_the_interface_it_restricts() {
        let c = config(r#"allowed-callers = { Jefe = ["suite"] }"#);
        let jefe = c.task_by_name("jefe").expect("jefe");
        check_served(&c, jefe, &["Jefe".to_owned()]).expect("serves it");
        let e = check_served(&c, jefe, &["FpgaManager".to_owned()])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "app.toml: tasks.jefe.allowed-callers.Jefe: task jefe does not \
             serve interface Jefe (it serves FpgaManager)"
        );
        let e = check_served(&c, jefe, &[]).unwrap_err().to_string();
        assert!(e.ends_with("(it serves no interface)"), "{e}");
    }
}
