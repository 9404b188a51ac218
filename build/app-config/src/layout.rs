//! Where each task lives: boards' memory maps and the placement of
//! measured tasks in them.
//!
//! Tasks are linked at fixed addresses so that an ELF symbol's address is
//! its run-time address, which the debugger relies on. `cargo xtask dist`
//! first links every task once to *measure* it (flash: text and read-only
//! data; RAM: stack, data and bss), then asks [`place`] for regions, then
//! links again at them. The placement is a pure function of the measured
//! sizes, the task order and the board's [`MemoryMap`], so the same build
//! always yields the same addresses.
//!
//! Each board says how a region must be shaped ([`RegionRule`]):
//!
//! - the hosted board maps regions with `mmap`, so a region is a whole
//!   number of pages; flash regions are packed upward from [`FLASH_BASE`]
//!   in task order with a [`FLASH_GAP`] between neighbours (running off
//!   one task's text faults instead of executing the next task), and each
//!   RAM region sits above an unmapped guard of `abi::HOSTED_GUARD_SIZE`,
//!   with the stack at its bottom so an overflow runs into the guard;
//! - a board with an ARMv7-M MPU needs each region to be a power of two
//!   of at least 32 bytes, aligned to its own size. As Hubris's build
//!   does, we place the largest regions first: each later region's size
//!   then divides the cursor, so no space is lost to alignment.
//!
//! `max-sizes`, when given, caps what a task may *use*; the region is the
//! use rounded up by the board's rule.

use image_manifest::Region;

/// First address of the hosted flash area.
pub const FLASH_BASE: u32 = 0x1000_0000;
/// End (exclusive) of the hosted flash area; also where RAM begins.
pub const FLASH_END: u32 = 0x4000_0000;
/// First address of the hosted RAM area (the first guard starts here).
pub const RAM_BASE: u32 = 0x4000_0000;
/// End (exclusive) of the hosted RAM area.
pub const RAM_END: u32 = 0xC000_0000;
/// On the hosted board every region's base and size are multiples of
/// this (the host page).
pub const REGION_ALIGN: u32 = 4096;
/// Unmapped space between consecutive hosted flash regions.
pub const FLASH_GAP: u32 = 4096;
/// Stack sizes round up to this, the x86_64 and AAPCS stack alignment
/// (AAPCS needs 8; 16 serves both).
pub const STACK_ALIGN: u32 = 16;

/// The smallest region an ARMv7-M MPU can describe.
pub const MPU_MIN_REGION: u32 = 32;

/// How a board needs a task's region shaped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RegionRule {
    /// A multiple of `page` bytes at a multiple of `page`, packed in task
    /// order (the hosted board's `mmap`).
    PageRounded {
        /// The page size, a power of two.
        page: u32,
    },
    /// A power of two of at least `min` bytes, aligned to its own size
    /// (the ARMv6-M/ARMv7-M MPU), placed largest first.
    PowerOfTwo {
        /// The smallest region the MPU can describe.
        min: u32,
    },
}

impl RegionRule {
    /// The region size a task using `used` bytes gets; `None` if it would
    /// not fit in 32 bits.
    pub fn region_size(self, used: u64) -> Option<u32> {
        let size = match self {
            Self::PageRounded { page } => {
                used.max(1).div_ceil(u64::from(page)) * u64::from(page)
            }
            Self::PowerOfTwo { min } => {
                used.max(u64::from(min)).next_power_of_two()
            }
        };
        u32::try_from(size).ok()
    }

    /// What a message says a region must be.
    pub fn describe(self) -> String {
        match self {
            Self::PageRounded { page } => {
                format!("a whole number of {page}-byte pages")
            }
            Self::PowerOfTwo { min } => format!(
                "a power of two of at least {min} bytes, aligned to its \
                 size (the MPU's rule)"
            ),
        }
    }
}

/// An address range `[base, end)` tasks are placed in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Area {
    /// First address.
    pub base: u32,
    /// End, exclusive.
    pub end: u32,
}

/// A board's memory for tasks and the rule its regions follow: the
/// placement policy [`place`] applies.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MemoryMap {
    /// Where task flash regions go.
    pub flash: Area,
    /// Where task RAM regions go.
    pub ram: Area,
    /// How regions are shaped and ordered.
    pub rule: RegionRule,
    /// Unmapped space left after each flash region.
    pub flash_gap: u32,
    /// Unmapped space left below each RAM region (a stack overflow runs
    /// into it).
    pub ram_guard: u32,
}

/// The hosted board: tasks are Linux processes, regions are `mmap`s.
pub const HOSTED_MEMORY: MemoryMap = MemoryMap {
    flash: Area {
        base: FLASH_BASE,
        end: FLASH_END,
    },
    ram: Area {
        base: RAM_BASE,
        end: RAM_END,
    },
    rule: RegionRule::PageRounded { page: REGION_ALIGN },
    flash_gap: FLASH_GAP,
    ram_guard: abi::HOSTED_GUARD_SIZE,
};

/// The mps2-an386 board (QEMU): its 4 MiB SSRAM1 at 0 serves as flash and
/// SSRAM2/3 at `0x2000_0000` as RAM. The kernel keeps the first 512 KiB
/// of each (its text and the task table; its stack and statics); tasks
/// get the rest, in regions the ARMv7-M MPU can describe. No gaps or
/// guards are needed: the MPU denies everything outside a task's own
/// regions, so a stack overflow below RAM faults at once.
pub const MPS2_AN386_MEMORY: MemoryMap = MemoryMap {
    flash: Area {
        base: 0x0008_0000,
        end: 0x0040_0000,
    },
    ram: Area {
        base: 0x2008_0000,
        end: 0x2040_0000,
    },
    rule: RegionRule::PowerOfTwo {
        min: MPU_MIN_REGION,
    },
    flash_gap: 0,
    ram_guard: 0,
};

/// The three regions of one task.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TaskLayout {
    /// Text and read-only data.
    pub flash: Region,
    /// Stack, data and bss; on the hosted board the guard lies just below
    /// `ram.base`.
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

/// What one task needs, measured from a trial link.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskUsage {
    /// Bytes of flash: ELF headers, text and read-only data.
    pub flash: u64,
    /// Bytes of RAM: the stack, data and bss.
    pub ram: u64,
}

/// Which of a task's two regions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Text and read-only data.
    Flash,
    /// Stack, data and bss.
    Ram,
}

impl Memory {
    /// `flash` or `ram`, as app.toml's `max-sizes` spells it.
    pub fn key(self) -> &'static str {
        match self {
            Self::Flash => "flash",
            Self::Ram => "ram",
        }
    }
}

/// Why a task could not be placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PlaceError {
    /// The region's size does not fit in 32 bits.
    TooBig {
        index: usize,
        memory: Memory,
        used: u64,
    },
    /// The region `[base, end)` would end past its area.
    NoRoom {
        index: usize,
        memory: Memory,
        size: u32,
        base: u64,
        end: u64,
    },
}

/// One task's input to [`place`].
#[derive(Copy, Clone, Debug)]
pub(crate) struct Need {
    pub usage: TaskUsage,
    pub stack: u32,
}

/// Rounds `x` up to a multiple of `align` (a power of two). Done in u64
/// so that sizes near `u32::MAX` cannot wrap.
pub(crate) fn round_up(x: u32, align: u32) -> u64 {
    let align = u64::from(align);
    u64::from(x).div_ceil(align) * align
}

/// Places every task in `map`, or names the first that does not fit.
pub(crate) fn place(
    map: &MemoryMap,
    needs: &[Need],
) -> Result<Vec<TaskLayout>, PlaceError> {
    let flash =
        place_area(map, map.flash, map.flash_gap, 0, needs, Memory::Flash)?;
    let ram = place_area(map, map.ram, 0, map.ram_guard, needs, Memory::Ram)?;
    Ok(flash
        .into_iter()
        .zip(ram)
        .zip(needs)
        .map(|((flash, ram), need)| {
            let stack_end =
                u64::from(ram.base) + round_up(need.stack, STACK_ALIGN);
            let ram_end = u64::from(ram.base) + u64::from(ram.size);
            TaskLayout {
                flash,
                ram,
                stack: region(u64::from(ram.base), stack_end.min(ram_end)),
            }
        })
        .collect())
}

/// Places one kind of region for every task; returns them in task order.
fn place_area(
    map: &MemoryMap,
    area: Area,
    gap_after: u32,
    guard_before: u32,
    needs: &[Need],
    memory: Memory,
) -> Result<Vec<Region>, PlaceError> {
    let mut sizes = Vec::with_capacity(needs.len());
    for (index, need) in needs.iter().enumerate() {
        let used = match memory {
            Memory::Flash => need.usage.flash,
            Memory::Ram => need.usage.ram,
        };
        let size = map.rule.region_size(used).ok_or(PlaceError::TooBig {
            index,
            memory,
            used,
        })?;
        sizes.push(size);
    }
    // Hosted regions go in task order; MPU regions largest first (ties in
    // task order, so the result is still a function of the input).
    let mut order: Vec<usize> = (0..needs.len()).collect();
    if let RegionRule::PowerOfTwo { .. } = map.rule {
        order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    }
    let align = |size: u32| match map.rule {
        RegionRule::PageRounded { page } => u64::from(page),
        RegionRule::PowerOfTwo { .. } => u64::from(size),
    };
    let mut out = vec![Region { base: 0, size: 0 }; needs.len()];
    let mut cursor = u64::from(area.base);
    for index in order {
        let size = sizes[index];
        let base =
            (cursor + u64::from(guard_before)).next_multiple_of(align(size));
        let end = base + u64::from(size);
        if end > u64::from(area.end) {
            return Err(PlaceError::NoRoom {
                index,
                memory,
                size,
                base,
                end,
            });
        }
        out[index] = region(base, end);
        cursor = end + u64::from(gap_after);
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

    fn need(flash: u64, ram: u64, stack: u32) -> Need {
        Need {
            usage: TaskUsage { flash, ram },
            stack,
        }
    }

    fn mpu(flash: Area, ram: Area) -> MemoryMap {
        MemoryMap {
            flash,
            ram,
            rule: RegionRule::PowerOfTwo {
                min: MPU_MIN_REGION,
            },
            flash_gap: 0,
            ram_guard: 0,
        }
    }

    #[test]
    fn hosted_regions_are_page_rounded_in_order_with_gaps_and_guards() {
        let l =
            place(&HOSTED_MEMORY, &[need(1, 5000, 17), need(4096, 4096, 16)]);
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
    fn nothing_used_still_gets_one_page() {
        let l = place(&HOSTED_MEMORY, &[need(0, 0, 0)]).expect("fits");
        assert_eq!(l[0].flash.size, 4096);
        assert_eq!(l[0].ram.size, 4096);
    }

    #[test]
    fn hosted_flash_that_reaches_the_ram_area_does_not_fit() {
        let fits = u64::from(FLASH_END - FLASH_BASE);
        assert!(place(&HOSTED_MEMORY, &[need(fits, 8192, 16)]).is_ok());
        let err =
            place(&HOSTED_MEMORY, &[need(fits, 8192, 16), need(1, 8192, 16)]);
        assert_eq!(
            err,
            Err(PlaceError::NoRoom {
                index: 1,
                memory: Memory::Flash,
                size: 4096,
                base: u64::from(FLASH_END) + 4096,
                end: u64::from(FLASH_END) + 8192,
            })
        );
    }

    #[test]
    fn huge_sizes_fail_without_wrapping() {
        let err =
            place(&HOSTED_MEMORY, &[need(u64::from(u32::MAX) + 1, 8192, 16)]);
        assert!(matches!(err, Err(PlaceError::TooBig { index: 0, .. })));
        let err = place(&HOSTED_MEMORY, &[need(4096, u64::from(u32::MAX), 16)]);
        assert!(matches!(
            err,
            Err(PlaceError::TooBig {
                index: 0,
                memory: Memory::Ram,
                ..
            })
        ));
    }

    #[test]
    fn mpu_regions_are_powers_of_two_aligned_to_their_size_largest_first() {
        let map = mpu(
            Area {
                base: 0x0000_0000,
                end: 0x0040_0000,
            },
            Area {
                base: 0x2000_0000,
                end: 0x2004_0000,
            },
        );
        let needs = [
            need(5000, 1000, 512),
            need(20, 9000, 1024),
            need(40_000, 3000, 256),
        ];
        let l = place(&map, &needs).expect("fits");
        // Sizes: flash 8 KiB, 32 B, 64 KiB; RAM 1 KiB, 16 KiB, 4 KiB.
        let sizes: Vec<u32> = l.iter().map(|t| t.flash.size).collect();
        assert_eq!(sizes, [8192, 32, 65536]);
        let sizes: Vec<u32> = l.iter().map(|t| t.ram.size).collect();
        assert_eq!(sizes, [1024, 16384, 4096]);
        for t in &l {
            for r in [t.flash, t.ram] {
                assert!(r.size.is_power_of_two());
                assert_eq!(r.base % r.size, 0, "{r:?} is aligned to its size");
            }
        }
        // Largest first, packed without holes.
        assert_eq!(l[2].flash.base, 0);
        assert_eq!(l[0].flash.base, 65536);
        assert_eq!(l[1].flash.base, 65536 + 8192);
        assert_eq!(l[1].ram.base, 0x2000_0000);
        assert_eq!(l[2].ram.base, 0x2000_4000);
        assert_eq!(l[0].ram.base, 0x2000_5000);
        assert_eq!(
            l[0].stack,
            Region {
                base: 0x2000_5000,
                size: 512
            }
        );
    }

    #[test]
    fn an_mpu_region_that_cannot_be_aligned_in_its_area_does_not_fit() {
        // 80 KiB of RAM holds 48 KiB of data, but not as one 64 KiB
        // region aligned to 64 KiB: the first such address above
        // 0x2000_4000 is 0x2001_0000, and the region would end past
        // 0x2001_8000.
        let map = mpu(
            Area {
                base: 0,
                end: 0x1_0000,
            },
            Area {
                base: 0x2000_4000,
                end: 0x2001_8000,
            },
        );
        let err = place(&map, &[need(100, 48 * 1024, 1024)]);
        assert_eq!(
            err,
            Err(PlaceError::NoRoom {
                index: 0,
                memory: Memory::Ram,
                size: 0x1_0000,
                base: 0x2001_0000,
                end: 0x2002_0000,
            })
        );
    }
}
