//! The board's peripherals: the same device models as the hosted board's
//! (`sim-devices`: SPI controllers, GPIO banks, iCE40 and 7-series
//! configuration engines), built from the same app.toml configuration,
//! running inside this kernel on its heap; plus the `test-device`
//! register file of the kernel conformance suite.
//!
//! A task reaches them only through PERIPHERAL_IO, after the core has
//! checked its grant, exactly as on the hosted board. Interrupts the
//! models raise are routed to tasks by [`crate::config::IRQ_LINES`].

use alloc::string::ToString;
use alloc::vec::Vec;

use abi::PeripheralOp;
use kern::PeripheralFault;
use sim_devices::Board;

use crate::config::PERIPHERALS;

/// Registers in the test device.
const TEST_REGISTERS: usize = 16;

/// Where a peripheral of the image lives.
enum Device {
    Test([u32; TEST_REGISTERS]),
    /// Index into the board.
    Board(usize),
}

/// A bulk operation's task memory: read by the device (`From`) or
/// written by it (`Into`).
pub enum Bulk<'a> {
    From(&'a [u8]),
    Into(&'a mut [u8]),
}

pub struct Devices {
    devices: Vec<Device>,
    board: Board,
    /// Board index → image peripheral index.
    board_to_image: Vec<usize>,
}

impl Devices {
    /// Builds every peripheral of the image. `cargo xtask dist` built the
    /// same board from the same configuration before writing the image,
    /// so a refusal here is a kernel bug, reported as a panic naming the
    /// peripheral.
    pub fn new() -> Self {
        let mut devices = Vec::new();
        let mut entries = Vec::new();
        let mut board_to_image = Vec::new();
        for (i, p) in PERIPHERALS.iter().enumerate() {
            if p.model == "test-device" {
                devices.push(Device::Test([0; TEST_REGISTERS]));
                continue;
            }
            let config = serde_json::from_str(p.config).unwrap_or_else(|e| {
                panic!("peripheral {}: config is not JSON: {e}", p.name)
            });
            devices.push(Device::Board(entries.len()));
            board_to_image.push(i);
            entries.push((p.name.to_string(), p.model.to_string(), config));
        }
        let board =
            Board::new(&entries).unwrap_or_else(|e| panic!("board: {e}"));
        Self {
            devices,
            board,
            board_to_image,
        }
    }

    pub fn io(
        &mut self,
        index: usize,
        op: PeripheralOp,
        register: u32,
        value: u32,
        memory: Option<Bulk<'_>>,
        now_us: u64,
    ) -> Result<u32, PeripheralFault> {
        let b = match self.devices.get_mut(index).ok_or(PeripheralFault)? {
            Device::Test(regs) => {
                return test_device(regs, op, register, value);
            }
            Device::Board(b) => *b,
        };
        let board = &mut self.board;
        let r = match (op, memory) {
            (PeripheralOp::ReadRegister, _) => {
                board.read_register(b, register, now_us)
            }
            (PeripheralOp::WriteRegister, _) => {
                board.write_register(b, register, value, now_us).map(|()| 0)
            }
            (
                PeripheralOp::WriteFromMemory | PeripheralOp::WriteFromLease,
                Some(Bulk::From(m)),
            ) => board.write_bulk(b, m, now_us).map(|()| 0),
            (PeripheralOp::ReadIntoMemory, Some(Bulk::Into(m))) => {
                board.read_bulk(b, m, now_us).map(|()| 0)
            }
            _ => return Err(PeripheralFault),
        };
        r.map_err(|_| PeripheralFault)
    }

    /// Interrupts raised since the last call, as (image peripheral, line).
    pub fn take_irqs(&mut self) -> impl Iterator<Item = (usize, &'static str)> {
        let map = &self.board_to_image;
        self.board
            .take_irqs()
            .into_iter()
            .filter_map(|(b, line)| Some((*map.get(b)?, line)))
    }

    /// Lets time pass for models whose pins change by themselves.
    pub fn advance(&mut self, now_us: u64) {
        self.board.advance(now_us);
    }

    /// When a pin will next change by itself (microseconds since boot).
    pub fn next_deadline_us(&self) -> Option<u64> {
        self.board.next_deadline()
    }
}

fn test_device(
    regs: &mut [u32; TEST_REGISTERS],
    op: PeripheralOp,
    register: u32,
    value: u32,
) -> Result<u32, PeripheralFault> {
    let r = regs.get_mut(register as usize).ok_or(PeripheralFault)?;
    match op {
        PeripheralOp::ReadRegister => Ok(*r),
        PeripheralOp::WriteRegister => {
            *r = value;
            Ok(0)
        }
        _ => Err(PeripheralFault),
    }
}
