//! Where each task lives in the hosted address space.
//!
//! Tasks are linked at fixed addresses so that an ELF symbol's address is
//! its run-time address, which the debugger relies on. The layout is a
//! pure function of the tasks' sizes and their order, so the same app.toml
//! always yields the same addresses.
//!
//! Flash regions are packed upward from [`FLASH_BASE`] with a
//! [`FLASH_GAP`] between neighbours, so that running off the end of one
//! task's text faults instead of executing the next task. Each RAM region
//! sits above an unmapped guard of [`abi::HOSTED_GUARD_SIZE`]; the stack
//! is at the bottom of RAM, so an overflow runs into the guard.

use image_manifest::Region;

/// First address of the flash area.
pub const FLASH_BASE: u32 = 0x1000_0000;
/// End (exclusive) of the flash area; also where RAM begins.
pub const FLASH_END: u32 = 0x4000_0000;
/// First address of the RAM area (the first guard starts here).
pub const RAM_BASE: u32 = 0x4000_0000;
/// End (exclusive) of the RAM area.
pub const RAM_END: u32 = 0xC000_0000;
/// Every region's base and size are multiples of this (the host page).
pub const REGION_ALIGN: u32 = 4096;
/// Unmapped space between consecutive flash regions.
pub const FLASH_GAP: u32 = 4096;
/// Stack sizes round up to this, the x86_64 ABI's stack alignment.
pub const STACK_ALIGN: u32 = 16;
/// RAM a task must keep above its stack for data and bss; app.toml is
/// rejected if `stacksize` leaves less.
pub const MIN_DATA_RAM: u32 = 4096;

/// The three regions of one task.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TaskLayout {
    /// Text and read-only data.
    pub flash: Region,
    /// Stack, data and bss; the guard lies just below `ram.base`.
    pub ram: Region,
    /// The stack: a prefix of `ram`.
    pub stack: Region,
}

impl Default for TaskLayout {
    /// All regions empty at address 0; never the layout of a real task.
    fn default() -> Self {
        let empty = Region { base: 0, size: 0 };
        Self {
            flash: empty,
            ram: empty,
            stack: empty,
        }
    }
}

/// What the layout needs to know about a task.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Sizes {
    pub flash: u32,
    pub ram: u32,
    pub stack: u32,
}

/// A task whose region would end past its area.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// `[base, end)` is the flash region that does not fit.
    Flash { index: usize, base: u64, end: u64 },
    /// `[base, end)` is the RAM region that does not fit.
    Ram { index: usize, base: u64, end: u64 },
}

/// Rounds `x` up to a multiple of `align` (a power of two). Done in u64
/// so that sizes near `u32::MAX` cannot wrap.
pub(crate) fn round_up(x: u32, align: u32) -> u64 {
    let align = u64::from(align);
    u64::from(x).div_ceil(align) * align
}

/// Lays out tasks in order, or names the first one that does not fit.
pub(crate) fn lay_out(tasks: &[Sizes]) -> Result<Vec<TaskLayout>, Overflow> {
    let mut flash_next = u64::from(FLASH_BASE);
    let mut ram_next = u64::from(RAM_BASE);
    let mut out = Vec::with_capacity(tasks.len());
    for (index, t) in tasks.iter().enumerate() {
        let base = flash_next;
        let end = base + round_up(t.flash, REGION_ALIGN);
        if end > u64::from(FLASH_END) {
            return Err(Overflow::Flash { index, base, end });
        }
        let flash = region(base, end);
        flash_next = end + u64::from(FLASH_GAP);

        let base = ram_next + u64::from(abi::HOSTED_GUARD_SIZE);
        let end = base + round_up(t.ram, REGION_ALIGN);
        if end > u64::from(RAM_END) {
            return Err(Overflow::Ram { index, base, end });
        }
        let ram = region(base, end);
        ram_next = end;

        let stack_end = base + round_up(t.stack, STACK_ALIGN);
        let stack = region(base, stack_end.min(end));
        out.push(TaskLayout { flash, ram, stack });
    }
    Ok(out)
}

/// Both ends were checked against an area end below 2^32, so the
/// conversions cannot fail; saturating keeps this free of panics anyway.
fn region(base: u64, end: u64) -> Region {
    Region {
        base: u32::try_from(base).unwrap_or(u32::MAX),
        size: u32::try_from(end - base).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUARD: u32 = abi::HOSTED_GUARD_SIZE;

    fn sizes(flash: u32, ram: u32, stack: u32) -> Sizes {
        Sizes { flash, ram, stack }
    }

    #[test]
    fn regions_round_up_and_flash_regions_have_a_gap() {
        let l = lay_out(&[sizes(1, 5000, 17), sizes(4096, 4096, 16)]);
        let l = l.expect("fits");
        assert_eq!(
            l[0].flash,
            Region {
                base: FLASH_BASE,
                size: 4096
            }
        );
        assert_eq!(
            l[1].flash,
            Region {
                base: FLASH_BASE + 8192,
                size: 4096
            }
        );
        assert_eq!(
            l[0].ram,
            Region {
                base: RAM_BASE + GUARD,
                size: 8192
            }
        );
        assert_eq!(
            l[0].stack,
            Region {
                base: RAM_BASE + GUARD,
                size: 32
            }
        );
        let second = RAM_BASE + GUARD + 8192 + GUARD;
        assert_eq!(
            l[1].ram,
            Region {
                base: second,
                size: 4096
            }
        );
        assert_eq!(
            l[1].stack,
            Region {
                base: second,
                size: 16
            }
        );
    }

    #[test]
    fn flash_that_reaches_the_ram_area_is_an_overflow() {
        let fits = FLASH_END - FLASH_BASE;
        assert!(lay_out(&[sizes(fits, 8192, 16)]).is_ok());
        let err = lay_out(&[sizes(fits, 8192, 16), sizes(1, 8192, 16)]);
        assert_eq!(
            err,
            Err(Overflow::Flash {
                index: 1,
                base: u64::from(FLASH_END) + 4096,
                end: u64::from(FLASH_END) + 8192,
            })
        );
    }

    #[test]
    fn huge_sizes_overflow_without_wrapping() {
        let err = lay_out(&[sizes(u32::MAX, 8192, 16)]);
        assert!(matches!(err, Err(Overflow::Flash { index: 0, .. })));
        let err = lay_out(&[sizes(4096, u32::MAX, 16)]);
        assert!(matches!(err, Err(Overflow::Ram { index: 0, .. })));
    }
}
