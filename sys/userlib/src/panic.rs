//! The panic handler: the message goes to the kernel, which keeps it for
//! `read_panic_message` and faults us with `FaultInfo::Panic`.

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut buf = crate::fmt::FixedBuf::<{ abi::PANIC_MESSAGE_MAX }>::new();
    if cfg!(feature = "panic-messages") {
        use core::fmt::Write;
        // A message longer than the buffer is truncated, not an error.
        let _ = write!(buf, "{info}");
    }
    crate::sys_panic(buf.as_bytes())
}
