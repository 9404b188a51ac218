//! The kernel's own trace: a `ringbuf!` of platform events (task starts,
//! faults, kills, debugger requests), the same crate and format tasks use,
//! so a newcomer reads one kind of trace everywhere. The debug probe's
//! `trace` request returns it, oldest first.

use abi::FaultInfo;

/// One platform event.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Trace {
    None,
    Booted { tasks: u16 },
    Started { task: u16, generation: u8, pid: i32 },
    Faulted { task: u16, fault: FaultInfo },
    Killed { task: u16, pid: i32 },
    Reaped { pid: i32 },
    ForbiddenTrap { task: u16, number: u32 },
    ProbeConnected,
    DumpWritten,
    Shutdown { code: u8 },
}

ringbuf::ringbuf!(KERNEL_RINGBUF, Trace, 256, Trace::None);

/// Records an event.
pub fn record(t: Trace) {
    ringbuf::ringbuf_entry!(KERNEL_RINGBUF, t);
}

/// The trace, oldest first, as `(line, generation, count, event)` rows.
pub fn entries() -> Vec<(u16, u16, u16, String)> {
    let Some(buf) = KERNEL_RINGBUF.try_borrow_mut() else {
        return Vec::new();
    };
    buf.iter()
        .filter(|e| e.payload != Trace::None)
        .map(|e| (e.line, e.generation, e.count, format!("{:?}", e.payload)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_back_oldest_first_with_repeats_counted() {
        record(Trace::Booted { tasks: 3 });
        record(Trace::ProbeConnected);
        record(Trace::ProbeConnected);
        let e = entries();
        let tail: Vec<_> = e.iter().rev().take(2).collect();
        assert_eq!(tail[0].3, "ProbeConnected");
        assert!(
            tail[0].2 >= 2,
            "a repeated event is counted, not stored twice"
        );
        assert!(e.iter().any(|x| x.3 == "Booted { tasks: 3 }"));
    }
}
