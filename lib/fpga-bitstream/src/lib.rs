//! iCE40 and Xilinx 7-series bitstream formats, shared by drivers and models.
//!
//! This crate knows what a configuration bitstream looks like on the wire.
//! Driver tasks use it to check an image before they touch hardware (and to
//! find the raw data inside a Xilinx `.bit` file); the simulated devices in
//! `sim-devices` use the very same parsers as their configuration engines, so
//! a bitstream the model accepts is one the driver would have accepted too.
//!
//! - [`ice40`]: Lattice iCE40 SPI-slave bitstreams in the Project IceStorm
//!   format (preamble, nibble-coded commands, CRAM/BRAM blocks, CRC-16).
//! - [`xc7`]: Xilinx 7-series configuration streams (UG470): the `.bit`
//!   header, byte-swapped `.bin` detection, the packet stream with its
//!   37-bit CRC-32C, and a [`xc7::StreamBuilder`] that writes valid streams.
//!
//! Both parsers are *incremental*: they take input in chunks of any size
//! (an SPI transfer, a 128-byte IPC lease, a 32 MiB DMA buffer) and keep no
//! more than a few words of state, because neither a driver task nor a
//! configuration engine can hold a whole image. The crate is `no_std` and
//! allocates nothing.
//!
//! What this crate deliberately does not do: decide what a device does with
//! a bitstream (pin levels, timing). That is the device model's business;
//! here we only report what the stream says, or exactly why it is invalid.

#![no_std]
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod ice40;
pub mod xc7;
