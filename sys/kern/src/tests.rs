//! Unit and property tests of the core with in-memory tasks, one module
//! per subject; what they share (the fake platform, the four-task
//! system, the calls and lease scenarios) is in [`fixture`].

// Tests check the effects an event returns where they are the point.
#![allow(unused_must_use)]

use crate::task::{MemoryRegion, Task, TaskDesc};
use crate::{
    Effects, Kernel, Location, MemoryError, Peripheral, PeripheralFault,
    Platform,
};
use abi::*;
use fixture::*;
use proptest::prelude::*;

mod attacks_on_leases;
mod attacks_on_syscalls;
mod fixture;
mod forwarding;
mod fuzz_corpus;
mod grants;
mod ipc;
mod ipc_edges;
mod ipc_property;
mod irqs;
mod kipc_replies;
mod lease_info;
mod peripheral_io;
mod random_syscalls;
mod reply_recv;
mod timers_irqs;
