//! The panic handler: the message goes to the kernel, which keeps it for
//! `read_panic_message` and faults us with `FaultInfo::Panic`.

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut buf = Buffer {
        bytes: [0; abi::PANIC_MESSAGE_MAX],
        len: 0,
    };
    if cfg!(feature = "panic-messages") {
        use core::fmt::Write;
        // A message longer than the buffer is truncated, not an error.
        let _ = write!(buf, "{info}");
    }
    crate::sys_panic(&buf.bytes[..buf.len])
}

/// A fixed buffer that keeps whatever fits.
#[cfg(target_os = "none")]
struct Buffer {
    bytes: [u8; abi::PANIC_MESSAGE_MAX],
    len: usize,
}

#[cfg(target_os = "none")]
impl core::fmt::Write for Buffer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
