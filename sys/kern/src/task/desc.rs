//! What app.toml says about a task and a peripheral, fixed at boot: its
//! memory regions and the capabilities the kernel checks (whom it may
//! call or post to, its peripherals, IRQs and kipc grants).

use super::TaskIndex;
use abi::Kipcnum;

/// A memory region a task may touch.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct MemoryRegion {
    pub base: u32,
    pub size: u32,
    pub writable: bool,
}

impl MemoryRegion {
    /// Whether `[address, address + length)` lies inside this region.
    /// Computed in `u64`, so no end wraps around.
    pub fn contains(&self, address: u32, length: u32) -> bool {
        let end = u64::from(address).wrapping_add(u64::from(length));
        let region_end =
            u64::from(self.base).wrapping_add(u64::from(self.size));
        address >= self.base && end <= region_end
    }
}

/// One IRQ routed to a task.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct IrqRoute {
    pub peripheral: u16,
    /// The notification bit(s) it posts.
    pub mask: u32,
}

/// The static description of a task, from the image manifest. Never
/// changes after boot.
#[derive(Clone, Debug)]
pub struct TaskDesc {
    pub priority: u8,
    pub start: bool,
    /// Flash (read-only) and RAM (read-write).
    pub regions: [MemoryRegion; 2],
    /// Task indices this task may SEND (and POST) to: its `task-slots`.
    pub slots: &'static [u16],
    /// Further task indices this task may POST to: its `post-to`.
    pub post_to: &'static [u16],
    /// Peripheral indices this task may access (its `uses`).
    pub uses: &'static [u16],
    pub irqs: &'static [IrqRoute],
    /// Bit `Kipcnum::grant_bit()` set for each privileged kipc granted.
    pub kipc_grants: u64,
    /// Notification bits only the kernel may post to this task: its IRQs,
    /// its timer and (for the supervisor) the fault bit. POST refuses them.
    pub kernel_notifications: u32,
}

impl TaskDesc {
    /// Whether `[address, address + length)` lies in one region with the
    /// needed access. Empty slices are always acceptable, as in Hubris.
    pub fn can_access(&self, address: u32, length: u32, write: bool) -> bool {
        length == 0
            || self.regions.iter().any(|region| {
                (region.writable || !write) && region.contains(address, length)
            })
    }

    pub fn may_call(&self, index: usize) -> bool {
        self.slots.iter().any(|&slot| usize::from(slot) == index)
    }

    /// Whether this task may POST to task `index`: one in its task-slots
    /// or its `post-to` list.
    pub fn may_post(&self, index: usize) -> bool {
        self.may_call(index)
            || self.post_to.iter().any(|&task| usize::from(task) == index)
    }

    pub fn may_kipc(&self, op: Kipcnum, own_index: TaskIndex) -> bool {
        own_index.is_supervisor()
            || op.is_unprivileged()
            || self.kipc_grants & op.grant_bit() != 0
    }

    pub fn irq_mask(&self) -> u32 {
        self.irqs.iter().fold(0, |mask, route| mask | route.mask)
    }
}

/// A peripheral and whether its grant is currently revoked.
#[derive(Clone, Debug)]
pub struct Peripheral {
    /// The task that may revoke and restore the grant (besides the
    /// supervisor).
    pub managed_by: Option<u16>,
    pub revoked: bool,
}
