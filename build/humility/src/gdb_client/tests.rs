//! The client against scripted stubs: framing, acknowledgements,
//! escapes, run-length encoding, and what a broken or hostile stub
//! sends.

use super::*;
use std::collections::VecDeque;

/// A stub that answers from a script: what it has sent is `input`, what
/// the client wrote is kept in `output`.
struct Scripted {
    input: VecDeque<u8>,
    output: Vec<u8>,
}

impl Scripted {
    fn new(script: &[u8]) -> Self {
        Self {
            input: script.iter().copied().collect(),
            output: Vec::new(),
        }
    }
}

impl Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // One byte at a time: the framing must not depend on how the
        // socket splits the stream.
        match (self.input.pop_front(), buf.first_mut()) {
            (Some(b), Some(slot)) => {
                *slot = b;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn client(script: &[u8]) -> Client<Scripted> {
    Client::new(Scripted::new(script), Duration::from_secs(1))
}

fn sent(c: &Client<Scripted>) -> String {
    String::from_utf8_lossy(&c.stream.output).into_owned()
}

#[test]
fn frames_with_checksum_and_escapes() {
    assert_eq!(frame(b"?"), b"$?#3f");
    assert_eq!(frame(b"m0,4"), b"$m0,4#fd");
    // `#`, `$`, `}` and `*` are escaped as `}` and the byte XOR 0x20;
    // the checksum covers the escaped bytes.
    assert_eq!(frame(b"a#b"), b"$a}\x03b#43".to_vec());
}

#[test]
fn decodes_escapes_and_run_length() {
    assert_eq!(decode(b"ab}\x03").unwrap(), b"ab#");
    // `0* ` is `0` and 32 - 29 = 3 more: four zeros.
    assert_eq!(decode(b"0* ").unwrap(), b"0000");
    // `"` is 34: five more.
    assert_eq!(decode(b"x*\"y").unwrap(), b"xxxxxxy");
    for bad in [&b"}"[..], b"*!", b"ab*", b"a*\x7f", b"a*\x1f"] {
        assert!(decode(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn run_length_cannot_blow_up_a_reply() {
    // Each `*~` adds 97 bytes: enough of them must be refused, not
    // allocated.
    let mut raw = b"0".to_vec();
    for _ in 0..1000 {
        raw.extend_from_slice(b"*~");
    }
    assert!(matches!(decode(&raw), Err(Error::Malformed(_))));
}

/// Recorded from QEMU 7.2's stub on this machine (`mps2-an386`, the
/// default image, stopped at connect): its acks and replies, byte for
/// byte, to the client's `qSupported`, `?`, `Qqemu.PhyMemMode:1`, a
/// read of `LEASEHOLD_IMAGE_ID` and `D`.
const QEMU_SESSION: &[u8] = include_bytes!("qemu-7.2-session.bin");

#[test]
fn replays_a_real_qemu_session() {
    let mut c = client(QEMU_SESSION);
    c.handshake().unwrap();
    assert_eq!(c.packet_size(), 0x1000);
    assert_eq!(c.halt_reason().unwrap(), StopReply { signal: 5 });
    c.physical_memory().unwrap();
    let id = c.read_memory(RECORDED_ID_AT, 8).unwrap();
    assert_eq!(u64::from_le_bytes(id.try_into().unwrap()), RECORDED_ID);
    c.detach().unwrap();
    let out = sent(&c);
    assert!(out.starts_with("$qSupported:xmlRegisters=arm#"), "{out}");
    // Every reply was acknowledged once, and the stop QEMU sends
    // unasked at connect.
    assert_eq!(out.matches('+').count(), 6, "{out}");
}

include!("qemu-7.2-session.rs");

#[test]
fn a_bad_checksum_is_asked_for_again() {
    // The first reply is corrupt (checksum 00), the second good.
    let mut c = client(b"+$OK#00$OK#9a");
    assert_eq!(c.request(b"Qqemu.PhyMemMode:1").unwrap(), b"OK");
    assert!(sent(&c).ends_with("-+"), "{}", sent(&c));
}

#[test]
fn a_refused_packet_is_sent_again() {
    let mut c = client(b"-+$S05#b8");
    assert_eq!(c.halt_reason().unwrap().signal, 5);
    assert_eq!(sent(&c).matches("$?#3f").count(), 2);
}

#[test]
fn console_output_is_skipped() {
    // `O` + hex is text the program printed, not the reply.
    let mut c = client(b"+$O6869#2c$OK#9a");
    assert_eq!(c.request(b"D").unwrap(), b"OK");
}

#[test]
fn error_replies_are_refusals() {
    let mut c = client(b"+$E14#aa");
    let e = c.read_memory(0x1000, 4).unwrap_err();
    assert!(matches!(e, Error::Refusal(..)), "{e}");
    assert!(e.to_string().contains("m1000,4"), "{e}");
}

#[test]
fn a_short_memory_reply_is_an_error() {
    let mut c = client(b"+$0102#c3");
    let e = c.read_memory(0, 4).unwrap_err().to_string();
    assert!(e.contains("2 bytes, not 4"), "{e}");
}

#[test]
fn a_stub_that_hangs_up_is_closed() {
    let mut c = client(b"+$O");
    assert!(matches!(c.request(b"g"), Err(Error::Closed)));
}

#[test]
fn an_exited_board_is_not_a_stop() {
    let mut c = client(b"+$W00#b7");
    let e = c.halt_reason().unwrap_err().to_string();
    assert!(e.contains("exited"), "{e}");
}

#[test]
fn only_loopback_addresses() {
    assert!(loopback_address("127.0.0.1:1234").is_ok());
    assert!(loopback_address("[::1]:1234").is_ok());
    assert!(loopback_address("localhost:1234").is_ok());
    for bad in ["10.0.0.1:1234", "0.0.0.0:1234", "example.com:1234"] {
        assert!(
            matches!(loopback_address(bad), Err(Error::NotLoopback(_))),
            "{bad}"
        );
    }
    for bad in ["1234", "127.0.0.1", "127.0.0.1:x", ""] {
        assert!(loopback_address(bad).is_err(), "{bad}");
    }
}

/// Whatever a stub sends, the client answers with a value or an error:
/// never a panic, never an unbounded allocation. A small deterministic
/// generator mutates real replies and makes up random ones.
#[test]
fn garbage_from_the_stub_never_panics() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet = b"$#}*+-0123456789abcdefOKESTWX:;,\x03\x00\xff";
    for round in 0..4000 {
        let mut script: Vec<u8> = if round % 2 == 0 {
            QEMU_SESSION.to_vec()
        } else {
            Vec::new()
        };
        let edits = 1 + next() % 16;
        for _ in 0..edits {
            let b = alphabet[(next() % alphabet.len() as u64) as usize];
            let at = (next() as usize) % (script.len() + 1);
            match next() % 3 {
                0 if at < script.len() => script[at] = b,
                1 if at < script.len() => {
                    script.remove(at);
                }
                _ => script.insert(at, b),
            }
        }
        let mut c = client(&script);
        let _ = c.handshake();
        let _ = c.halt_reason();
        let _ = c.physical_memory();
        let _ = c.read_memory(0x2000_0000, 64);
        let _ = c.registers();
        let _ = c.detach();
    }
}
