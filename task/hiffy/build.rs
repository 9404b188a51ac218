//! Turns hiffy's app.toml entry into constants: the task indices it may
//! call (its `task-slots`) and the size of its lease buffer.
//!
//! hiffy calls servers chosen at run time by the debugger, so it cannot
//! name them with `task_slot!`. The kernel still lets it send only to the
//! tasks in its app.toml `task-slots`, and faults it for any other; so we
//! give hiffy the same list, and it refuses a request for anything else
//! instead of dying.

use std::fmt::Write as _;

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;

/// hiffy's optional `config` table.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Config {
    /// Bytes in `HIFFY_DATA`, the buffer lent to the callee. It must fit
    /// in the task's RAM with the stack; a bitstream loaded through hiffy
    /// must fit in it.
    #[serde(default = "default_data_size")]
    data_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_size: default_data_size(),
        }
    }
}

/// Large enough for an iCE40 HX1K bitstream (32,220 bytes) with room.
fn default_data_size() -> u32 {
    64 * 1024
}

fn main() {
    build_util::or_fail(generate());
}

fn generate() -> Result<()> {
    let name = build_util::task_name();
    let (_, task) =
        build_util::load_config().context("loading app.toml for hiffy")?;
    let own: Config = build_util::task_maybe_config()
        .context("reading hiffy's config")?
        .unwrap_or_default();
    if own.data_size == 0 {
        return Err(anyhow!("tasks.{name}.config.data-size must be > 0"));
    }
    let mut out = String::new();
    let indices: Vec<String> =
        task.task_slots.iter().map(|s| s.task.to_string()).collect();
    writeln!(
        out,
        "/// Task indices from app.toml `tasks.{name}.task-slots`.\n\
         const CALLABLE: &[u16] = &[{}];\n\
         /// `tasks.{name}.config.data-size`.\n\
         const DATA_SIZE: usize = {};",
        indices.join(", "),
        own.data_size
    )?;
    let dir = std::env::var("OUT_DIR").context("OUT_DIR is not set")?;
    let file = std::path::Path::new(&dir).join("hiffy_config.rs");
    std::fs::write(&file, out)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(())
}
