//! The board: peripherals in image order, their wiring, and the facade the
//! kernel calls.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::Pin;
use crate::ecp5::Ecp5Model;
use crate::gpio::{self, Gpio};
use crate::ice40::Ice40Model;
use crate::sha256_engine::{self, Sha256Engine};
use hash::refused;

mod hash;
use crate::spi::{self, Spi};
use crate::xc7::Xc7Model;
use fpga_bitstream::ice40::Ice40Device;
use fpga_bitstream::{ecp5, xc7};
use serde_json::{Map, Value};

/// A board description the models cannot be built from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    /// `model` is not one of the models this crate provides.
    #[error(
        "peripheral `{name}`: unknown model `{model}` (known: {})",
        MODELS.join(", ")
    )]
    UnknownModel {
        /// Peripheral name.
        name: String,
        /// The model asked for.
        model: String,
    },
    /// Two peripherals share a name.
    #[error("peripheral name `{0}` is used twice")]
    DuplicateName(String),
    /// The config JSON is malformed for the model.
    #[error("peripheral `{name}`: {reason}")]
    BadConfig {
        /// Peripheral name.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// `device` names no peripheral.
    #[error("peripheral `{name}`: no peripheral named `{device}`")]
    UnknownDevice {
        /// Peripheral name.
        name: String,
        /// The missing device.
        device: String,
    },
    /// `device` names a peripheral that is not an FPGA.
    #[error("peripheral `{name}`: `{device}` is not an FPGA model")]
    NotAnFpga {
        /// Peripheral name.
        name: String,
        /// The device named.
        device: String,
    },
    /// A GPIO line names a pin the device does not have.
    #[error("peripheral `{name}`: `{device}` has no pin `{pin}`")]
    UnknownPin {
        /// Peripheral name.
        name: String,
        /// The device.
        device: String,
        /// The pin asked for.
        pin: String,
    },
}

/// A bad access by a driver: the kernel faults the task that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IoError {
    /// No peripheral has this index.
    #[error("no peripheral {periph}")]
    NoSuchPeripheral {
        /// The index.
        periph: usize,
    },
    /// No register at this offset (or the offset is unaligned).
    #[error("peripheral {periph} has no register at {reg:#x}")]
    NoSuchRegister {
        /// The peripheral.
        periph: usize,
        /// The offset.
        reg: u32,
    },
    /// A write to a read-only register.
    #[error("register {reg:#x} of peripheral {periph} is read-only")]
    ReadOnly {
        /// The peripheral.
        periph: usize,
        /// The offset.
        reg: u32,
    },
    /// A value with reserved bits set or out of range.
    #[error("value {value:#x} is invalid for register {reg:#x} of {periph}")]
    BadValue {
        /// The peripheral.
        periph: usize,
        /// The offset.
        reg: u32,
        /// The value written.
        value: u32,
    },
    /// Bulk (DMA) transfer to a peripheral without DMA.
    #[error("peripheral {periph} does not do bulk transfers")]
    NoBulk {
        /// The peripheral.
        periph: usize,
    },
    /// An access the device refuses in its present state (a hash
    /// engine's register written or a transfer started while busy: see
    /// [`sha256_engine`]).
    #[error("peripheral {periph} is busy (register {reg:#x})")]
    Busy {
        /// The peripheral.
        periph: usize,
        /// The offset (DATA for a transfer).
        reg: u32,
    },
}

/// Every model name [`Board::new`] accepts: the controllers, the hash
/// engine, the iCE40s,
/// then each 7-series part under its own name ([`xc7::PARTS`]), then each
/// ECP5 ([`ecp5::PARTS`]).
pub const MODELS: [&str; 16] = [
    "spi-controller",
    "gpio",
    "sha256-engine",
    "ice40-hx1k",
    "ice40-hx8k",
    "ice40-up5k",
    xc7::PARTS[0].name,
    xc7::PARTS[1].name,
    xc7::PARTS[2].name,
    xc7::PARTS[3].name,
    xc7::PARTS[4].name,
    xc7::PARTS[5].name,
    xc7::PARTS[6].name,
    xc7::PARTS[7].name,
    ecp5::PARTS[0].name,
    ecp5::PARTS[1].name,
];

enum Fpga {
    Ice40(Ice40Model),
    Xc7(Xc7Model),
    Ecp5(Ecp5Model),
}

enum Kind {
    Spi(Spi),
    Gpio(Box<Gpio>),
    Fpga(Box<Fpga>),
    Hash(Box<Sha256Engine>),
}

struct Peripheral {
    model: String,
    kind: Kind,
}

/// The simulated board: every peripheral of the image, wired together.
pub struct Board {
    periphs: Vec<Peripheral>,
    irqs: Vec<(usize, &'static str)>,
    /// Latest time seen; models never see time go backwards.
    now: u64,
    /// Reused buffer for bit-reversed (LSB-first) transfers.
    scratch: Vec<u8>,
    /// Hash engines whose transfer under way was aborted (or reset) since
    /// the last [`Board::take_aborted`].
    aborted: Vec<usize>,
}

fn fpga_for(model: &str) -> Option<Fpga> {
    Some(match model {
        "ice40-hx1k" => Fpga::Ice40(Ice40Model::new(Ice40Device::Hx1k)),
        "ice40-hx8k" => Fpga::Ice40(Ice40Model::new(Ice40Device::Hx8k)),
        "ice40-up5k" => Fpga::Ice40(Ice40Model::new(Ice40Device::Up5k)),
        _ => {
            if let Some(p) = ecp5::PARTS.into_iter().find(|p| p.name == model) {
                return Some(Fpga::Ecp5(Ecp5Model::new(p)));
            }
            let part = xc7::PARTS.into_iter().find(|p| p.name == model)?;
            Fpga::Xc7(Xc7Model::new(part))
        }
    })
}

fn pin_for(model: &str, pin: &str) -> Option<Pin> {
    let ice40 = model.starts_with("ice40-");
    let ecp5 = model.starts_with("lfe5");
    let xc7 = !ice40 && !ecp5;
    Some(match pin {
        "creset_b" if ice40 => Pin::CresetB,
        "cdone" if ice40 => Pin::Cdone,
        "ss_b" if ice40 => Pin::SsB,
        "program_b" if xc7 => Pin::ProgramB,
        "init_b" if xc7 => Pin::InitB,
        "done" if !ice40 => Pin::Done,
        "programn" if ecp5 => Pin::ProgramN,
        "initn" if ecp5 => Pin::InitN,
        _ => return None,
    })
}

/// The config object, checking that it only has `allowed` keys.
fn config_object<'a>(
    name: &str,
    config: &'a Value,
    allowed: &[&str],
) -> Result<Option<&'a Map<String, Value>>, BoardError> {
    let bad = |reason: String| BoardError::BadConfig {
        name: name.to_string(),
        reason,
    };
    let map = match config {
        Value::Null => return Ok(None),
        Value::Object(map) => map,
        other => {
            return Err(bad(format!("config must be an object, not {other}")));
        }
    };
    if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown config key `{key}` (allowed: {})",
            if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            }
        )));
    }
    Ok(Some(map))
}

/// Why a write to FPGA model register `reg` is refused: its debug
/// registers are read-only, and it has no others.
fn fpga_write_refused(
    f: &mut Fpga,
    periph: usize,
    reg: u32,
    now: u64,
) -> IoError {
    let exists = match f {
        Fpga::Ice40(m) => m.read_debug(reg, now).is_some(),
        Fpga::Xc7(m) => m.read_debug(reg, now).is_some(),
        Fpga::Ecp5(m) => m.read_debug(reg, now).is_some(),
    };
    if exists {
        IoError::ReadOnly { periph, reg }
    } else {
        IoError::NoSuchRegister { periph, reg }
    }
}

/// Resolves and builds peripherals; see [`Board::new`].
struct Builder<'p> {
    entries: &'p [(String, String, Value)],
}

impl Builder<'_> {
    fn device(&self, name: &str, device: &Value) -> Result<usize, BoardError> {
        let device = device.as_str().ok_or_else(|| BoardError::BadConfig {
            name: name.to_string(),
            reason: format!("`device` must be a peripheral name, not {device}"),
        })?;
        let index = self
            .entries
            .iter()
            .position(|(n, _, _)| n == device)
            .ok_or_else(|| BoardError::UnknownDevice {
                name: name.to_string(),
                device: device.to_string(),
            })?;
        if fpga_for(&self.entries[index].1).is_none() {
            return Err(BoardError::NotAnFpga {
                name: name.to_string(),
                device: device.to_string(),
            });
        }
        Ok(index)
    }

    fn spi(&self, name: &str, config: &Value) -> Result<Spi, BoardError> {
        let map = config_object(name, config, &["device"])?;
        let device = match map.and_then(|m| m.get("device")) {
            Some(d) => Some(self.device(name, d)?),
            None => None,
        };
        Ok(Spi::new(device))
    }

    fn gpio(&self, name: &str, config: &Value) -> Result<Gpio, BoardError> {
        let bad = |reason: String| BoardError::BadConfig {
            name: name.to_string(),
            reason,
        };
        let map = config_object(name, config, &["device", "lines"])?;
        let default = match map.and_then(|m| m.get("device")) {
            Some(d) => Some(self.device(name, d)?),
            None => None,
        };
        let mut lines = [None; 32];
        let Some(spec) = map.and_then(|m| m.get("lines")) else {
            return Ok(Gpio::new(lines));
        };
        let spec = spec.as_object().ok_or_else(|| {
            bad("`lines` must map line numbers to pins".into())
        })?;
        for (line, pin) in spec {
            let n: usize =
                line.parse().ok().filter(|n| *n < 32).ok_or_else(|| {
                    bad(format!("line `{line}` is not 0..=31"))
                })?;
            let pin = pin.as_str().ok_or_else(|| {
                bad(format!("line {n}: pin must be a string"))
            })?;
            // "pin" uses the default device; "device.pin" names one.
            let (device, pin_name) = match pin.split_once('.') {
                Some((d, p)) => (self.device(name, &Value::from(d))?, p),
                None => (
                    default.ok_or_else(|| {
                        bad(format!(
                            "line {n}: `{pin}` needs a `device` (or \
                             write `device.{pin}`)"
                        ))
                    })?,
                    pin,
                ),
            };
            let (dname, dmodel, _) = &self.entries[device];
            let pin = pin_for(dmodel, pin_name).ok_or_else(|| {
                BoardError::UnknownPin {
                    name: name.to_string(),
                    device: dname.clone(),
                    pin: pin_name.to_string(),
                }
            })?;
            lines[n] = Some((device, pin));
        }
        Ok(Gpio::new(lines))
    }

    fn build(&self, i: usize) -> Result<Kind, BoardError> {
        let (name, model, config) = &self.entries[i];
        Ok(match model.as_str() {
            "spi-controller" => Kind::Spi(self.spi(name, config)?),
            "gpio" => Kind::Gpio(Box::new(self.gpio(name, config)?)),
            "sha256-engine" => {
                config_object(name, config, &[])?;
                Kind::Hash(Box::new(Sha256Engine::new()))
            }
            _ => {
                let fpga = fpga_for(model).ok_or_else(|| {
                    BoardError::UnknownModel {
                        name: name.clone(),
                        model: model.clone(),
                    }
                })?;
                config_object(name, config, &[])?;
                Kind::Fpga(Box::new(fpga))
            }
        })
    }
}

impl Board {
    /// Builds the board. `peripherals[i]` = (name, model, config JSON) in
    /// image order; the index is the peripheral number every other call
    /// takes.
    ///
    /// Configs: `spi-controller` `{"device": "<fpga name>"}`; `gpio`
    /// `{"device": "<fpga>", "lines": {"0": "creset_b", "1": "other.done"}}`;
    /// FPGA models take no keys (`{}` or `null`).
    ///
    /// # Errors
    ///
    /// A [`BoardError`] naming the peripheral and what is wrong.
    pub fn new(
        peripherals: &[(String, String, Value)],
    ) -> Result<Board, BoardError> {
        for (i, (name, _, _)) in peripherals.iter().enumerate() {
            if peripherals[..i].iter().any(|(n, _, _)| n == name) {
                return Err(BoardError::DuplicateName(name.clone()));
            }
        }
        let builder = Builder {
            entries: peripherals,
        };
        let periphs = (0..peripherals.len())
            .map(|i| {
                Ok(Peripheral {
                    model: peripherals[i].1.clone(),
                    kind: builder.build(i)?,
                })
            })
            .collect::<Result<Vec<_>, BoardError>>()?;
        let mut board = Board {
            periphs,
            irqs: Vec::new(),
            now: 0,
            scratch: Vec::new(),
            aborted: Vec::new(),
        };
        board.sync_inputs(0);
        board.latch_levels(0);
        Ok(board)
    }

    /// Records the current GPIO input levels without raising edges, so
    /// power-on levels are not mistaken for edges.
    fn latch_levels(&mut self, now: u64) {
        for i in 0..self.periphs.len() {
            if matches!(self.periphs[i].kind, Kind::Gpio(_)) {
                let level = self.gpio_in(i, now);
                if let Kind::Gpio(g) = &mut self.periphs[i].kind {
                    g.last_in = level;
                }
            }
        }
    }

    fn check(&self, periph: usize) -> Result<(), IoError> {
        if periph < self.periphs.len() {
            Ok(())
        } else {
            Err(IoError::NoSuchPeripheral { periph })
        }
    }

    fn clock(&mut self, now_us: u64) -> u64 {
        self.now = self.now.max(now_us);
        self.now
    }

    /// Reads register `reg` of peripheral `periph`.
    ///
    /// # Errors
    ///
    /// [`IoError`] for a bad peripheral or register.
    pub fn read_register(
        &mut self,
        periph: usize,
        reg: u32,
        now_us: u64,
    ) -> Result<u32, IoError> {
        self.check(periph)?;
        let now = self.clock(now_us);
        let missing = IoError::NoSuchRegister { periph, reg };
        let value = match &mut self.periphs[periph].kind {
            Kind::Spi(s) => match reg {
                spi::CTRL => s.ctrl,
                spi::STATUS => {
                    (s.cs() as u32) << 1 | (s.device.is_some() as u32) << 2
                }
                spi::CLOCKS | spi::TXDATA => 0,
                spi::COUNT => s.count as u32,
                _ => return Err(missing),
            },
            Kind::Gpio(g) => match reg {
                gpio::OUT => g.out,
                gpio::DIR => g.dir,
                gpio::RISE_EN => g.rise_en,
                gpio::FALL_EN => g.fall_en,
                gpio::EDGES => g.edges,
                gpio::IN => self.gpio_in(periph, now),
                _ => return Err(missing),
            },
            Kind::Fpga(f) => match &mut **f {
                Fpga::Ice40(m) => m.read_debug(reg, now),
                Fpga::Xc7(m) => m.read_debug(reg, now),
                Fpga::Ecp5(m) => m.read_debug(reg, now),
            }
            .ok_or(missing)?,
            Kind::Hash(h) => {
                h.read(reg).map_err(|r| refused(periph, reg, r))?
            }
        };
        self.update_edges(now);
        Ok(value)
    }

    /// Writes `value` to register `reg` of peripheral `periph`.
    ///
    /// # Errors
    ///
    /// [`IoError`] for a bad peripheral, register or value.
    pub fn write_register(
        &mut self,
        periph: usize,
        reg: u32,
        value: u32,
        now_us: u64,
    ) -> Result<(), IoError> {
        self.check(periph)?;
        let now = self.clock(now_us);
        let bad_value = IoError::BadValue { periph, reg, value };
        match &mut self.periphs[periph].kind {
            Kind::Spi(s) => match reg {
                spi::CTRL => {
                    let all =
                        spi::CTRL_CS | spi::CTRL_LSB_FIRST | spi::CTRL_IRQ_EN;
                    if value & !all != 0 {
                        return Err(bad_value);
                    }
                    s.ctrl = value;
                    self.sync_inputs(now);
                }
                spi::CLOCKS if value > spi::MAX_CLOCKS => {
                    return Err(bad_value);
                }
                spi::CLOCKS => self.dummy_clocks(periph, value as u64, now),
                spi::TXDATA => {
                    let byte = u8::try_from(value).map_err(|_| bad_value)?;
                    self.shift(periph, &[byte], now);
                }
                spi::STATUS | spi::COUNT => {
                    return Err(IoError::ReadOnly { periph, reg });
                }
                _ => return Err(IoError::NoSuchRegister { periph, reg }),
            },
            Kind::Gpio(g) => {
                match reg {
                    gpio::OUT => g.out = value,
                    gpio::DIR => g.dir = value,
                    gpio::RISE_EN => g.rise_en = value,
                    gpio::FALL_EN => g.fall_en = value,
                    gpio::EDGES => g.edges &= !value,
                    gpio::IN => return Err(IoError::ReadOnly { periph, reg }),
                    _ => return Err(IoError::NoSuchRegister { periph, reg }),
                }
                self.sync_inputs(now);
            }
            Kind::Fpga(f) => {
                return Err(fpga_write_refused(f, periph, reg, now));
            }
            Kind::Hash(h) => {
                if h.write(reg, value).map_err(|r| refused(periph, reg, r))? {
                    self.aborted.push(periph);
                }
            }
        }
        self.update_edges(now);
        Ok(())
    }

    /// DMA out: shifts `data` to the device behind SPI controller `periph`.
    ///
    /// # Errors
    ///
    /// [`IoError::NoBulk`] unless `periph` is an SPI controller.
    pub fn write_bulk(
        &mut self,
        periph: usize,
        data: &[u8],
        now_us: u64,
    ) -> Result<(), IoError> {
        self.check(periph)?;
        let now = self.clock(now_us);
        if let Kind::Hash(h) = &mut self.periphs[periph].kind {
            let raise = h
                .transfer(data)
                .map_err(|r| refused(periph, sha256_engine::DATA, r))?;
            if raise {
                self.irqs.push((periph, sha256_engine::IRQ_DONE));
            }
            return Ok(());
        }
        if !matches!(self.periphs[periph].kind, Kind::Spi(_)) {
            return Err(IoError::NoBulk { periph });
        }
        self.shift(periph, data, now);
        self.update_edges(now);
        Ok(())
    }

    /// DMA in: clocks `out.len()` bytes (MOSI high) and stores what MISO
    /// carried: an ECP5's answer to a read command, else 0xFF (the other
    /// FPGAs do not drive MISO while configuring).
    ///
    /// # Errors
    ///
    /// [`IoError::NoBulk`] unless `periph` is an SPI controller.
    pub fn read_bulk(
        &mut self,
        periph: usize,
        out: &mut [u8],
        now_us: u64,
    ) -> Result<(), IoError> {
        self.check(periph)?;
        let now = self.clock(now_us);
        if !matches!(self.periphs[periph].kind, Kind::Spi(_)) {
            return Err(IoError::NoBulk { periph });
        }
        if let Some(m) = self.ecp5_behind(periph) {
            m.read(out, now);
            self.transfer_done(periph);
        } else {
            self.dummy_clocks(periph, out.len() as u64, now);
            out.fill(0xFF);
        }
        self.update_edges(now);
        Ok(())
    }

    /// The ECP5 behind SPI controller `periph`, with its chip select
    /// asserted (MISO is only driven then).
    fn ecp5_behind(&mut self, periph: usize) -> Option<&mut Ecp5Model> {
        let Kind::Spi(s) = &self.periphs[periph].kind else {
            return None;
        };
        let device = s.device.filter(|_| s.cs())?;
        match &mut self.periphs[device].kind {
            Kind::Fpga(f) => match &mut **f {
                Fpga::Ecp5(m) => Some(m),
                _ => None,
            },
            _ => None,
        }
    }

    /// Interrupts raised since the last call: (peripheral, line name).
    /// Lines: `spi-controller` [`spi::IRQ_DONE`], `gpio` [`gpio::IRQ_EDGE`].
    pub fn take_irqs(&mut self) -> Vec<(usize, &'static str)> {
        core::mem::take(&mut self.irqs)
    }

    /// Lets time pass without an access, so that pin changes due to time
    /// alone (INIT_B rising after housecleaning) raise their edge
    /// interrupts. Call it at [`Board::next_deadline`].
    pub fn advance(&mut self, now_us: u64) {
        let now = self.clock(now_us);
        self.update_edges(now);
    }

    /// The next time a pin will change by itself, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.periphs
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Fpga(f) => match &**f {
                    Fpga::Xc7(m) => m.next_deadline(),
                    Fpga::Ecp5(m) => m.next_deadline(),
                    Fpga::Ice40(_) => None,
                },
                _ => None,
            })
            .min()
    }

    /// Returns peripheral `periph` to its power-on state (for example when
    /// a driver's grant is revoked). Out-of-range indices are ignored.
    pub fn reset(&mut self, periph: usize) {
        let Some(p) = self.periphs.get_mut(periph) else {
            return;
        };
        match &mut p.kind {
            Kind::Spi(s) => *s = Spi::new(s.device),
            Kind::Gpio(g) => **g = Gpio::new(g.lines),
            Kind::Fpga(f) => {
                if let Some(fresh) = fpga_for(&p.model) {
                    **f = fresh;
                }
            }
            Kind::Hash(h) => {
                if h.is_busy() {
                    self.aborted.push(periph);
                }
                **h = Sha256Engine::new();
            }
        }
        let now = self.now;
        let gpio_reset = matches!(self.periphs[periph].kind, Kind::Gpio(_));
        self.sync_inputs(now);
        if gpio_reset {
            self.latch_levels(now);
        } else {
            self.update_edges(now);
        }
    }

    /// Why the FPGA `periph`'s last load failed, for diagnostics (`None`
    /// if it did not fail or is not an FPGA).
    pub fn fpga_error(&self, periph: usize) -> Option<String> {
        match &self.periphs.get(periph)?.kind {
            Kind::Fpga(f) => match &**f {
                Fpga::Ice40(m) => m.error().map(|e| format!("{e:?}")),
                Fpga::Xc7(m) => m.error().map(|e| format!("{e:?}")),
                Fpga::Ecp5(m) => m.error().map(|e| format!("{e:?}")),
            },
            _ => None,
        }
    }

    /// The level the board drives onto FPGA input `pin` of `device`:
    /// wired-AND of every GPIO output wired to it, high when undriven.
    fn input_level(&self, device: usize, pin: Pin) -> bool {
        self.periphs.iter().all(|p| match &p.kind {
            Kind::Gpio(g) => g.lines.iter().enumerate().all(|(n, line)| {
                *line != Some((device, pin)) || g.drive(n) != Some(false)
            }),
            _ => true,
        })
    }

    fn ss_asserted(&self, device: usize) -> bool {
        let by_spi = self.periphs.iter().any(|p| match &p.kind {
            Kind::Spi(s) => s.device == Some(device) && s.cs(),
            _ => false,
        });
        by_spi || !self.input_level(device, Pin::SsB)
    }

    /// Propagates every FPGA input pin's level to its model.
    fn sync_inputs(&mut self, now: u64) {
        for d in 0..self.periphs.len() {
            let Kind::Fpga(f) = &self.periphs[d].kind else {
                continue;
            };
            match &**f {
                Fpga::Ice40(_) => {
                    let creset_b = self.input_level(d, Pin::CresetB);
                    let ss = self.ss_asserted(d);
                    if let Kind::Fpga(f) = &mut self.periphs[d].kind
                        && let Fpga::Ice40(m) = &mut **f
                    {
                        m.set_inputs(creset_b, ss, now);
                    }
                }
                Fpga::Ecp5(_) => {
                    let programn = self.input_level(d, Pin::ProgramN);
                    let cs = self.ss_asserted(d);
                    if let Kind::Fpga(f) = &mut self.periphs[d].kind
                        && let Fpga::Ecp5(m) = &mut **f
                    {
                        m.set_inputs(programn, cs, now);
                    }
                }
                Fpga::Xc7(_) => {
                    let program_b = self.input_level(d, Pin::ProgramB);
                    if let Kind::Fpga(f) = &mut self.periphs[d].kind
                        && let Fpga::Xc7(m) = &mut **f
                    {
                        m.set_program_b(program_b, now);
                    }
                }
            }
        }
    }

    fn fpga_output(&mut self, device: usize, pin: Pin, now: u64) -> bool {
        match &mut self.periphs[device].kind {
            Kind::Fpga(f) => match (&mut **f, pin) {
                (Fpga::Ice40(m), Pin::Cdone) => m.cdone(),
                (Fpga::Xc7(m), Pin::InitB) => m.init_b(now),
                (Fpga::Xc7(m), Pin::Done) => m.done(now),
                (Fpga::Ecp5(m), Pin::InitN) => m.initn(now),
                (Fpga::Ecp5(m), Pin::Done) => m.done(now),
                _ => true,
            },
            _ => true,
        }
    }

    /// The IN register of GPIO block `periph`.
    fn gpio_in(&mut self, periph: usize, now: u64) -> u32 {
        let Kind::Gpio(g) = &self.periphs[periph].kind else {
            return 0;
        };
        let (lines, out, dir) = (g.lines, g.out, g.dir);
        let mut value = 0;
        for (n, line) in lines.into_iter().enumerate() {
            let drive = (dir >> n & 1 != 0).then_some(out >> n & 1 != 0);
            let level = match line {
                Some((d, pin)) if pin.is_output() => {
                    self.fpga_output(d, pin, now) && drive.unwrap_or(true)
                }
                Some(_) => drive.unwrap_or(true),
                None => drive.unwrap_or(false),
            };
            value |= (level as u32) << n;
        }
        value
    }

    /// Latches edges on every GPIO block and raises their interrupts.
    fn update_edges(&mut self, now: u64) {
        for i in 0..self.periphs.len() {
            if !matches!(self.periphs[i].kind, Kind::Gpio(_)) {
                continue;
            }
            let level = self.gpio_in(i, now);
            if let Kind::Gpio(g) = &mut self.periphs[i].kind {
                let rising = level & !g.last_in & g.rise_en;
                let falling = !level & g.last_in & g.fall_en;
                let new = (rising | falling) & !g.edges;
                g.edges |= rising | falling;
                g.last_in = level;
                if new != 0 {
                    self.irqs.push((i, gpio::IRQ_EDGE));
                }
            }
        }
    }

    fn dummy_clocks(&mut self, periph: usize, bytes: u64, now: u64) {
        const ONES: [u8; 4096] = [0xFF; 4096];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(ONES.len() as u64) as usize;
            self.shift_quiet(periph, &ONES[..n], now);
            left -= n as u64;
        }
        self.transfer_done(periph);
    }

    fn shift(&mut self, periph: usize, data: &[u8], now: u64) {
        self.shift_quiet(periph, data, now);
        self.transfer_done(periph);
    }

    fn transfer_done(&mut self, periph: usize) {
        if let Kind::Spi(s) = &self.periphs[periph].kind
            && s.ctrl & spi::CTRL_IRQ_EN != 0
        {
            self.irqs.push((periph, spi::IRQ_DONE));
        }
    }

    /// Shifts bytes from SPI controller `periph` to its device.
    fn shift_quiet(&mut self, periph: usize, data: &[u8], now: u64) {
        let Kind::Spi(s) = &mut self.periphs[periph].kind else {
            return;
        };
        s.count += data.len() as u64;
        let lsb_first = s.ctrl & spi::CTRL_LSB_FIRST != 0;
        let Some(device) = s.device else {
            return;
        };
        // The devices sample MSB first; a controller sending LSB first
        // delivers each byte bit-reversed.
        let mut scratch = core::mem::take(&mut self.scratch);
        let data = if lsb_first {
            scratch.clear();
            scratch.extend(data.iter().map(|b| b.reverse_bits()));
            &scratch[..]
        } else {
            data
        };
        if let Kind::Fpga(f) = &mut self.periphs[device].kind {
            match &mut **f {
                Fpga::Ice40(m) => m.shift(data, now),
                Fpga::Xc7(m) => m.shift(data, now),
                Fpga::Ecp5(m) => m.shift(data, now),
            }
        }
        self.scratch = scratch;
    }
}
