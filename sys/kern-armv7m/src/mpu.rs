//! The ARMv7-M MPU (PMSAv7): the running task sees its flash (read and
//! execute) and its RAM (read and write, never execute), nothing else.
//!
//! The build placed both regions at a power-of-two size aligned to that
//! size, which is what one MPU region can describe (a misaligned region
//! would silently deny everything). The kernel runs privileged with
//! PRIVDEFENA, so it keeps the default map for all other memory.

const MPU_CTRL: usize = 0xE000_ED94;
const MPU_RNR: usize = 0xE000_ED98;
const MPU_RBAR: usize = 0xE000_ED9C;
const MPU_RASR: usize = 0xE000_EDA0;

const CTRL_ENABLE: u32 = 1 << 0;
const CTRL_PRIVDEFENA: u32 = 1 << 2;

const RASR_ENABLE: u32 = 1;
const RASR_XN: u32 = 1 << 28;
/// AP = 0b110: read-only for privileged and unprivileged code.
const AP_READ_ONLY: u32 = 0b110 << 24;
/// AP = 0b011: read-write for both.
const AP_READ_WRITE: u32 = 0b011 << 24;
/// Normal memory, write-back (TEX 0, C 1, B 1).
const NORMAL: u32 = (1 << 17) | (1 << 16);

/// The number of regions the Cortex-M4 has; those past the task's two
/// are disabled on every switch.
const REGIONS: u32 = 8;

fn write(register: usize, value: u32) {
    // Safety: the MPU's registers, in the system control space, written
    // by the privileged kernel with interrupts at kernel priority.
    unsafe { core::ptr::write_volatile(register as *mut u32, value) }
}

/// The RASR size field for a power-of-two `size` of at least 32 bytes.
fn size_field(size: u32) -> u32 {
    (size.trailing_zeros().saturating_sub(1) & 0x1F) << 1
}

fn set(region: u32, base: u32, size: u32, attributes: u32) {
    write(MPU_RNR, region);
    write(MPU_RBAR, base & !0x1F);
    write(MPU_RASR, attributes | size_field(size) | RASR_ENABLE);
}

/// Enables the MPU with no task regions: until the first task runs only
/// the privileged default map applies.
pub fn init() {
    for region in 0..REGIONS {
        write(MPU_RNR, region);
        write(MPU_RASR, 0);
    }
    write(MPU_CTRL, CTRL_ENABLE | CTRL_PRIVDEFENA);
}

/// Gives the processor `flash` and `ram` (each `(base, size)`) as the
/// unprivileged code's only memory.
pub fn apply(flash: (u32, u32), ram: (u32, u32)) {
    set(0, flash.0, flash.1, AP_READ_ONLY | NORMAL);
    set(1, ram.0, ram.1, AP_READ_WRITE | RASR_XN | NORMAL);
}
