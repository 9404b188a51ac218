//! app.toml: schema, validation, inheritance and task placement.
//!
//! xtask reads an image's app.toml through this crate and nothing else.
//! [`Config::load`] reads the file and the files it inherits from (see
//! [`inherit`](crate::Provenance) and the README), merges them into a
//! raw, serde-shaped form that mirrors Hubris's schema wherever the
//! meaning is the same, then checks every rule and resolves every name
//! to an index, giving a [`Config`] that cannot be invalid. Once the build
//! has measured each task, [`Config::place`] says where each is linked,
//! under its board's placement policy ([`MemoryMap`]), and
//! [`Config::to_manifest`] turns the whole into the
//! [`image_manifest::ImageManifest`] the hosted kernel boots from.
//!
//! The rules, each reported as one line naming the file the offending key
//! came from, and the key:
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
//! - stacks and `max-sizes` caps are non-zero, and a stack fits under its
//!   task's RAM cap; once measured, every task fits under its caps and
//!   every region in its board's area.
//!
//! What this crate deliberately does not do: build anything, read task
//! ELFs or interpret task `config` tables (a task's build script owns its
//! table; we only carry it to the manifest as JSON).
//!
//! ```
//! use app_config::{Config, TaskUsage};
//! let text = r#"
//!     name = "tiny"
//!     board = "hosted"
//!     stacksize = 1024
//!     [tasks.jefe]
//!     name = "task-jefe"
//!     priority = 0
//!     start = true
//!     notifications = ["fault"]
//!     [tasks.idle]
//!     name = "task-idle"
//!     priority = 1
//!     max-sizes = {flash = 4096}
//! "#;
//! let config = app_config::Config::parse(text, "app.toml").unwrap();
//! let used = TaskUsage { flash: 5000, ram: 2000 };
//! let layout = config.place(&[used, TaskUsage { flash: 300, ram: 1100 }]);
//! let layout = layout.unwrap();
//! assert_eq!(layout[0].flash.base, 0x1000_0000);
//! assert_eq!(layout[0].flash.size, 8192);
//! let over = config.place(&[used, used]).unwrap_err();
//! assert_eq!(
//!     over.to_string(),
//!     "app.toml: tasks.idle.max-sizes.flash: task idle needs 5000 bytes \
//!      of flash, over its cap of 4096"
//! );
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod board;
mod config;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
mod inherit;
mod layout;
mod manifest;
mod parse;
mod raw;
mod rules;
mod validate;

pub use board::{BOARDS, Board, HOSTED_BOARD, MPS2_AN386_BOARD, board};
pub use config::{
    AllowedCallers, Blob, CallerScope, Config, Interrupt, Kernel, Peripheral,
    Slot, Task, inherit_chain,
};
pub use error::ConfigError;
pub use inherit::{INHERIT_KEY, Provenance};
pub use layout::{
    Area, FLASH_BASE, FLASH_END, FLASH_GAP, HOSTED_MEMORY, MPS2_AN386_MEMORY,
    MPU_MIN_REGION, Memory, MemoryMap, RAM_BASE, RAM_END, REGION_ALIGN,
    RegionRule, STACK_ALIGN, TaskLayout, TaskUsage,
};
pub use manifest::{ManifestExtras, blob_archive_path, task_elf_path};
pub use rules::{FAULT_NOTIFICATION_NAME, IDLE_TASK};
pub use validate::{MAX_NOTIFICATIONS, MAX_PERIPHERALS, MAX_TASKS};
