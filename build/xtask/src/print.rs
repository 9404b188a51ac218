//! `cargo xtask print`: the configuration an image is really built from.
//!
//! First the app.toml after `inherit` is resolved: one self-contained file
//! with every base merged in and no `inherit` or `remove-*` keys, which
//! loads on its own to the same configuration. Then, unless `--no-build`
//! is given, a `[placement.<task>]` table per task saying where sizing put
//! it (`base`, `size` and, for flash and RAM, `used`). `placement` is this
//! command's output, not app.toml input; app.toml has no such key.

use std::path::Path;

use anyhow::{Result, anyhow};
use app_config::Config;

pub fn print(app_toml: &Path, build: bool) -> Result<()> {
    if !build {
        let config = Config::load(app_toml).map_err(|e| anyhow!("{e}"))?;
        print!("{}", config.resolved_toml());
        return Ok(());
    }
    let image = crate::dist::dist(app_toml)?;
    print!("{}", resolved_with_placement(&image));
    Ok(())
}

/// The resolved configuration followed by each task's placement.
pub fn resolved_with_placement(image: &crate::dist::Image) -> String {
    let mut placement = toml::Table::new();
    for (task, s) in image.config.tasks().iter().zip(&image.sizes) {
        let region = |base: u32, size: u32, used: Option<u64>| {
            let mut t = toml::Table::new();
            t.insert("base".into(), i64::from(base).into());
            t.insert("size".into(), i64::from(size).into());
            if let Some(used) = used {
                t.insert(
                    "used".into(),
                    i64::try_from(used).unwrap_or(i64::MAX).into(),
                );
            }
            toml::Value::Table(t)
        };
        let l = &s.layout;
        let mut t = toml::Table::new();
        t.insert(
            "flash".into(),
            region(l.flash.base, l.flash.size, Some(s.usage.flash)),
        );
        t.insert(
            "ram".into(),
            region(l.ram.base, l.ram.size, Some(s.usage.ram)),
        );
        t.insert("stack".into(), region(l.stack.base, l.stack.size, None));
        placement.insert(task.name.clone(), toml::Value::Table(t));
    }
    let mut wrapper = toml::Table::new();
    wrapper.insert("placement".into(), toml::Value::Table(placement));
    format!(
        "{}\n# Where `cargo xtask dist` placed each task (output only: not an \
         app.toml key).\n{}",
        image.config.resolved_toml(),
        toml::to_string(&wrapper).unwrap_or_default()
    )
}
