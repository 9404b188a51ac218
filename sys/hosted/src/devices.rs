//! Simulated peripherals, by model name.
//!
//! Device models live in the kernel process, as QEMU's do; a task reaches
//! them only through PERIPHERAL_IO, after the core has checked its grant.

use abi::PeripheralOp;
use anyhow::{Result, bail};
use kern::PeripheralFault;

/// A register file with no behaviour, for kernel conformance tests of
/// grants, revocation and IRQ routing.
pub struct TestDevice {
    pub registers: [u32; 16],
}

pub enum Device {
    Test(TestDevice),
}

pub struct Devices {
    pub devices: Vec<Device>,
}

impl Devices {
    pub fn new(manifest: &image_manifest::ImageManifest) -> Result<Self> {
        let mut devices = Vec::new();
        for p in &manifest.peripherals {
            devices.push(match p.model.as_str() {
                "test-device" => {
                    Device::Test(TestDevice { registers: [0; 16] })
                }
                other => {
                    bail!("peripheral {}: unknown model {other:?}", p.name)
                }
            });
        }
        Ok(Self { devices })
    }

    pub fn io(
        &mut self,
        index: usize,
        op: PeripheralOp,
        register: u32,
        value: u32,
        _memory: Option<&mut [u8]>,
        _now_us: u64,
    ) -> Result<u32, PeripheralFault> {
        match self.devices.get_mut(index).ok_or(PeripheralFault)? {
            Device::Test(d) => {
                let r = d
                    .registers
                    .get_mut(register as usize)
                    .ok_or(PeripheralFault)?;
                match op {
                    PeripheralOp::ReadRegister => Ok(*r),
                    PeripheralOp::WriteRegister => {
                        *r = value;
                        Ok(0)
                    }
                    _ => Err(PeripheralFault),
                }
            }
        }
    }
}
