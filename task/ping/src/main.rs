//! Ping: sends to pong forever, checking every reply, and survives pong's
//! restarts by refreshing its id on the dead code.

#![no_std]
#![no_main]

use userlib::*;

task_slot!(PONG, pong);

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut pong = PONG.get_task_id();
    let mut reply = [0u8; 16];
    let mut count: u32 = 0;
    loop {
        let msg = count.to_le_bytes();
        let (rc, n) = sys_send(pong, 1, &msg, &mut reply, &[]);
        if let Some(g) = extract_new_generation(rc) {
            pong = TaskId::for_index_and_gen(pong.index(), g);
            continue;
        }
        assert_eq!(rc, 0, "pong answered {rc:#x}");
        assert_eq!(&reply[..n], &msg, "pong echoed the wrong bytes");
        count = count.wrapping_add(1);
        if count.is_multiple_of(1000) {
            hl::sleep_for(100);
        }
    }
}
