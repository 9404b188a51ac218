//! What the fault status registers say, as a `FaultInfo`: the same
//! vocabulary the hosted board derives from Linux signals.

use abi::{FaultInfo, FaultSource};

const CFSR: usize = 0xE000_ED28;
const HFSR: usize = 0xE000_ED2C;
const MMFAR: usize = 0xE000_ED34;
const BFAR: usize = 0xE000_ED38;

// MemManage (CFSR bits 0-7).
const IACCVIOL: u32 = 1 << 0;
const DACCVIOL: u32 = 1 << 1;
const MUNSTKERR: u32 = 1 << 3;
const MSTKERR: u32 = 1 << 4;
const MLSPERR: u32 = 1 << 5;
const MMARVALID: u32 = 1 << 7;
// BusFault (bits 8-15).
const IBUSERR: u32 = 1 << 8;
const STKERR: u32 = 1 << 12;
const LSPERR: u32 = 1 << 13;
const BFARVALID: u32 = 1 << 15;
// UsageFault (bits 16-31).
const UNDEFINSTR: u32 = 1 << 16;
const INVSTATE: u32 = 1 << 17;
const DIVBYZERO: u32 = 1 << 25;

fn read(register: usize) -> u32 {
    // Safety: a fault status register in the system control space.
    unsafe { core::ptr::read_volatile(register as *const u32) }
}

/// The status registers at one fault, read once and then cleared (they
/// are write-one-to-clear, and MMFAR/BFAR keep stale values otherwise).
#[derive(Copy, Clone, Debug)]
pub struct Status {
    pub cfsr: u32,
    pub hfsr: u32,
    pub mmfar: u32,
    pub bfar: u32,
}

impl Status {
    pub fn take() -> Self {
        let status = Self {
            cfsr: read(CFSR),
            hfsr: read(HFSR),
            mmfar: read(MMFAR),
            bfar: read(BFAR),
        };
        // Safety: write-one-to-clear status registers.
        unsafe {
            core::ptr::write_volatile(CFSR as *mut u32, status.cfsr);
            core::ptr::write_volatile(HFSR as *mut u32, status.hfsr);
        }
        status
    }
}

/// Classifies a fault of a task whose RAM begins at `ram_base` (its stack
/// is at the bottom) and whose stack pointer was `sp` when the fault was
/// taken.
///
/// A stack overflow is recognised by the hardware failing to push the
/// exception frame: a task whose stack pointer has left its RAM cannot
/// take any exception without that, so every overflow shows it. A stray
/// access just below the RAM with the stack pointer still inside is an
/// ordinary memory fault (below us lies another task's region, not a
/// guard).
pub fn classify(s: Status, ram_base: u32, sp: u32) -> FaultInfo {
    let cfsr = s.cfsr;
    if cfsr & (MSTKERR | MLSPERR | STKERR | LSPERR) != 0 {
        let address = match cfsr & MMARVALID != 0 && s.mmfar < ram_base {
            true => s.mmfar,
            false => sp,
        };
        return FaultInfo::StackOverflow { address };
    }
    if cfsr & IACCVIOL != 0 {
        return FaultInfo::IllegalText;
    }
    if cfsr & (DACCVIOL | MUNSTKERR) != 0 {
        let address = (cfsr & MMARVALID != 0).then_some(s.mmfar);
        return FaultInfo::MemoryAccess {
            address,
            source: FaultSource::User,
        };
    }
    if cfsr & 0xFF00 != 0 {
        let address =
            (cfsr & BFARVALID != 0 && cfsr & IBUSERR == 0).then_some(s.bfar);
        return FaultInfo::BusError {
            address,
            source: FaultSource::User,
        };
    }
    if cfsr & DIVBYZERO != 0 {
        return FaultInfo::DivideByZero;
    }
    if cfsr & (UNDEFINSTR | INVSTATE) != 0 {
        return FaultInfo::IllegalInstruction;
    }
    // Other UsageFaults (an invalid EXC_RETURN, no coprocessor, an
    // unaligned access) and faults escalated to HardFault, with the raw
    // status as Hubris reports it.
    FaultInfo::InvalidOperation(if cfsr != 0 { cfsr } else { s.hfsr })
}
