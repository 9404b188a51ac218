//! Shared checks for FPGA driver tasks' build scripts: resolving the
//! peripherals, GPIO lines and manager a driver's app.toml `config` names.

use anyhow::{Context, Result, anyhow, bail};

/// The index of peripheral `name`, which `task` must be granted.
pub fn granted(
    app: &app_config::Config,
    task: &app_config::Task,
    name: &str,
) -> Result<u16> {
    let p = app
        .peripheral_by_name(name)
        .ok_or_else(|| anyhow!("no peripheral named \"{name}\""))?;
    if !task.uses.contains(&p.index) {
        bail!("peripheral \"{name}\" is not in the task's `uses`; add it");
    }
    u16::try_from(p.index).context("peripheral index")
}

/// Lines must exist and be distinct: two pins on one line would make the
/// driver read its own drive back.
pub fn check_lines(lines: &[(&str, u8)]) -> Result<()> {
    for (i, (key, line)) in lines.iter().enumerate() {
        if *line >= 32 {
            bail!("`{key}` = {line}: a GPIO block has lines 0..=31");
        }
        if let Some((other, _)) = lines[..i].iter().find(|(_, l)| l == line) {
            bail!("`{key}` and `{other}` are both line {line}");
        }
    }
    Ok(())
}

/// The manager's task index and the mask of its announce notification.
pub fn manager(
    app: &app_config::Config,
    task: &app_config::Task,
    manager: &str,
    notification: &str,
) -> Result<(usize, u32)> {
    let m = app
        .task_by_name(manager)
        .ok_or_else(|| anyhow!("no task named \"{manager}\""))?;
    if m.priority <= task.priority {
        bail!(
            "the manager \"{manager}\" (priority {}) must be less important \
             than this driver (priority {}): it sends to us",
            m.priority,
            task.priority
        );
    }
    if !task.post_to.contains(&m.index) {
        bail!(
            "the driver announces itself to its manager by POST, which needs \
             the capability: add \"{manager}\" to this task's `post-to`"
        );
    }
    let mask = m.notification_mask(notification).ok_or_else(|| {
        anyhow!(
            "task \"{manager}\" has no notification \"{notification}\" \
             (announce-notification); add it to its `notifications`"
        )
    })?;
    Ok((m.index, mask))
}
