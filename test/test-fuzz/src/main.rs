//! The syscall fuzzer: asks its supervisor for a seed, then makes random
//! syscalls with arguments that are sometimes plausible and often garbage
//! (random numbers, pointers outside its memory, huge lengths, lease
//! tables full of nonsense, bad frame addresses), until the kernel faults
//! it. The supervisor checks the fault and starts it again with a new seed.
//!
//! Blocking calls are kept from hanging by arming the reserved timer bit
//! before each call and folding it into any RECV mask.

#![no_std]
#![no_main]

use userlib::*;

task_slot!(RUNNER, runner);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as u32
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

/// Our own stack: a plausible place for buffers and lease tables.
fn plausible_pointer(rng: &mut Rng, scratch: &mut [u8; 512]) -> u32 {
    let base = scratch.as_ptr() as usize as u32;
    base + rng.below(512)
}

fn argument(rng: &mut Rng, scratch: &mut [u8; 512]) -> u32 {
    match rng.below(8) {
        0 => rng.next(),
        1 => rng.below(64),
        2 => plausible_pointer(rng, scratch),
        3 => 0xFFFF_FFFF - rng.below(16),
        4 => rng.below(8) << 16 | rng.below(4),
        5 => 0x1000 + rng.below(0x1000),
        6 => 0,
        _ => rng.below(1 << 20),
    }
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let runner = RUNNER.get_task_id();
    let mut reply = [0u8; 8];
    sys_send(runner, 1, &[], &mut reply, &[]);
    let seed = u64::from_le_bytes(reply) | 1;
    let mut rng = Rng(seed);
    let mut scratch = [0u8; 512];
    // Nonsense in the scratch area, which some calls use as a lease table.
    for b in scratch.iter_mut() {
        *b = rng.next() as u8;
    }
    loop {
        let now = sys_get_timer().now;
        sys_set_timer(Some(now + 2), INTERNAL_TIMER_NOTIFICATION);
        let nr = rng.below(17);
        if rng.below(64) == 0 {
            let frame = rng.next() as u64 | (rng.below(2) as u64) << 40;
            raw::syscall_with_frame(nr, frame);
            continue;
        }
        let mut args = [0u32; 8];
        for a in args.iter_mut() {
            *a = argument(&mut rng, &mut scratch);
        }
        if nr == Sysnum::Recv as u32 {
            args[2] |= INTERNAL_TIMER_NOTIFICATION;
            if rng.below(2) == 0 {
                // Closed receives from anyone but the kernel could wait
                // forever for a sender that never comes.
                args[3] = RECV_CLOSED | TaskId::KERNEL.0 as u32;
            }
        }
        if nr == Sysnum::Send as u32 && args[0] >> 16 == runner.0 as u32 {
            // Our one legitimate peer only understands op 1.
            args[0] = (args[0] & 0xFFFF_0000) | 2;
        }
        raw::syscall(nr, args);
    }
}
