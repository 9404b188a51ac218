//! The host-testable part of the 7-series driver: deciding, from the
//! first bytes of an image, which part of it the device must see
//! ([`header`]). The task itself is `main.rs`.

#![no_std]
#![forbid(unsafe_code)]

pub mod header;
