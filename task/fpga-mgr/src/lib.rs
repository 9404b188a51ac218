//! The FPGA manager's pure parts, host-testable: Linux's load sequence
//! ([`loader`]), the per-device lock that dies with its holder ([`lock`]),
//! the simulated bridges ([`bridge`]), the record of a load's driver
//! calls ([`oplog`]), what an image is ([`image`]) and the firmware
//! store's catalog ([`firmware`]).
//!
//! The task itself (`main.rs`) wires these to IPC: it forwards the client's
//! lease windows to the bound driver, binds and unbinds drivers, and
//! traces. Nothing here makes a syscall, so `cargo test -p task-fpga-mgr
//! --lib` runs Linux's KUnit flows against a fake driver on the host.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

pub mod bridge;
pub mod firmware;
pub mod image;
pub mod loader;
pub mod lock;
pub mod oplog;
