//! Everything that touches the processor's exception model: the vector
//! table, reset, the register save and restore around every kernel entry,
//! SysTick and the system control block.
//!
//! Why every entry saves the whole context: the kernel may decide, in any
//! entry, that another task runs next (a syscall that blocks, a reply
//! that wakes a more important task, a fault, a timer). Hubris saves in
//! SVC and PendSV and has interrupts pend PendSV when a switch is due; we
//! do the same (SysTick only counts and pends PendSV), and fault handlers
//! switch too, since the faulting task must never run again.
//!
//! The hardware stacks r0–r3, r12, lr, pc and xPSR on the task's PSP (and,
//! if the task used the FPU, reserves room for s0–s15 and FPSCR, filled
//! lazily). We save r4–r11, PSP, EXC_RETURN and, for a task with an FPU
//! frame, s16–s31; that `vstm` is also the first FPU instruction in the
//! handler, so it makes the hardware complete its lazy save of s0–s15
//! into the outgoing task's frame before anything else can use them.

use crate::board::with_board;

/// A task's registers while it is not running. The layout is the asm's.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct SavedRegs {
    /// r4–r11: a syscall's arguments (r4–r10) and number (r11) on entry,
    /// its results on return.
    pub r: [u32; 8],
    pub psp: u32,
    pub exc_return: u32,
    /// s16–s31, valid when `exc_return` says the frame has FPU state.
    pub s: [u32; 16],
}

/// Return to thread mode, on PSP, without FPU state.
const EXC_RETURN_THREAD_PSP: u32 = 0xFFFF_FFFD;
/// The Thumb bit of xPSR, the only one an initial frame sets.
const XPSR_THUMB: u32 = 1 << 24;

impl SavedRegs {
    pub const ZERO: Self = Self {
        r: [0; 8],
        psp: 0,
        exc_return: 0,
        s: [0; 16],
    };

    /// A task about to run `entry` with an empty stack below `stack_top`:
    /// an exception frame is pushed there, which the return from the
    /// kernel pops.
    pub fn initial(stack_top: u32, entry: u32) -> Self {
        let frame_at = (stack_top & !7).wrapping_sub(32);
        let frame = [0, 0, 0, 0, 0, 0, entry & !1, XPSR_THUMB];
        // Safety: the frame lies at the top of the task's stack, in its
        // RAM, which the kernel has just initialised and no one runs on.
        unsafe {
            core::ptr::copy_nonoverlapping(
                frame.as_ptr(),
                frame_at as *mut u32,
                frame.len(),
            );
        }
        Self {
            psp: frame_at,
            exc_return: EXC_RETURN_THREAD_PSP,
            ..Self::ZERO
        }
    }
}

/// The saved registers of the task the next exception return enters. The
/// entry code saves into it and restores from it; only [`set_current`]
/// changes it, always inside a kernel entry.
#[unsafe(no_mangle)]
static mut CURRENT_SAVE: *mut SavedRegs = &raw mut BOOT_SAVE;

/// Where the boot thread's registers go when it makes the first `svc`; it
/// never runs again.
static mut BOOT_SAVE: SavedRegs = SavedRegs::ZERO;

/// Makes thread mode unprivileged from the next exception return on:
/// every task runs so. Called once, by the boot thread's `svc`.
pub fn unprivileged_threads() {
    // Safety: CONTROL.nPRIV only affects thread mode, which resumes when
    // this exception returns (into a task, whose registers are set up).
    unsafe {
        core::arch::asm!("msr control, {0}", "isb", in(reg) 1u32);
    }
}

/// Makes `save` the context the current exception returns into.
pub fn set_current(save: &mut SavedRegs) {
    // Safety: only kernel entries (which never nest) call this, and the
    // pointer stays valid: it points into the board, which lives forever.
    unsafe { CURRENT_SAVE = save };
}

/// An exception entry that may switch tasks: saves the context into
/// `*CURRENT_SAVE`, calls `$handler`, and returns into whatever
/// `*CURRENT_SAVE` is then.
macro_rules! switching_entry {
    ($name:ident, $handler:path) => {
        #[unsafe(naked)]
        unsafe extern "C" fn $name() {
            core::arch::naked_asm!(
                // Naked functions do not get the crate's target features.
                ".fpu fpv4-sp-d16",
                "movw r0, :lower16:CURRENT_SAVE",
                "movt r0, :upper16:CURRENT_SAVE",
                "ldr r0, [r0]",
                "mrs r1, psp",
                "stm r0, {{r4-r11}}",
                "str r1, [r0, #32]",
                "str lr, [r0, #36]",
                "tst lr, #0x10",
                "bne 1f",
                "add r2, r0, #40",
                "vstm r2, {{s16-s31}}",
                "1:",
                "bl {handler}",
                "movw r0, :lower16:CURRENT_SAVE",
                "movt r0, :upper16:CURRENT_SAVE",
                "ldr r0, [r0]",
                "ldr r1, [r0, #32]",
                "msr psp, r1",
                "ldr lr, [r0, #36]",
                "tst lr, #0x10",
                "bne 2f",
                "add r2, r0, #40",
                "vldm r2, {{s16-s31}}",
                "2:",
                "ldm r0, {{r4-r11}}",
                "bx lr",
                handler = sym $handler,
            )
        }
    };
}

switching_entry!(svc_entry, on_svc);
switching_entry!(pendsv_entry, on_pendsv);
switching_entry!(fault_entry, on_fault);

extern "C" fn on_svc() {
    with_board(|b| b.syscall());
}

extern "C" fn on_pendsv() {
    with_board(|b| b.reschedule());
}

/// EXC_RETURN bit 3: the exception was taken from thread mode.
const EXC_RETURN_FROM_THREAD: u32 = 1 << 3;

extern "C" fn on_fault() {
    let status = crate::faults::Status::take();
    // Safety: read inside the kernel entry that saved it.
    let exc_return = unsafe { (*CURRENT_SAVE).exc_return };
    if exc_return & EXC_RETURN_FROM_THREAD == 0 {
        panic!(
            "fault in the kernel: CFSR {:#010x} HFSR {:#010x} MMFAR {:#010x} \
             BFAR {:#010x}",
            status.cfsr, status.hfsr, status.mmfar, status.bfar
        );
    }
    // A task's SVC whose frame could not be pushed stays pending; it must
    // not be taken later on behalf of the next task.
    write(SHCSR, read(SHCSR) & !SHCSR_SVCALLPENDED);
    with_board(|b| b.fault(status));
}

extern "C" fn on_systick() {
    if with_board(|b| b.tick()) {
        write(ICSR, ICSR_PENDSVSET);
    }
}

extern "C" fn on_nmi() {
    panic!("NMI");
}

/// The reset vector: `.data` copied, `.bss` zeroed (before any Rust code
/// touches a static), then `boot`.
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn reset() -> ! {
    core::arch::naked_asm!(
        "ldr r0, =__data_start",
        "ldr r1, =__data_end",
        "ldr r2, =__data_load",
        "1: cmp r0, r1",
        "bhs 2f",
        "ldr r3, [r2], #4",
        "str r3, [r0], #4",
        "b 1b",
        "2: ldr r0, =__bss_start",
        "ldr r1, =__bss_end",
        "movs r3, #0",
        "3: cmp r0, r1",
        "bhs 4f",
        "str r3, [r0], #4",
        "b 3b",
        "4: bl {boot}",
        "udf #0",
        boot = sym boot,
    )
}

type Handler = unsafe extern "C" fn();

/// The vector table after the initial stack pointer (which the linker
/// script puts first): the ARMv7-M system exceptions.
#[unsafe(link_section = ".vectors")]
#[unsafe(no_mangle)]
#[used]
static VECTORS: [Option<Handler>; 15] = [
    Some(reset_vector),
    Some(on_nmi_vector),
    Some(fault_entry), // HardFault
    Some(fault_entry), // MemManage
    Some(fault_entry), // BusFault
    Some(fault_entry), // UsageFault
    None,
    None,
    None,
    None,
    Some(svc_entry),
    None, // DebugMonitor
    None,
    Some(pendsv_entry),
    Some(systick_vector),
];

unsafe extern "C" fn reset_vector() {
    // Safety: the hardware calls the reset vector once, at reset.
    unsafe { reset() }
}

unsafe extern "C" fn on_nmi_vector() {
    on_nmi()
}

unsafe extern "C" fn systick_vector() {
    on_systick()
}

const ICSR: usize = 0xE000_ED04;
const ICSR_PENDSVSET: u32 = 1 << 28;
const CCR: usize = 0xE000_ED14;
const CCR_DIV_0_TRP: u32 = 1 << 4;
const SHPR1: usize = 0xE000_ED18;
const SHPR2: usize = 0xE000_ED1C;
const SHPR3: usize = 0xE000_ED20;
const SHCSR: usize = 0xE000_ED24;
const SHCSR_SVCALLPENDED: u32 = 1 << 15;
const SHCSR_FAULTS_ENABLED: u32 = (1 << 16) | (1 << 17) | (1 << 18);
const CPACR: usize = 0xE000_ED88;
const CPACR_FPU_FULL: u32 = 0xF << 20;
const SYST_CSR: usize = 0xE000_E010;
const SYST_RVR: usize = 0xE000_E014;
const SYST_CVR: usize = 0xE000_E018;
/// The MPS2's core clock; SysTick counts it.
const CORE_HZ: u32 = 25_000_000;

/// Nanoseconds per SysTick count (the core clock's period).
const NS_PER_COUNT: u64 = 1_000_000_000 / CORE_HZ as u64;
/// ICSR: a SysTick interrupt is pending (not yet counted in `ticks`).
const ICSR_PENDSTSET: u32 = 1 << 26;

/// Time since the kernel started SysTick at boot, in nanoseconds of the
/// core clock, given the milliseconds counted so far: the count within
/// the current millisecond comes from SysTick's current value, so the
/// resolution is one core clock (40 ns). Under QEMU's `-icount shift=0`
/// it is guest instructions. Called in a kernel entry, where SysTick
/// cannot preempt: a reload that happened since the last tick is seen as
/// a pending SysTick and counted here.
pub fn uptime_ns(ticks: u64) -> u64 {
    let reload = u64::from(read(SYST_RVR));
    loop {
        let pending = read(ICSR) & ICSR_PENDSTSET != 0;
        let current = u64::from(read(SYST_CVR));
        if (read(ICSR) & ICSR_PENDSTSET != 0) != pending {
            // It reloaded between the two reads: read again.
            continue;
        }
        let ms = ticks.wrapping_add(u64::from(pending));
        let counted = reload.saturating_sub(current);
        return ms
            .wrapping_mul(1_000_000)
            .wrapping_add(counted.wrapping_mul(NS_PER_COUNT));
    }
}

fn read(register: usize) -> u32 {
    // Safety: a system control register, read by privileged code.
    unsafe { core::ptr::read_volatile(register as *const u32) }
}

fn write(register: usize, value: u32) {
    // Safety: a system control register, written by privileged code.
    unsafe { core::ptr::write_volatile(register as *mut u32, value) }
}

extern "C" fn boot() -> ! {
    // The FPU, for tasks; its lazy stacking (FPCCR.ASPEN/LSPEN) is on
    // from reset.
    write(CPACR, read(CPACR) | CPACR_FPU_FULL);
    // Faults get their own handlers instead of escalating, and an
    // integer division by zero traps.
    write(SHCSR, read(SHCSR) | SHCSR_FAULTS_ENABLED);
    write(CCR, read(CCR) | CCR_DIV_0_TRP);
    // Every kernel entry at the lowest priority: none preempts another,
    // so the kernel is never re-entered. A fault *in* the kernel cannot
    // be taken at that priority and escalates to HardFault, which
    // `on_fault` reports as a kernel fault.
    write(SHPR1, 0x00FF_FFFF);
    write(SHPR2, 0xFF00_0000);
    write(SHPR3, 0xFFFF_0000);
    // SysTick starts first, so that `uptime_ns` measures the whole boot;
    // its interrupts wait (PRIMASK) until the board they update exists.
    // Safety: masks configurable-priority exceptions; unmasked below.
    unsafe { core::arch::asm!("cpsid i") };
    write(SYST_RVR, CORE_HZ / 1000 - 1);
    write(SYST_CVR, 0);
    write(SYST_CSR, 0b111);
    crate::console::init();
    crate::console::klog!(
        "Leasehold on mps2-an386: {} tasks, image {:016x}",
        crate::config::TASK_COUNT,
        crate::config::IMAGE_ID
    );
    crate::mpu::init();
    crate::init_heap();
    crate::board::init();
    // Safety: the board exists; a SysTick that came due meanwhile is
    // taken here and counted.
    unsafe { core::arch::asm!("cpsie i") };
    // The first `svc` (which `Board::syscall` takes as the start signal,
    // calling `unprivileged_threads`) enters the first task, and this
    // thread never runs again. It stays privileged until then: an
    // interrupt taken here is stacked on the kernel's own stack, which
    // unprivileged code could not write.
    // Safety: a trap into our own SVC handler.
    unsafe { core::arch::asm!("svc #0") };
    loop {
        core::hint::spin_loop();
    }
}
