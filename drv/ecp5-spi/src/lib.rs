//! The host-testable part of the ECP5 driver: what `parse_header`
//! answers ([`header`]) and what the sysCONFIG status register means to
//! the manager ([`sysconfig`]). The task itself is `main.rs`.

#![no_std]
#![forbid(unsafe_code)]

pub mod header;
pub mod sysconfig;
