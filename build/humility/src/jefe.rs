//! `humility jefe -f|-H|-r|-s <task>`: jefe's external controls.
//!
//! As in Hubris, these do not go through hiffy: hiffy is the least
//! important task and a fault loop can starve it, or its own call may be
//! what faulted the task. Instead we write jefe's `#[no_mangle]`
//! `JEFE_EXTERNAL_*` statics through the probe (task index, request code,
//! then a non-zero kick) and jefe, polling on its timer, acts and counts
//! the request as done (`JEFE_EXTERNAL_REQUESTS`) or refused
//! (`JEFE_EXTERNAL_ERRORS`).

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::archive::Archive;
use crate::target::Target;

/// How long jefe has to take a request.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What to ask jefe for; the codes are jefe's `ExternalRequest`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Restart the task now (and keep any hold).
    Start = 1,
    /// Hold the task when it next faults, instead of restarting it.
    Hold = 2,
    /// Drop the hold, restarting the task if it is held at a fault.
    Release = 3,
    /// Hold the task and fault it.
    Fault = 4,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Self::Start => "started",
            Self::Hold => "holding",
            Self::Release => "released",
            Self::Fault => "faulted",
        }
    }
}

/// Sends the request and waits for jefe to take it.
///
/// # Errors
///
/// Unknown task, jefe itself, a dump, jefe not ready, jefe refusing, or
/// no answer within two seconds.
pub fn jefe(
    archive: &Archive,
    target: &mut Target,
    action: Action,
    task: &str,
) -> Result<String> {
    let index = usize::from(archive.task(task)?.index);
    if index == 0 {
        bail!("jefe does not act on itself (task 0)");
    }
    target.writable("jefe")?;
    let elf = archive.elf(0)?;
    let sym = |name: &str| {
        elf.symbol(name).map(|s| s.address).ok_or_else(|| {
            anyhow!(
                "task {} has no {name}: is it jefe, with external control?",
                archive.task_name(0)
            )
        })
    };
    let ready = sym("JEFE_EXTERNAL_READY")?;
    let request = sym("JEFE_EXTERNAL_REQUEST")?;
    let task_index = sym("JEFE_EXTERNAL_TASKINDEX")?;
    let kick = sym("JEFE_EXTERNAL_KICK")?;
    let requests = sym("JEFE_EXTERNAL_REQUESTS")?;
    let errors = sym("JEFE_EXTERNAL_ERRORS")?;
    let word = |target: &mut Target, at: u64| -> Result<u32> {
        let b = target.read(archive, 0, at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if word(target, ready)? == 0 {
        bail!(
            "jefe is not ready for external requests (JEFE_EXTERNAL_READY is 0)"
        );
    }
    let (done0, errors0) = (word(target, requests)?, word(target, errors)?);
    target.write(0, task_index, &(index as u32).to_le_bytes())?;
    target.write(0, request, &(action as u32).to_le_bytes())?;
    let k = word(target, kick)?.wrapping_add(1).max(1);
    target.write(0, kick, &k.to_le_bytes())?;
    let start = Instant::now();
    loop {
        if word(target, errors)? != errors0 {
            bail!("jefe refused to act on {task}");
        }
        if word(target, requests)? != done0 {
            break;
        }
        if start.elapsed() > TIMEOUT {
            bail!(
                "jefe did not take the request within {} s (is it faulted? \
                 see `humility tasks`)",
                TIMEOUT.as_secs()
            );
        }
        target.let_run(Duration::from_millis(5))?;
    }
    let state = target
        .tasks()?
        .into_iter()
        .find(|r| r.index == index)
        .and_then(|row| {
            let s = row.decode_state().ok()?;
            Some(crate::tasks::state_string(
                archive,
                &s,
                &row,
                target.uptime_ms(),
            ))
        })
        .unwrap_or_default();
    Ok(format!(
        "jefe: {} {task}; it is now: {state}\n",
        action.verb()
    ))
}
