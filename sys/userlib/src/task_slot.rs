//! Task slots: how a task names the tasks it may call.
//!
//! `task_slot!(PONG, pong)` puts a [`TaskSlot`] in the `.task_slot_table`
//! section. After linking, xtask finds each entry, looks up the slot name in
//! the task's app.toml `task-slots`, and writes the callee's index into the
//! entry in the ELF. The kernel separately refuses a SEND to any task not
//! in the caller's slots, so a slot is both a name and a capability.

use abi::{Generation, TaskId};

/// Longest slot name; `task_slot!` refuses longer ones at compile time.
pub const MAX_SLOT_NAME: usize = 28;

/// One entry of `.task_slot_table`: 32 bytes, patched by xtask.
#[repr(C)]
pub struct TaskSlot {
    /// Patched by the build; `TaskId::UNBOUND` until then.
    task_index: u16,
    name_len: u16,
    name: [u8; MAX_SLOT_NAME],
}

impl TaskSlot {
    pub const fn new(name: &str) -> Self {
        let bytes = name.as_bytes();
        assert!(bytes.len() <= MAX_SLOT_NAME, "task slot name too long");
        let mut out = [0; MAX_SLOT_NAME];
        let mut i = 0;
        while i < bytes.len() {
            out[i] = bytes[i];
            i += 1;
        }
        Self {
            task_index: TaskId::UNBOUND.0,
            name_len: bytes.len() as u16,
            name: out,
        }
    }

    /// The patched index. Read volatile: the value is written into the ELF
    /// after compilation, so the compiler must not fold in `UNBOUND`.
    pub fn index(&self) -> u16 {
        // Safety: a plain read of our own initialised field.
        unsafe { core::ptr::read_volatile(&self.task_index) }
    }

    /// The callee's current `TaskId`.
    pub fn get_task_id(&self) -> TaskId {
        let id =
            TaskId::for_index_and_gen(self.index() as usize, Generation::ZERO);
        crate::sys_refresh_task_id(id)
    }

    pub fn name(&self) -> &[u8] {
        &self.name[..(self.name_len as usize).min(MAX_SLOT_NAME)]
    }
}

/// Declares a task slot: `task_slot!(PONG, pong)`.
#[macro_export]
macro_rules! task_slot {
    ($vis:vis $var:ident, $slot:ident) => {
        #[used]
        #[unsafe(link_section = ".task_slot_table")]
        $vis static $var: $crate::task_slot::TaskSlot =
            $crate::task_slot::TaskSlot::new(stringify!($slot));
    };
}
