//! A GDB remote-serial-protocol *client*: the few packets humility needs
//! to read an emulated board through QEMU's GDB stub (`-gdb`).
//!
//! `humility gdb` is the other side (a server, `gdbstub`'s); no
//! well-kept crate implements the client side, and what we need is
//! small, so it is written here:
//!
//! - framing: `$payload#xx` with the modulo-256 checksum, `+`/`-`
//!   acknowledgements (a reply with a bad checksum is refused with `-`
//!   and the stub sends it again, a few times at most), `}`-escapes and
//!   run-length encoding (`X*n`) in replies;
//! - packets: `qSupported` (the stub's packet size), `?` (why it is
//!   stopped), `g` (registers), `m`/`M` (memory), `c` and the interrupt
//!   byte `0x03` (run and stop), `D` (detach: the board runs on), and
//!   QEMU's `Qqemu.PhyMemMode:1`, which makes `m` read *physical*
//!   memory. Without it QEMU reads through the MPU at the privilege of
//!   whatever the CPU was doing when it stopped: stopped in a task, the
//!   kernel's RAM and every other task's would be refused
//!   (`../shared/reference/cortex-m-qemu.md`).
//!
//! Only loopback addresses are accepted: the stub has no authentication
//! and can rewrite the board's memory, so it must never be reached over
//! a network.
//!
//! Everything the stub sends is untrusted: every reply is bounded
//! ([`MAX_PACKET`]), checked, and decoded without panicking; a stub that
//! says nothing is a timeout, not a hang.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The largest reply we accept, decoded. QEMU's replies are at most
/// its `PacketSize` (4 KiB in 7.2), after run-length expansion.
pub const MAX_PACKET: usize = 64 * 1024;

/// How often a reply with a bad checksum is asked for again.
const RETRIES: usize = 3;

/// What can go wrong talking to a stub; each is one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{0} is not a loopback address (a GDB stub must be reached over 127.0.0.1 or ::1 only)"
    )]
    NotLoopback(String),
    #[error("bad address {0:?}: give IP:PORT, e.g. 127.0.0.1:1234")]
    BadAddress(String),
    #[error("no GDB stub listening on {0} (start QEMU with -gdb tcp:{0})")]
    Refused(SocketAddr),
    #[error("cannot connect to the GDB stub at {0}: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("the GDB stub did not answer within {0} s")]
    Timeout(u64),
    #[error("the GDB stub closed the connection")]
    Closed,
    #[error("talking to the GDB stub: {0}")]
    Io(std::io::Error),
    #[error("the GDB stub sent a malformed reply: {0}")]
    Malformed(String),
    #[error("the GDB stub refused {0} (error {1})")]
    Refusal(String, String),
    #[error("the GDB stub does not support {0}")]
    Unsupported(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Parses `IP:PORT` (or `localhost:PORT`) and insists on loopback.
///
/// # Errors
///
/// A malformed address or one that is not loopback.
pub fn loopback_address(text: &str) -> Result<SocketAddr> {
    let addr: SocketAddr = match text.parse() {
        Ok(a) => a,
        Err(_) => {
            let (host, _) = text
                .rsplit_once(':')
                .ok_or_else(|| Error::BadAddress(text.to_owned()))?;
            if host != "localhost" {
                return Err(match host.parse::<std::net::IpAddr>() {
                    Ok(_) => Error::BadAddress(text.to_owned()),
                    Err(_) => Error::NotLoopback(text.to_owned()),
                });
            }
            text.to_socket_addrs()
                .map_err(|_| Error::BadAddress(text.to_owned()))?
                .find(|a| a.ip().is_loopback())
                .ok_or_else(|| Error::NotLoopback(text.to_owned()))?
        }
    };
    if !addr.ip().is_loopback() {
        return Err(Error::NotLoopback(text.to_owned()));
    }
    Ok(addr)
}

/// The modulo-256 sum of a packet's payload bytes.
pub fn checksum(payload: &[u8]) -> u8 {
    payload.iter().fold(0u8, |s, b| s.wrapping_add(*b))
}

/// `$payload#xx`, escaping the bytes the protocol reserves.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(payload.len() + 4);
    for &b in payload {
        if matches!(b, b'$' | b'#' | b'}' | b'*') {
            body.push(b'}');
            body.push(b ^ 0x20);
        } else {
            body.push(b);
        }
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(b'$');
    out.extend_from_slice(&body);
    out.extend_from_slice(format!("#{:02x}", checksum(&body)).as_bytes());
    out
}

/// Undoes `}`-escapes and run-length encoding in a received payload
/// (the bytes between `$` and `#`, whose checksum is already checked).
///
/// # Errors
///
/// An escape or a repeat with nothing after or before it, a repeat
/// count outside the protocol's range, or a result over [`MAX_PACKET`].
pub fn decode(raw: &[u8]) -> Result<Vec<u8>> {
    let bad = |why: &str| Error::Malformed(why.to_owned());
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'}' => {
                let b = *raw.get(i + 1).ok_or_else(|| bad("escape at end"))?;
                out.push(b ^ 0x20);
                i += 2;
            }
            b'*' => {
                let last = *out.last().ok_or_else(|| bad("repeat first"))?;
                let n = *raw.get(i + 1).ok_or_else(|| bad("repeat at end"))?;
                // `*` followed by (count + 29), printable: 32..=126.
                if !(b' '..=b'~').contains(&n) {
                    return Err(bad("repeat count out of range"));
                }
                let count = usize::from(n - 29);
                out.extend(std::iter::repeat_n(last, count));
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
        if out.len() > MAX_PACKET {
            return Err(bad("reply too long"));
        }
    }
    Ok(out)
}

/// Hex digits to bytes.
///
/// # Errors
///
/// An odd length or a non-hex digit.
pub fn unhex(text: &[u8]) -> Result<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return Err(Error::Malformed("odd number of hex digits".into()));
    }
    text.chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| {
                    Error::Malformed(format!(
                        "not hex: {:?}",
                        String::from_utf8_lossy(p)
                    ))
                })
        })
        .collect()
}

/// Why the target stopped (`?` and the reply to an interrupt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopReply {
    /// `S`/`T` with its signal; `W`/`X` (the program ended) are errors.
    pub signal: u8,
}

fn parse_stop(reply: &[u8]) -> Result<StopReply> {
    let text = String::from_utf8_lossy(reply);
    match reply.first() {
        Some(b'S' | b'T') if reply.len() >= 3 => {
            let sig = unhex(&reply[1..3])?;
            Ok(StopReply { signal: sig[0] })
        }
        Some(b'W' | b'X') => {
            Err(Error::Malformed(format!("the board has exited ({text})")))
        }
        _ => Err(Error::Malformed(format!("not a stop reply: {text:.40}"))),
    }
}

/// A connection to a GDB stub.
pub struct Client<S> {
    stream: S,
    /// Bytes received and not yet consumed.
    pending: Vec<u8>,
    /// The stub's `PacketSize` (bounds `m` and `M` requests).
    packet_size: usize,
    timeout_secs: u64,
}

impl Client<TcpStream> {
    /// Connects to a stub on a loopback address and asks what it
    /// supports. QEMU stops the board when a debugger connects; it runs
    /// on after [`Client::detach`] (or when the connection closes).
    ///
    /// # Errors
    ///
    /// A non-loopback address, nobody listening, or a stub that does not
    /// answer like one within `timeout`.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self> {
        if !addr.ip().is_loopback() {
            return Err(Error::NotLoopback(addr.to_string()));
        }
        let stream =
            TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    Error::Refused(addr)
                } else {
                    Error::Connect(addr, e)
                }
            })?;
        stream.set_read_timeout(Some(timeout)).map_err(Error::Io)?;
        stream.set_write_timeout(Some(timeout)).map_err(Error::Io)?;
        let _ = stream.set_nodelay(true);
        let mut client = Self::new(stream, timeout);
        client.handshake()?;
        Ok(client)
    }
}

impl<S: Read + Write> Client<S> {
    /// A client over any byte stream (tests use recorded exchanges).
    pub fn new(stream: S, timeout: Duration) -> Self {
        Self {
            stream,
            pending: Vec::new(),
            packet_size: 256,
            timeout_secs: timeout.as_secs(),
        }
    }

    /// `qSupported`: learns the stub's packet size.
    ///
    /// # Errors
    ///
    /// As [`Self::request`].
    pub fn handshake(&mut self) -> Result<()> {
        let reply = self.request(b"qSupported:xmlRegisters=arm")?;
        for feature in reply.split(|&b| b == b';') {
            if let Some(size) = feature.strip_prefix(b"PacketSize=") {
                let size = std::str::from_utf8(size)
                    .ok()
                    .and_then(|s| usize::from_str_radix(s, 16).ok())
                    .ok_or_else(|| Error::Malformed("bad PacketSize".into()))?;
                self.packet_size = size.clamp(64, MAX_PACKET);
            }
        }
        Ok(())
    }

    /// The stub's packet size, as it said.
    pub fn packet_size(&self) -> usize {
        self.packet_size
    }

    /// `Qqemu.PhyMemMode:1`: memory reads and writes go to physical
    /// memory, not through the MPU.
    ///
    /// # Errors
    ///
    /// A stub that is not QEMU's (it answers with an empty packet).
    pub fn physical_memory(&mut self) -> Result<()> {
        let reply = self.request(b"Qqemu.PhyMemMode:1")?;
        match reply.as_slice() {
            b"OK" => Ok(()),
            b"" => Err(Error::Unsupported(
                "physical memory reads (Qqemu.PhyMemMode): is it QEMU?".into(),
            )),
            other => Err(refusal("Qqemu.PhyMemMode", other)),
        }
    }

    /// `?`: why the target is stopped.
    ///
    /// # Errors
    ///
    /// As [`Self::request`], or a reply that is not a stop reply.
    pub fn halt_reason(&mut self) -> Result<StopReply> {
        let reply = self.request(b"?")?;
        parse_stop(&reply)
    }

    /// `g`: the raw register block, in the stub's order.
    ///
    /// # Errors
    ///
    /// As [`Self::request`], an error reply, or bad hex.
    pub fn registers(&mut self) -> Result<Vec<u8>> {
        let reply = self.request(b"g")?;
        if reply.first() == Some(&b'E') && reply.len() == 3 {
            return Err(refusal("g", &reply));
        }
        unhex(&reply)
    }

    /// `m`: reads `len` bytes at `address`, in packets the stub can
    /// carry.
    ///
    /// # Errors
    ///
    /// As [`Self::request`], an error reply (memory the stub cannot
    /// read), or a short or malformed answer.
    pub fn read_memory(&mut self, address: u32, len: u32) -> Result<Vec<u8>> {
        let chunk = u32::try_from((self.packet_size / 2).saturating_sub(8))
            .unwrap_or(1024)
            .max(16);
        let end = address.checked_add(len).ok_or_else(|| {
            Error::Malformed(format!("{address:#x}+{len:#x} wraps"))
        })?;
        let mut out = Vec::with_capacity(len as usize);
        let mut at = address;
        while at < end {
            let n = (end - at).min(chunk);
            let ask = format!("m{at:x},{n:x}");
            let reply = self.request(ask.as_bytes())?;
            if reply.first() == Some(&b'E') && reply.len() == 3 {
                return Err(refusal(&ask, &reply));
            }
            let bytes = unhex(&reply)?;
            if bytes.len() != n as usize {
                return Err(Error::Malformed(format!(
                    "{ask}: {} bytes, not {n}",
                    bytes.len()
                )));
            }
            out.extend_from_slice(&bytes);
            at += n;
        }
        Ok(out)
    }

    /// `M`: writes `data` at `address`.
    ///
    /// # Errors
    ///
    /// As [`Self::request`], or the stub refusing.
    pub fn write_memory(&mut self, address: u32, data: &[u8]) -> Result<()> {
        let chunk = (self.packet_size / 2).saturating_sub(16).max(16);
        let mut at = address;
        for piece in data.chunks(chunk) {
            let ask =
                format!("M{at:x},{:x}:{}", piece.len(), ::hex::encode(piece));
            let reply = self.request(ask.as_bytes())?;
            if reply != b"OK" {
                return Err(refusal(&format!("M{at:x}"), &reply));
            }
            at = at.wrapping_add(piece.len() as u32);
        }
        Ok(())
    }

    /// `c`: lets the target run. No reply comes until it stops.
    ///
    /// # Errors
    ///
    /// If the packet cannot be sent.
    pub fn resume(&mut self) -> Result<()> {
        self.send(b"c")
    }

    /// The interrupt byte (Ctrl-C): stops a running target and returns
    /// its stop reply.
    ///
    /// # Errors
    ///
    /// As [`Self::receive`].
    pub fn interrupt(&mut self) -> Result<StopReply> {
        self.stream.write_all(&[0x03]).map_err(|e| self.io(e))?;
        let reply = self.receive()?;
        parse_stop(&reply)
    }

    /// `D`: detaches; the target runs on.
    ///
    /// # Errors
    ///
    /// As [`Self::request`].
    pub fn detach(&mut self) -> Result<()> {
        let reply = self.request(b"D")?;
        match reply.as_slice() {
            b"OK" => Ok(()),
            other => Err(refusal("D", other)),
        }
    }

    /// Sends a packet and returns the decoded reply payload, skipping
    /// console output (`O...`) packets.
    ///
    /// # Errors
    ///
    /// I/O, timeout, the stub refusing the packet every time, or a
    /// malformed reply.
    pub fn request(&mut self, payload: &[u8]) -> Result<Vec<u8>> {
        self.send(payload)?;
        loop {
            let reply = self.receive()?;
            let console = reply.len() > 1
                && reply[0] == b'O'
                && reply[1..].iter().all(u8::is_ascii_hexdigit)
                && payload != b"?";
            if !console {
                return Ok(reply);
            }
        }
    }

    /// Sends one packet and waits for its `+`; a `-` sends it again.
    fn send(&mut self, payload: &[u8]) -> Result<()> {
        let framed = frame(payload);
        for _ in 0..=RETRIES {
            self.stream.write_all(&framed).map_err(|e| self.io(e))?;
            self.stream.flush().map_err(|e| self.io(e))?;
            loop {
                match self.next_byte()? {
                    b'+' => return Ok(()),
                    b'-' => break,
                    // A packet before the ack: QEMU sends a stop reply
                    // when a debugger connects (the board stopped),
                    // unasked. It is acknowledged and dropped.
                    b'$' => {
                        let _ = self.packet_body()?;
                    }
                    // Anything else is noise.
                    _ => {}
                }
            }
        }
        Err(Error::Malformed(format!(
            "the stub refused {:?} {RETRIES} times",
            String::from_utf8_lossy(payload)
        )))
    }

    /// Receives one packet, acknowledging it (`+`), or asking for it
    /// again (`-`) if its checksum is wrong.
    ///
    /// # Errors
    ///
    /// I/O, timeout, an overlong packet, repeated bad checksums.
    pub fn receive(&mut self) -> Result<Vec<u8>> {
        for _ in 0..=RETRIES {
            // Skip to the start of a packet (stray acks, noise).
            while self.next_byte()? != b'$' {}
            if let Some(packet) = self.packet_body()? {
                return Ok(packet);
            }
        }
        Err(Error::Malformed(format!(
            "{} replies in a row with a bad checksum",
            RETRIES + 1
        )))
    }

    /// Reads a packet after its `$`: acknowledges and decodes it, or
    /// asks for it again (`-`, and `None`) if its checksum is wrong.
    fn packet_body(&mut self) -> Result<Option<Vec<u8>>> {
        let mut raw = Vec::new();
        loop {
            let b = self.next_byte()?;
            if b == b'#' {
                break;
            }
            if b == b'$' {
                // A new packet began: the previous one was cut.
                raw.clear();
                continue;
            }
            raw.push(b);
            if raw.len() > 2 * MAX_PACKET {
                return Err(Error::Malformed("reply too long".into()));
            }
        }
        let sum = [self.next_byte()?, self.next_byte()?];
        let good = unhex(&sum).ok().map(|s| s[0]) == Some(checksum(&raw));
        if good {
            self.stream.write_all(b"+").map_err(|e| self.io(e))?;
            decode(&raw).map(Some)
        } else {
            self.stream.write_all(b"-").map_err(|e| self.io(e))?;
            Ok(None)
        }
    }

    fn next_byte(&mut self) -> Result<u8> {
        if self.pending.is_empty() {
            let mut buf = [0u8; 4096];
            let n = self.stream.read(&mut buf).map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(Error::Closed);
            }
            self.pending.extend_from_slice(&buf[..n]);
            self.pending.reverse();
        }
        self.pending.pop().ok_or(Error::Closed)
    }

    fn io(&self, e: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        match e.kind() {
            WouldBlock | TimedOut => Error::Timeout(self.timeout_secs),
            BrokenPipe | ConnectionReset | UnexpectedEof => Error::Closed,
            _ => Error::Io(e),
        }
    }
}

fn refusal(what: &str, reply: &[u8]) -> Error {
    let text = String::from_utf8_lossy(reply);
    let code = text.strip_prefix('E').unwrap_or(&text);
    Error::Refusal(what.to_owned(), format!("{code:.16}"))
}

#[cfg(test)]
mod tests;
