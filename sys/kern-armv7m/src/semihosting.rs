//! The one semihosting call we make: ending the emulation with an exit
//! status, which is how `cargo xtask test` learns a test image's verdict
//! (QEMU runs with `-semihosting-config enable=on,target=native`).

/// `SYS_EXIT_EXTENDED`: exit with a status code (ARM semihosting 2.0).
const SYS_EXIT_EXTENDED: u32 = 0x20;
/// `ADP_Stopped_ApplicationExit`: a normal exit, with the code given.
const APPLICATION_EXIT: u32 = 0x2_0026;

/// Stops QEMU with exit status `code` (QEMU reports it modulo 256).
pub fn exit(code: u32) -> ! {
    let block = [APPLICATION_EXIT, code];
    loop {
        // Safety: a semihosting trap reads the two-word block and does
        // not return when the debugger (QEMU) honours it.
        unsafe {
            core::arch::asm!(
                "bkpt #0xab",
                inout("r0") SYS_EXIT_EXTENDED => _,
                in("r1") block.as_ptr(),
                options(nostack, readonly),
            );
        }
    }
}
