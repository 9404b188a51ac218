//! app.toml: schema, validation and memory layout.
//!
//! xtask reads an image's app.toml through this crate and nothing else.
//! [`Config::load`] parses the file into a raw, serde-shaped form that
//! mirrors Hubris's schema wherever the meaning is the same, then checks
//! every rule and resolves every name to an index, giving a [`Config`]
//! that cannot be invalid. [`Config::layout`] says where each task is
//! linked, and [`Config::to_manifest`] turns the whole into the
//! [`image_manifest::ImageManifest`] the hosted kernel boots from.
//!
//! The rules, each reported as one line naming the file and the key:
//!
//! - task 0 is the supervisor: priority 0 (no one else has it) and
//!   `"fault"` as its first notification, because the kernel posts bit 0
//!   to it on every fault;
//! - a task named `idle` exists and every other task is more important;
//! - a task only names (`task-slots`) strictly more important tasks, and
//!   never itself;
//! - every name (`task-slots`, `uses`, `managed-by`, `interrupts`, `kipc`)
//!   refers to something that exists; no list repeats itself;
//! - at most 31 notifications per task; an IRQ goes to one task;
//! - sizes are non-zero, the stack leaves [`MIN_DATA_RAM`] for data, and
//!   every region fits its area.
//!
//! What this crate deliberately does not do: build anything, read task
//! ELFs or interpret task `config` tables (a task's build script owns its
//! table; we only carry it to the manifest as JSON).
//!
//! ```
//! let text = r#"
//!     name = "tiny"
//!     board = "hosted"
//!     stacksize = 1024
//!     [tasks.jefe]
//!     name = "task-jefe"
//!     priority = 0
//!     start = true
//!     max-sizes = {flash = 8192, ram = 8192}
//!     notifications = ["fault"]
//!     [tasks.idle]
//!     name = "task-idle"
//!     priority = 1
//!     max-sizes = {flash = 128, ram = 8192}
//! "#;
//! let config = app_config::Config::parse(text, "app.toml").unwrap();
//! assert_eq!(config.layout()[0].flash.base, 0x1000_0000);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod layout;
mod manifest;
mod parse;
mod raw;
mod rules;
mod validate;

pub use config::{Blob, Config, Interrupt, Kernel, Peripheral, Slot, Task};
pub use error::ConfigError;
pub use layout::{
    FLASH_BASE, FLASH_END, FLASH_GAP, MIN_DATA_RAM, RAM_BASE, RAM_END,
    REGION_ALIGN, STACK_ALIGN, TaskLayout,
};
pub use manifest::{ManifestExtras, blob_archive_path, task_elf_path};
pub use rules::{FAULT_NOTIFICATION_NAME, IDLE_TASK};
pub use validate::{
    HOSTED_BOARD, MAX_NOTIFICATIONS, MAX_PERIPHERALS, MAX_TASKS,
};
