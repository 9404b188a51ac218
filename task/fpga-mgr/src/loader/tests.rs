//! Linux's `fpga_mgr` KUnit cases (`drivers/fpga/tests/fpga-mgr-test.c`)
//! and the cases Linux never tested, against a fake driver.

use super::*;

/// The KUnit fixture: 1024 'H' header bytes, then 3072 'P' bytes.
const HEADER_SIZE: u32 = 1024;
const IMAGE_SIZE: u32 = 4096;

fn kunit_image() -> Vec<u8> {
    let mut image = vec![b'H'; HEADER_SIZE as usize];
    image.resize(IMAGE_SIZE as usize, b'P');
    image
}

#[derive(Copy, Clone, Debug, Eq, PartialEq)]
enum Op {
    ParseHeader,
    WriteInit,
    Write,
    WriteComplete,
}

/// A driver op as the fake saw it: which, in what state, with what
/// sequence number (the KUnit fake's `seq_num`).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
struct Call {
    op: Op,
    state: FpgaState,
    seq: u32,
    window: Option<Window>,
}

/// The KUnit fake manager: `skip_header`, a parse_header that wants 1024
/// bytes (asking for them with `need_more` when given fewer, since we
/// start with `initial_header_size` bytes rather than the whole buffer),
/// and match flags instead of failures.
struct Fake {
    /// What lease 0 of the current call holds.
    lease: Vec<u8>,
    state: FpgaState,
    states: Vec<FpgaState>,
    calls: Vec<Call>,
    header_match: bool,
    image_match: bool,
    written: Vec<u8>,
    /// parse_header's answers, in order; when empty, the KUnit rule.
    answers: Vec<HeaderInfo>,
    /// Fail this op with this error.
    fail: Option<(Op, DriverError)>,
    now: u64,
    /// Milliseconds each op takes.
    op_ms: u64,
    /// `timeout_ms` write_complete was given.
    complete_timeout: Option<u32>,
    /// Windows hashed, in order.
    digested: Vec<Window>,
    /// Make hashing find the lease revoked.
    digest_fails: bool,
    /// A hash engine instead of hashing on the spot: what it was told,
    /// with the number of writes the driver had had by then.
    engine: Option<Vec<(&'static str, usize)>>,
    /// The engine's own hash of what it was started on.
    engine_sha: ImageDigest,
    /// Make the engine fail its transfers.
    engine_fails: bool,
}

impl Fake {
    fn new(lease: Vec<u8>) -> Self {
        Self {
            lease,
            state: FpgaState::Unknown,
            states: Vec::new(),
            calls: Vec::new(),
            header_match: false,
            image_match: false,
            written: Vec::new(),
            answers: Vec::new(),
            fail: None,
            now: 0,
            op_ms: 0,
            complete_timeout: None,
            digested: Vec::new(),
            digest_fails: false,
            engine: None,
            engine_sha: ImageDigest::new(),
            engine_fails: false,
        }
    }

    fn with_engine(lease: Vec<u8>) -> Self {
        Self {
            engine: Some(Vec::new()),
            ..Self::new(lease)
        }
    }

    /// Logs an engine event; whether there is an engine.
    fn engine_event(&mut self, what: &'static str) -> bool {
        let writes = self.count(Op::Write);
        self.engine
            .as_mut()
            .map(|e| e.push((what, writes)))
            .is_some()
    }

    fn bytes(&self, w: Window) -> &[u8] {
        let start = w.offset as usize;
        &self.lease[start..start + w.len as usize]
    }

    /// Records the call; fails it if asked to.
    fn enter(&mut self, op: Op, w: Option<Window>) -> Result<(), DriverError> {
        if let Some(w) = w {
            // What the kernel would do to the manager: a window outside
            // the lease is a bug in the manager, not the driver.
            let end = w.offset as usize + w.len as usize;
            assert!(end <= self.lease.len(), "{op:?} window {w:?} too long");
        }
        let seq = self.calls.len() as u32;
        self.calls.push(Call {
            op,
            state: self.state,
            seq,
            window: w,
        });
        self.now += self.op_ms;
        match self.fail {
            Some((o, e)) if o == op => Err(e),
            _ => Ok(()),
        }
    }

    fn last(&self, op: Op) -> Call {
        *self
            .calls
            .iter()
            .rev()
            .find(|c| c.op == op)
            .expect("called")
    }

    fn count(&self, op: Op) -> usize {
        self.calls.iter().filter(|c| c.op == op).count()
    }
}

impl DriverOps for Fake {
    fn parse_header(
        &mut self,
        _flags: u32,
        image_len: u32,
        header: Window,
    ) -> Result<HeaderInfo, DriverError> {
        self.enter(Op::ParseHeader, Some(header))?;
        if !self.answers.is_empty() {
            return Ok(self.answers.remove(0));
        }
        if header.len < HEADER_SIZE {
            return Ok(HeaderInfo {
                header_size: HEADER_SIZE,
                data_size: 0,
                need_more: true,
            });
        }
        let bytes = self.bytes(Window::head(HEADER_SIZE));
        self.header_match = bytes.iter().all(|&b| b == b'H');
        Ok(HeaderInfo {
            header_size: HEADER_SIZE,
            data_size: image_len - HEADER_SIZE,
            need_more: false,
        })
    }

    fn write_init(
        &mut self,
        _flags: u32,
        _image_len: u32,
        header: Window,
    ) -> Result<(), DriverError> {
        self.enter(Op::WriteInit, Some(header))
    }

    fn write(&mut self, data: Window) -> Result<(), DriverError> {
        self.enter(Op::Write, Some(data))?;
        let bytes = self.bytes(data).to_vec();
        let first = self.written.is_empty();
        let all_p = bytes.iter().all(|&b| b == b'P');
        self.image_match = all_p && (first || self.image_match);
        self.written.extend_from_slice(&bytes);
        Ok(())
    }

    fn write_complete(
        &mut self,
        _flags: u32,
        timeout_ms: u32,
    ) -> Result<(), DriverError> {
        self.complete_timeout = Some(timeout_ms);
        self.enter(Op::WriteComplete, None)
    }

    fn digest(
        &mut self,
        window: Window,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        self.digested.push(window);
        if self.digest_fails {
            return Err(DriverError::LeaseRevoked);
        }
        let bytes = self.bytes(window).to_vec();
        if self.engine_event("start") {
            digest.hand_to_engine(7, &bytes);
            digest.engine_fed(window.len);
            self.engine_sha.update(&bytes);
        } else {
            digest.update(&bytes);
        }
        Ok(())
    }

    fn digest_wait(
        &mut self,
        _digest: &mut ImageDigest,
        stop: bool,
    ) -> Result<(), DriverError> {
        let engine = self.engine_event(if stop { "stop" } else { "wait" });
        if engine && self.engine_fails && !stop {
            return Err(DriverError::DeviceNotReady);
        }
        Ok(())
    }

    fn digest_seal(
        &mut self,
        digest: &mut ImageDigest,
    ) -> Result<(), DriverError> {
        if self.engine_event("seal") {
            let f = self.engine_sha.clone().finish().expect("ours");
            digest.seal(f.sha256);
        }
        Ok(())
    }

    fn set_state(&mut self, state: FpgaState) {
        self.state = state;
        self.states.push(state);
    }

    fn now_ms(&self) -> u64 {
        self.now
    }
}

/// The KUnit fake's ops: `initial_header_size` 0, `skip_header`.
const KUNIT: Profile = Profile {
    initial_header_size: 0,
    skip_header: true,
    supported_flags: 0,
};

fn deadline() -> Deadline {
    Deadline::new(0, 1000)
}

fn load(fake: &mut Fake, profile: &Profile) -> Result<(), FpgaError> {
    let len = fake.lease.len() as u32;
    load_image(fake, profile, 0, len, &deadline()).map(|_| ())
}

/// Asserts the KUnit sequence: each op ran in its own state, and
/// write_init, write and write_complete follow the (last) parse_header.
fn assert_kunit_sequence(fake: &Fake) {
    let parse = fake.last(Op::ParseHeader);
    assert_eq!(parse.state, FpgaState::ParseHeader);
    let init = fake.last(Op::WriteInit);
    assert_eq!(init.state, FpgaState::WriteInit);
    assert_eq!(init.seq, parse.seq + 1);
    let write = fake.last(Op::Write);
    assert_eq!(write.state, FpgaState::Write);
    assert_eq!(write.seq, parse.seq + 2);
    let complete = fake.last(Op::WriteComplete);
    assert_eq!(complete.state, FpgaState::WriteComplete);
    assert_eq!(complete.seq, parse.seq + 3);
    assert_eq!(fake.state, FpgaState::Operating);
    assert!(fake.header_match && fake.image_match);
}

#[test]
fn fpga_mgr_test_img_load_buf() {
    let mut fake = Fake::new(kunit_image());
    assert_eq!(load(&mut fake, &KUNIT), Ok(()));
    assert_kunit_sequence(&fake);
    assert_eq!(fake.count(Op::Write), 1);
    assert_eq!(fake.written.len(), 3072);
    // write_init got the header window.
    let init = fake.last(Op::WriteInit);
    assert_eq!(init.window, Some(Window::head(HEADER_SIZE)));
}

/// The sg case as a streamed load of one chunk (`sg_init_one`).
#[test]
fn fpga_mgr_test_img_load_sgt() {
    let mut fake = Fake::new(kunit_image());
    let (mut stream, min) =
        Stream::begin(&KUNIT, 0, IMAGE_SIZE, deadline()).unwrap();
    assert_eq!(min, 0);
    assert_eq!(stream.chunk(&mut fake, &KUNIT, IMAGE_SIZE), Ok(()));
    assert_eq!(stream.end(&mut fake).map(|_| ()), Ok(()));
    assert_kunit_sequence(&fake);
}

#[test]
fn test_per_fragment_write() {
    let image = kunit_image();
    let mut fake = Fake::new(Vec::new());
    let (mut stream, _) =
        Stream::begin(&KUNIT, 0, IMAGE_SIZE, deadline()).unwrap();
    // A first chunk shorter than the header is refused, untouched.
    fake.lease = image[..1000].to_vec();
    let r = stream.chunk(&mut fake, &KUNIT, 1000);
    assert_eq!(r, Err(FpgaError::FirstChunkTooShort));
    assert_eq!(stream.header_needed(), Some(HEADER_SIZE));
    assert_eq!(stream.received(), 0);
    assert_eq!(fake.count(Op::WriteInit), 0);
    // 1500, then 1000-byte chunks: the header is skipped inside the first.
    let mut at = 0;
    for len in [1500, 1000, 1000, 596] {
        fake.lease = image[at..at + len].to_vec();
        assert_eq!(stream.chunk(&mut fake, &KUNIT, len as u32), Ok(()));
        at += len;
    }
    assert_eq!(stream.end(&mut fake).map(|_| ()), Ok(()));
    assert_eq!(fake.count(Op::Write), 4);
    let first = fake.calls.iter().find(|c| c.op == Op::Write).unwrap();
    assert_eq!(
        first.window,
        Some(Window {
            offset: 1024,
            len: 476
        })
    );
    assert_eq!(fake.written, image[1024..]);
    assert!(fake.image_match && fake.header_match);
    assert_eq!(fake.state, FpgaState::Operating);
}

#[test]
fn a_chunk_wholly_inside_the_header_writes_nothing() {
    let profile = Profile {
        initial_header_size: 0,
        skip_header: true,
        supported_flags: 0,
    };
    let mut fake = Fake::new(vec![0; 8]);
    fake.answers = vec![HeaderInfo {
        header_size: 8,
        data_size: 0,
        need_more: false,
    }];
    let (mut stream, _) = Stream::begin(&profile, 0, 12, deadline()).unwrap();
    assert_eq!(stream.chunk(&mut fake, &profile, 8), Ok(()));
    assert_eq!(fake.count(Op::Write), 0);
    fake.lease = vec![b'P'; 4];
    assert_eq!(stream.chunk(&mut fake, &profile, 4), Ok(()));
    assert_eq!(fake.last(Op::Write).window, Some(Window::head(4)));
    assert_eq!(stream.end(&mut fake).map(|_| ()), Ok(()));
}

#[test]
fn test_parse_header_grow() {
    let profile = Profile {
        initial_header_size: 16,
        ..KUNIT
    };
    let mut fake = Fake::new(vec![b'P'; 512]);
    let more = |n| HeaderInfo {
        header_size: n,
        data_size: 0,
        need_more: true,
    };
    let done = HeaderInfo {
        header_size: 256,
        data_size: 0,
        need_more: false,
    };
    fake.answers = vec![more(64), more(256), done];
    assert_eq!(load(&mut fake, &profile), Ok(()));
    let windows: Vec<u32> = fake
        .calls
        .iter()
        .filter(|c| c.op == Op::ParseHeader)
        .map(|c| c.window.unwrap().len)
        .collect();
    assert_eq!(windows, [16, 64, 256]);
    assert_eq!(
        fake.last(Op::Write).window,
        Some(Window {
            offset: 256,
            len: 256
        })
    );
}

#[test]
fn a_header_request_that_does_not_grow_is_header_invalid() {
    let profile = Profile {
        initial_header_size: 16,
        ..KUNIT
    };
    for asked in [16, 8, 513] {
        let mut fake = Fake::new(vec![0; 512]);
        fake.answers = vec![HeaderInfo {
            header_size: asked,
            data_size: 0,
            need_more: true,
        }];
        assert_eq!(load(&mut fake, &profile), Err(FpgaError::HeaderInvalid));
        assert_eq!(fake.state, FpgaState::ParseHeaderErr);
        assert_eq!(fake.count(Op::WriteInit), 0);
    }
}

#[test]
fn data_beyond_the_image_outruns_it() {
    let mut fake = Fake::new(kunit_image());
    fake.answers = vec![HeaderInfo {
        header_size: 1024,
        data_size: 3073,
        need_more: false,
    }];
    assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::DataOutrunsImage));
    assert_eq!(fake.state, FpgaState::ParseHeaderErr);
}

#[test]
fn without_skip_header_write_starts_at_zero_and_stops_at_data_size() {
    let profile = Profile {
        skip_header: false,
        ..KUNIT
    };
    let mut fake = Fake::new(vec![0; 100]);
    fake.answers = vec![HeaderInfo {
        header_size: 10,
        data_size: 50,
        need_more: false,
    }];
    assert_eq!(load(&mut fake, &profile), Ok(()));
    assert_eq!(fake.last(Op::Write).window, Some(Window::head(50)));
}

#[test]
fn test_op_failure_states() {
    let cases = [
        (
            Op::ParseHeader,
            FpgaState::ParseHeaderErr,
            FpgaError::HeaderInvalid,
        ),
        (
            Op::WriteInit,
            FpgaState::WriteInitErr,
            FpgaError::WriteInitFailed,
        ),
        (Op::Write, FpgaState::WriteErr, FpgaError::WriteFailed),
        (
            Op::WriteComplete,
            FpgaState::WriteCompleteErr,
            FpgaError::WriteCompleteFailed,
        ),
    ];
    for (op, state, error) in cases {
        let mut fake = Fake::new(kunit_image());
        fake.fail = Some((op, DriverError::ConfigFailed));
        assert_eq!(load(&mut fake, &KUNIT), Err(error), "{op:?}");
        assert_eq!(fake.state, state, "{op:?}");
        // Nothing runs after the failing op.
        assert_eq!(fake.calls.last().unwrap().op, op);
    }
}

#[test]
fn a_driver_that_dies_in_any_step_is_driver_died_in_that_steps_error() {
    for (op, state) in [
        (Op::ParseHeader, FpgaState::ParseHeaderErr),
        (Op::WriteInit, FpgaState::WriteInitErr),
        (Op::Write, FpgaState::WriteErr),
        (Op::WriteComplete, FpgaState::WriteCompleteErr),
    ] {
        let mut fake = Fake::new(kunit_image());
        fake.fail = Some((op, DriverError::DriverRestarted));
        assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::DriverDied));
        assert_eq!(fake.state, state);
    }
}

#[test]
fn a_revoked_lease_is_client_went_away() {
    let mut fake = Fake::new(kunit_image());
    fake.fail = Some((Op::Write, DriverError::LeaseRevoked));
    assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::ClientWentAway));
    assert_eq!(fake.state, FpgaState::WriteErr);
}

#[test]
fn unsupported_flags_are_refused_before_anything_happens() {
    let mut fake = Fake::new(kunit_image());
    let r = load_image(
        &mut fake,
        &KUNIT,
        flags::ENCRYPTED,
        IMAGE_SIZE,
        &deadline(),
    );
    assert_eq!(r.map(|_| ()), Err(FpgaError::BadFlags));
    let profile = Profile {
        supported_flags: flags::ALL | 1 << 9,
        ..KUNIT
    };
    let r = load_image(&mut fake, &profile, 1 << 9, IMAGE_SIZE, &deadline());
    assert_eq!(r.map(|_| ()), Err(FpgaError::BadFlags));
    assert!(fake.calls.is_empty() && fake.states.is_empty());
    let r = Stream::begin(&KUNIT, flags::COMPRESSED, 1, deadline());
    assert_eq!(r.map(|_| ()), Err(FpgaError::BadFlags));
}

#[test]
fn a_load_past_its_deadline_times_out_in_the_step_that_overran() {
    let mut fake = Fake::new(kunit_image());
    fake.op_ms = 10;
    // parse x2 (20 ms), write_init (30), write (40): the write overran.
    let r = load_image(&mut fake, &KUNIT, 0, IMAGE_SIZE, &Deadline::new(0, 35));
    assert_eq!(r.map(|_| ()), Err(FpgaError::Timeout));
    assert_eq!(fake.state, FpgaState::WriteErr);
    assert_eq!(fake.count(Op::WriteComplete), 0);
}

#[test]
fn write_complete_gets_what_is_left_of_the_deadline() {
    let mut fake = Fake::new(kunit_image());
    fake.op_ms = 10;
    let r =
        load_image(&mut fake, &KUNIT, 0, IMAGE_SIZE, &Deadline::new(0, 100));
    assert_eq!(r.map(|_| ()), Ok(()));
    assert_eq!(fake.complete_timeout, Some(60));
}

#[test]
fn a_deadline_is_the_start_plus_the_timeout_in_the_same_clock() {
    // The hash engine's wait arms the task timer with it.
    assert_eq!(Deadline::new(5, 10).at_ms(), 15);
    assert_eq!(
        Deadline::new(7, 0).at_ms(),
        7 + u64::from(DEFAULT_TIMEOUT_MS)
    );
}

#[test]
fn a_zero_timeout_means_the_default() {
    assert_eq!(Deadline::new(5, 0).remaining(5), Some(DEFAULT_TIMEOUT_MS));
    assert_eq!(Deadline::new(5, 10).remaining(15), None);
}

#[test]
fn a_stream_may_not_outrun_its_image_nor_end_early() {
    let mut fake = Fake::new(kunit_image());
    let (mut stream, _) =
        Stream::begin(&KUNIT, 0, IMAGE_SIZE, deadline()).unwrap();
    let r = stream.chunk(&mut fake, &KUNIT, IMAGE_SIZE + 1);
    assert_eq!(r, Err(FpgaError::DataOutrunsImage));
    assert_eq!(fake.state, FpgaState::WriteErr);

    let mut fake = Fake::new(kunit_image());
    let (mut stream, _) =
        Stream::begin(&KUNIT, 0, IMAGE_SIZE, deadline()).unwrap();
    fake.lease.truncate(2048);
    assert_eq!(stream.chunk(&mut fake, &KUNIT, 2048), Ok(()));
    assert_eq!(
        stream.end(&mut fake).map(|_| ()),
        Err(FpgaError::ImageIncomplete)
    );
    assert_eq!(fake.state, FpgaState::WriteErr);
    assert_eq!(fake.count(Op::WriteComplete), 0);
}

#[test]
fn an_empty_image_is_refused() {
    let mut fake = Fake::new(Vec::new());
    assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::InvalidState));
    let r = Stream::begin(&KUNIT, 0, 0, deadline());
    assert_eq!(r.map(|_| ()), Err(FpgaError::InvalidState));
}

#[test]
fn abandoned_steps_map_to_their_error_states() {
    assert_eq!(error_state_of(FpgaState::Write), Some(FpgaState::WriteErr));
    assert_eq!(
        error_state_of(FpgaState::ParseHeader),
        Some(FpgaState::ParseHeaderErr)
    );
    assert_eq!(error_state_of(FpgaState::Operating), None);
}

/// SHA-256 of `bytes` through the same digest, in one piece.
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut d = ImageDigest::new();
    d.update(bytes);
    d.finish().expect("hashed on the spot").sha256
}

#[test]
fn an_engine_hashes_while_the_driver_writes_and_is_waited_for_after() {
    let mut fake = Fake::with_engine(kunit_image());
    let f = load_image(&mut fake, &KUNIT, 0, IMAGE_SIZE, &deadline())
        .expect("loads");
    let events = fake.engine.clone().expect("engine");
    assert_eq!(events, [("start", 0), ("wait", 1), ("seal", 1)]);
    assert_eq!((f.sha256, f.length), (sha256(&kunit_image()), IMAGE_SIZE));
}

#[test]
fn a_failed_write_stops_the_engine_and_keeps_its_error() {
    let mut fake = Fake::with_engine(kunit_image());
    fake.fail = Some((Op::Write, DriverError::ConfigFailed));
    assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::WriteFailed));
    let events = fake.engine.clone().expect("engine");
    assert_eq!(events, [("start", 0), ("stop", 1)]);
    assert_eq!(fake.state, FpgaState::WriteErr);
}

#[test]
fn the_engine_starts_before_the_header_and_stops_if_it_is_refused() {
    let mut fake = Fake::with_engine(kunit_image());
    fake.fail = Some((Op::ParseHeader, DriverError::BadHeader));
    assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::HeaderInvalid));
    let events = fake.engine.clone().expect("engine");
    assert_eq!(events, [("start", 0), ("stop", 0)]);
    assert_eq!(fake.calls[0].op, Op::ParseHeader);
    assert_eq!(fake.state, FpgaState::ParseHeaderErr);
}

#[test]
fn a_failed_hash_fails_the_load_before_write_complete() {
    let mut fake = Fake::with_engine(kunit_image());
    fake.engine_fails = true;
    assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::WriteFailed));
    assert_eq!(fake.state, FpgaState::WriteErr);
    assert_eq!(fake.count(Op::WriteComplete), 0);
}

#[test]
fn a_stream_waits_for_the_engine_on_every_chunk_before_replying() {
    let image = kunit_image();
    let mut fake = Fake::with_engine(Vec::new());
    let (mut stream, _) =
        Stream::begin(&KUNIT, 0, IMAGE_SIZE, deadline()).unwrap();
    let mut at = 0;
    for len in [1500, 1000, 1596] {
        fake.lease = image[at..at + len].to_vec();
        assert_eq!(stream.chunk(&mut fake, &KUNIT, len as u32), Ok(()));
        assert_eq!(stream.engine(), Some(7));
        at += len;
    }
    let f = stream.end(&mut fake).expect("operating");
    let events = fake.engine.clone().expect("engine");
    let expected = [
        ("start", 0),
        ("wait", 1),
        ("start", 1),
        ("wait", 2),
        ("start", 2),
        ("wait", 3),
        ("seal", 3),
    ];
    assert_eq!(events, expected);
    assert_eq!((f.sha256, f.length), (sha256(&image), IMAGE_SIZE));
}

#[test]
fn a_whole_load_hashes_the_whole_image_once_before_its_write() {
    let mut fake = Fake::new(kunit_image());
    let f = load_image(&mut fake, &KUNIT, 0, IMAGE_SIZE, &deadline())
        .expect("loads");
    // The header too, though the driver skips it.
    assert_eq!(fake.digested, [Window::head(IMAGE_SIZE)]);
    assert_eq!((f.sha256, f.length), (sha256(&kunit_image()), IMAGE_SIZE));
}

#[test]
fn a_stream_hashes_each_accepted_chunk_but_not_a_refused_one() {
    let image = kunit_image();
    let mut fake = Fake::new(Vec::new());
    let (mut stream, _) =
        Stream::begin(&KUNIT, 0, IMAGE_SIZE, deadline()).unwrap();
    fake.lease = image[..1000].to_vec();
    let r = stream.chunk(&mut fake, &KUNIT, 1000);
    assert_eq!(r, Err(FpgaError::FirstChunkTooShort));
    assert!(fake.digested.is_empty());
    let mut at = 0;
    for len in [1500, 1000, 1000, 596] {
        fake.lease = image[at..at + len].to_vec();
        assert_eq!(stream.chunk(&mut fake, &KUNIT, len as u32), Ok(()));
        at += len;
    }
    assert_eq!(stream.engine(), None, "hashed by us");
    let f = stream.end(&mut fake).expect("operating");
    assert_eq!(fake.digested.len(), 4);
    assert_eq!((f.sha256, f.length), (sha256(&image), IMAGE_SIZE));
}

#[test]
fn a_lease_revoked_while_hashing_fails_the_write_before_it_starts() {
    let mut fake = Fake::new(kunit_image());
    fake.digest_fails = true;
    assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::ClientWentAway));
    assert_eq!(fake.state, FpgaState::WriteErr);
    assert_eq!(fake.count(Op::Write), 0);
}

mod edges;
