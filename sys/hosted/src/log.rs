//! The kernel's log: lines on stdout, prefixed `kernel: `.
//!
//! Stdout is not ours to rely on: `cargo xtask run app.toml | head` closes
//! it under us, and `println!` would then panic on `EPIPE` and take every
//! task with it. A line that cannot be written is dropped; the system goes
//! on.

use std::io::Write;

/// Writes one log line; never fails.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "kernel: {args}");
    let _ = out.flush();
}

/// A task's console line, `[name] text`; never fails.
pub fn console(task: &str, text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "[{task}] {text}");
    let _ = out.flush();
}

/// `klog!("...", args)`: one kernel log line.
macro_rules! klog {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}
pub(crate) use klog;

/// Lets the first `burst` events of a kind through, then one in every
/// `every`: a crash loop or a connection flood must not drown the log (or
/// fill a disk through it).
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    seen: u64,
    burst: u64,
    every: u64,
}

impl RateLimit {
    pub const fn new(burst: u64, every: u64) -> Self {
        Self {
            seen: 0,
            burst,
            every,
        }
    }

    /// Counts one event; `Some(n)` (its number, from 0) if it should be
    /// logged.
    pub fn admit(&mut self) -> Option<u64> {
        let n = self.seen;
        self.seen = self.seen.saturating_add(1);
        let periodic = self.every != 0 && n.is_multiple_of(self.every);
        (n < self.burst || periodic).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_lets_a_burst_then_one_in_every_through() {
        let mut r = RateLimit::new(3, 10);
        let admitted: Vec<u64> = (0..25).filter_map(|_| r.admit()).collect();
        assert_eq!(admitted, vec![0, 1, 2, 10, 20]);
    }
}
