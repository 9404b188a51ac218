//! The looper: panics as soon as it starts while jefe's system state is
//! [`CRASH_LOOP_STATE`], which is how the suite makes a crash-looping task
//! for jefe to throttle. Otherwise it checks the state every
//! [`POLL_MS`], so that setting it starts the loop.

#![no_std]
#![no_main]

use super_api::CRASH_LOOP_STATE;
use task_jefe_api::Jefe;
use userlib::*;

task_slot!(JEFE, jefe);

/// How often, in ms, we look at jefe's state.
const POLL_MS: u64 = 10;

#[unsafe(export_name = "main")]
fn main() -> ! {
    let jefe = Jefe::from(JEFE.get_task_id());
    loop {
        if jefe.get_state() == CRASH_LOOP_STATE {
            panic!("looper: crash loop");
        }
        hl::sleep_for(POLL_MS);
    }
}
