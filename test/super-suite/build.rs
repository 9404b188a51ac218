//! The suite's notifications, and `tasks.rs`: the index of every task in
//! the image by upper-case name (`tasks::LOOPER`), since the suite looks
//! at tasks it does not call.

use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow};

fn main() {
    build_util::generate_notifications();
    build_util::or_fail(task_indices());
}

fn task_indices() -> Result<()> {
    let path = build_util::app_toml_path();
    let app = app_config::Config::load(&path).map_err(|e| anyhow!("{e}"))?;
    let mut out = String::from("pub mod tasks {\n");
    for t in app.tasks() {
        let name = build_util::upper_snake(&t.name);
        writeln!(out, "    pub const {name}: usize = {};", t.index)?;
    }
    writeln!(
        out,
        "    pub const NUM_TASKS: usize = {};",
        app.tasks().len()
    )?;
    out.push_str("}\n");
    let dir = std::env::var("OUT_DIR").context("OUT_DIR is not set")?;
    let file = std::path::Path::new(&dir).join("tasks.rs");
    std::fs::write(&file, out)
        .with_context(|| format!("cannot write {}", file.display()))
}
