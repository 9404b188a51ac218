//! The SHA-256 engine against answers from outside: the NIST example
//! vectors (FIPS 180-4's SHA-256 examples, csrc.nist.gov) and `sha2` as
//! the oracle for inputs cut into transfers anywhere; and every refusal
//! the register map documents.

use proptest::prelude::*;
use serde_json::Value;
use sha2::Digest;
use sim_devices::sha256_engine::{
    COUNT, CTRL, CTRL_ABORT, CTRL_INIT, CTRL_IRQ_EN, DATA, DIGEST0, IRQ_DONE,
    STATUS, STATUS_BUSY, STATUS_DONE, STATUS_ERROR, STATUS_READY,
};
use sim_devices::{Board, IoError};

const E: usize = 0;

fn board() -> Board {
    let entries = [("hash".into(), "sha256-engine".into(), Value::Null)];
    Board::new(&entries).expect("board")
}

fn digest(b: &mut Board) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.chunks_exact_mut(4).enumerate() {
        let w = b.read_register(E, DIGEST0 + 4 * i as u32, 0).expect("word");
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// INIT, then each piece as one transfer (DONE cleared after each).
fn hash_in_pieces(b: &mut Board, pieces: &[&[u8]]) -> [u8; 32] {
    b.write_register(E, CTRL, CTRL_INIT | CTRL_IRQ_EN, 0)
        .expect("init");
    for p in pieces.iter().filter(|p| !p.is_empty()) {
        b.write_bulk(E, p, 0).expect("transfer");
        assert_eq!(b.take_irqs(), vec![(E, IRQ_DONE)]);
        let status = b.read_register(E, STATUS, 0).unwrap();
        assert_eq!(status, STATUS_DONE | STATUS_READY);
        b.write_register(E, STATUS, STATUS_DONE, 0)
            .expect("clear done");
    }
    digest(b)
}

fn hex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn the_nist_examples_hash_to_their_published_digests() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
    ];
    for (message, expected) in cases {
        let mut b = board();
        assert_eq!(hash_in_pieces(&mut b, &[message]), hex(expected));
        let count = b.read_register(E, COUNT, 0).unwrap();
        assert_eq!(count as usize, message.len());
    }
}

#[test]
fn a_million_a_in_uneven_transfers_is_the_nist_long_example() {
    let a = vec![b'a'; 1_000_000];
    let mut b = board();
    let pieces = [&a[..1], &a[1..65], &a[65..333_333], &a[333_333..]];
    let expected =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    assert_eq!(hash_in_pieces(&mut b, &pieces), hex(expected));
}

proptest! {
    #[test]
    fn any_split_hashes_as_sha2_does(
        data in proptest::collection::vec(any::<u8>(), 0..5000),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut cuts: Vec<usize> =
            cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        let pieces: Vec<&[u8]> =
            cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
        let mut b = board();
        let got = hash_in_pieces(&mut b, &pieces);
        let oracle: [u8; 32] = sha2::Sha256::digest(&data).into();
        prop_assert_eq!(got, oracle);
        let count = b.read_register(E, COUNT, 0).unwrap();
        prop_assert_eq!(count as usize, data.len());
    }
}

#[test]
fn a_transfer_needs_an_open_hash_and_done_cleared() {
    let busy = IoError::Busy {
        periph: E,
        reg: DATA,
    };
    let mut b = board();
    assert_eq!(b.write_bulk(E, b"x", 0), Err(busy), "no INIT yet");
    b.write_register(E, CTRL, CTRL_INIT, 0).unwrap();
    b.write_bulk(E, b"x", 0).unwrap();
    assert_eq!(b.take_irqs(), vec![], "IRQ_EN is off");
    assert_eq!(b.write_bulk(E, b"y", 0), Err(busy), "DONE still set");
    b.write_register(E, STATUS, STATUS_DONE, 0).unwrap();
    b.write_bulk(E, b"y", 0).unwrap();
    let oracle: [u8; 32] = sha2::Sha256::digest(b"xy").into();
    assert_eq!(digest(&mut b), oracle);
}

#[test]
fn while_busy_only_status_count_and_abort_are_allowed() {
    let mut b = board();
    b.write_register(E, CTRL, CTRL_INIT | CTRL_IRQ_EN, 0)
        .unwrap();
    let mut job = b.start_hash(E, 3).expect("start");
    let status = b.read_register(E, STATUS, 0).unwrap();
    assert_eq!(status, STATUS_BUSY | STATUS_READY);
    assert_eq!(b.read_register(E, COUNT, 0), Ok(0));
    let busy = |reg| Err(IoError::Busy { periph: E, reg });
    assert_eq!(b.start_hash(E, 1).map(|_| ()), busy(DATA));
    assert_eq!(b.write_bulk(E, b"z", 0), busy(DATA));
    assert_eq!(b.read_register(E, DIGEST0, 0).map(|_| ()), busy(DIGEST0));
    assert_eq!(
        b.write_register(E, CTRL, CTRL_INIT | CTRL_IRQ_EN, 0),
        busy(CTRL)
    );
    assert_eq!(b.write_register(E, STATUS, STATUS_DONE, 0), busy(STATUS));
    let with_irq_change = CTRL_ABORT;
    assert_eq!(b.write_register(E, CTRL, with_irq_change, 0), busy(CTRL));
    job.run(b"abc");
    b.finish_hash(E, job);
    assert_eq!(b.take_irqs(), vec![(E, IRQ_DONE)]);
    assert_eq!(b.read_register(E, COUNT, 0), Ok(3));
    let oracle: [u8; 32] = sha2::Sha256::digest(b"abc").into();
    assert_eq!(digest(&mut b), oracle);
}

#[test]
fn an_abort_drops_the_transfer_and_the_hash_until_init() {
    let mut b = board();
    b.write_register(E, CTRL, CTRL_INIT | CTRL_IRQ_EN, 0)
        .unwrap();
    let mut job = b.start_hash(E, 3).expect("start");
    b.write_register(E, CTRL, CTRL_ABORT | CTRL_IRQ_EN, 0)
        .unwrap();
    assert_eq!(b.take_aborted(), vec![E]);
    assert_eq!(b.read_register(E, STATUS, 0), Ok(STATUS_ERROR));
    // The aborted job comes back late: nothing happens.
    job.run(b"abc");
    b.finish_hash(E, job);
    assert_eq!(b.take_irqs(), vec![]);
    assert_eq!(b.read_register(E, STATUS, 0), Ok(STATUS_ERROR));
    let busy = Err(IoError::Busy {
        periph: E,
        reg: DATA,
    });
    assert_eq!(b.write_bulk(E, b"abc", 0), busy, "no hash open");
    assert_eq!(hash_in_pieces(&mut b, &[b"abc"]), {
        let d: [u8; 32] = sha2::Sha256::digest(b"abc").into();
        d
    });
}

#[test]
fn a_reset_while_busy_is_an_abort() {
    let mut b = board();
    b.write_register(E, CTRL, CTRL_INIT, 0).unwrap();
    let job = b.start_hash(E, 1).expect("start");
    b.reset(E);
    assert_eq!(b.take_aborted(), vec![E]);
    b.finish_hash(E, job);
    assert_eq!(b.read_register(E, STATUS, 0), Ok(0));
}

#[test]
fn bad_accesses_are_refused_as_such() {
    let mut b = board();
    assert_eq!(
        b.write_register(E, CTRL, 1 << 3, 0),
        Err(IoError::BadValue {
            periph: E,
            reg: CTRL,
            value: 0
        })
    );
    assert_eq!(
        b.write_register(E, COUNT, 1, 0),
        Err(IoError::ReadOnly {
            periph: E,
            reg: COUNT
        })
    );
    assert_eq!(
        b.write_register(E, DIGEST0 + 4, 1, 0),
        Err(IoError::ReadOnly {
            periph: E,
            reg: DIGEST0 + 4
        })
    );
    for reg in [DATA, DIGEST0 + 2, DIGEST0 + 32] {
        assert_eq!(
            b.read_register(E, reg, 0),
            Err(IoError::NoSuchRegister { periph: E, reg })
        );
    }
    let mut out = [0u8; 4];
    assert_eq!(
        b.read_bulk(E, &mut out, 0),
        Err(IoError::NoBulk { periph: E })
    );
}
