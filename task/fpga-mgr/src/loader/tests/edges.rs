//! The load sequence's edges: a header exactly as long as what the lease
//! holds, a driver timeout, deadlines between steps, and what a stream
//! reports about itself.

use super::*;

/// A parse_header answer.
fn header(header_size: u32, need_more: bool) -> HeaderInfo {
    HeaderInfo {
        header_size,
        data_size: 0,
        need_more,
    }
}

#[test]
fn every_step_maps_to_its_own_error_state() {
    for (step, failed) in [
        (FpgaState::ParseHeader, FpgaState::ParseHeaderErr),
        (FpgaState::WriteInit, FpgaState::WriteInitErr),
        (FpgaState::Write, FpgaState::WriteErr),
        (FpgaState::WriteComplete, FpgaState::WriteCompleteErr),
    ] {
        assert_eq!(error_state_of(step), Some(failed), "{step:?}");
    }
    // States that are no step of a load have no error state.
    for state in [
        FpgaState::Unknown,
        FpgaState::Operating,
        FpgaState::WriteErr,
    ] {
        assert_eq!(error_state_of(state), None, "{state:?}");
    }
}

#[test]
fn a_driver_side_timeout_is_timeout_in_that_steps_error_state() {
    for (op, state) in [
        (Op::ParseHeader, FpgaState::ParseHeaderErr),
        (Op::WriteInit, FpgaState::WriteInitErr),
        (Op::Write, FpgaState::WriteErr),
        (Op::WriteComplete, FpgaState::WriteCompleteErr),
    ] {
        let mut fake = Fake::new(kunit_image());
        fake.fail = Some((op, DriverError::Timeout));
        assert_eq!(load(&mut fake, &KUNIT), Err(FpgaError::Timeout), "{op:?}");
        assert_eq!(fake.state, state, "{op:?}");
    }
}

#[test]
fn a_deadline_passed_during_parse_header_stops_before_write_init() {
    let mut fake = Fake::new(kunit_image());
    fake.op_ms = 10;
    // Two parse_header calls (the KUnit driver asks for more once): 20 ms
    // of a 15 ms deadline. write_init must not start.
    let r = load_image(&mut fake, &KUNIT, 0, IMAGE_SIZE, &Deadline::new(0, 15));
    assert_eq!(r.map(|_| ()), Err(FpgaError::Timeout));
    assert_eq!(fake.state, FpgaState::ParseHeaderErr);
    assert_eq!(fake.count(Op::WriteInit), 0);
}

#[test]
fn a_deadline_passed_between_header_requests_stops_the_growth() {
    let profile = Profile {
        initial_header_size: 16,
        ..KUNIT
    };
    let mut fake = Fake::new(vec![0; 512]);
    fake.op_ms = 10;
    fake.answers = vec![header(64, true), header(64, false)];
    let r = load_image(&mut fake, &profile, 0, 512, &Deadline::new(0, 5));
    assert_eq!(r.map(|_| ()), Err(FpgaError::Timeout));
    assert_eq!(fake.state, FpgaState::ParseHeaderErr);
    assert_eq!(fake.count(Op::ParseHeader), 1);
}

#[test]
fn a_deadline_passed_during_write_init_is_write_init_err() {
    let mut fake = Fake::new(kunit_image());
    fake.op_ms = 10;
    // parse x2 (20 ms), write_init (30 ms) of a 25 ms deadline.
    let r = load_image(&mut fake, &KUNIT, 0, IMAGE_SIZE, &Deadline::new(0, 25));
    assert_eq!(r.map(|_| ()), Err(FpgaError::Timeout));
    assert_eq!(fake.state, FpgaState::WriteInitErr);
    assert_eq!(fake.count(Op::Write), 0);
}

#[test]
fn a_header_chunk_past_the_deadline_times_out_without_a_write() {
    let profile = Profile {
        initial_header_size: 8,
        ..KUNIT
    };
    let mut fake = Fake::new(vec![0; 8]);
    fake.op_ms = 10;
    fake.answers = vec![header(8, false)];
    let (mut stream, _) =
        Stream::begin(&profile, 0, 12, Deadline::new(0, 20)).unwrap();
    // parse_header (10 ms) and write_init (20 ms): the deadline is gone
    // by the end of this header-only chunk.
    let r = stream.chunk(&mut fake, &profile, 8);
    assert_eq!(r, Err(FpgaError::Timeout));
    assert_eq!(fake.count(Op::Write), 0);
}

#[test]
fn a_first_chunk_exactly_the_initial_header_size_is_enough() {
    let profile = Profile {
        initial_header_size: 16,
        ..KUNIT
    };
    let mut fake = Fake::new(vec![b'P'; 16]);
    fake.answers = vec![header(16, false)];
    let (mut stream, min) = Stream::begin(&profile, 0, 32, deadline()).unwrap();
    assert_eq!(min, 16);
    assert_eq!(stream.chunk(&mut fake, &profile, 16), Ok(()));
    assert_eq!(fake.last(Op::ParseHeader).window, Some(Window::head(16)));
    assert_eq!(stream.received(), 16);
}

#[test]
fn a_first_chunk_shorter_than_the_initial_header_size_is_not_parsed() {
    let profile = Profile {
        initial_header_size: 64,
        ..KUNIT
    };
    let mut fake = Fake::new(vec![0; 16]);
    let (mut stream, _) = Stream::begin(&profile, 0, 512, deadline()).unwrap();
    let r = stream.chunk(&mut fake, &profile, 16);
    assert_eq!(r, Err(FpgaError::FirstChunkTooShort));
    assert_eq!(stream.header_needed(), Some(64));
    assert!(fake.calls.is_empty() && fake.states.is_empty());
}

#[test]
fn a_header_may_grow_to_exactly_what_the_lease_holds() {
    let profile = Profile {
        initial_header_size: 16,
        ..KUNIT
    };
    // The whole image, in one load.
    let mut fake = Fake::new(vec![0; 512]);
    fake.answers = vec![header(512, true), header(512, false)];
    assert_eq!(load(&mut fake, &profile), Ok(()));
    assert_eq!(fake.last(Op::ParseHeader).window, Some(Window::head(512)));
    // A first chunk of 64 bytes of a longer stream.
    let mut fake = Fake::new(vec![0; 64]);
    fake.answers = vec![header(64, true), header(64, false)];
    let (mut stream, _) = Stream::begin(&profile, 0, 512, deadline()).unwrap();
    assert_eq!(stream.chunk(&mut fake, &profile, 64), Ok(()));
    assert_eq!(fake.last(Op::ParseHeader).window, Some(Window::head(64)));
}

#[test]
fn a_stream_whose_header_does_not_grow_fails_rather_than_waits() {
    let profile = Profile {
        initial_header_size: 16,
        ..KUNIT
    };
    // Asking again for the size it got, or for more than the image: the
    // header is invalid (the stream ends), not a first chunk too short.
    for asked in [16, 513] {
        let mut fake = Fake::new(vec![0; 512]);
        fake.answers = vec![header(asked, true)];
        let (mut stream, _) =
            Stream::begin(&profile, 0, 512, deadline()).unwrap();
        let r = stream.chunk(&mut fake, &profile, 512);
        assert_eq!(r, Err(FpgaError::HeaderInvalid), "{asked}");
        assert_eq!(fake.state, FpgaState::ParseHeaderErr, "{asked}");
        assert_eq!(fake.count(Op::ParseHeader), 1, "{asked}");
        assert_eq!(stream.header_needed(), None, "{asked}");
    }
}

#[test]
fn a_stream_reports_its_flags_and_the_bytes_it_accepted() {
    let profile = Profile {
        supported_flags: flags::ALL,
        ..KUNIT
    };
    for image_flags in [0, flags::PARTIAL_RECONFIG, flags::COMPRESSED] {
        let (stream, _) =
            Stream::begin(&profile, image_flags, 1, deadline()).unwrap();
        assert_eq!(stream.flags(), image_flags);
    }
    let image = kunit_image();
    let mut fake = Fake::new(Vec::new());
    let (mut stream, _) =
        Stream::begin(&KUNIT, 0, IMAGE_SIZE, deadline()).unwrap();
    let mut at = 0;
    for len in [1500, 1000, 1596] {
        fake.lease = image[at..at + len].to_vec();
        stream.chunk(&mut fake, &KUNIT, len as u32).unwrap();
        at += len;
        assert_eq!(stream.received() as usize, at);
    }
}
