//! The `IdolTest` server of the idol system tests, in the shape of
//! Hubris's `test-idol-server`: generated dispatch over
//! `idol_runtime::serve`, one thin method per op.
//!
//! Every check on what a client sends (sizes, op numbers, leases) is
//! the runtime's, before any of this code runs; the cases that break those
//! rules check that the *client* is faulted and we carry on.

#![no_std]
#![no_main]

use idol_runtime::{Leased, LenLimit, NotificationHandler, R, RequestError, W};
use test_idol_api::{
    FancyTestType, Field, IdolTestError, Sample, ScaleError, SocketName,
    UdpMetadata,
};
use userlib::RecvMessage;

type Result<T> = core::result::Result<T, RequestError<IdolTestError>>;

/// All of our state, which a restart resets to 0: what `swap` stored and
/// the two counts the bump ops keep.
struct ServerImpl {
    stored: u32,
    restricted_bumps: u32,
    simple_bumps: u32,
}

#[unsafe(export_name = "main")]
fn main() -> ! {
    let mut buffer = [0u8; idl::INCOMING_SIZE];
    let mut server = ServerImpl {
        stored: 0,
        restricted_bumps: 0,
        simple_bumps: 0,
    };
    idol_runtime::serve::<_, idl::IdolTestOperation>(&mut buffer, &mut server)
}

impl NotificationHandler for ServerImpl {
    fn current_notification_mask(&self) -> u32 {
        0
    }

    fn handle_notification(&mut self, _bits: u32) {}
}

impl idl::InOrderIdolTestImpl for ServerImpl {
    fn increment(&mut self, _: &RecvMessage, i: usize) -> Result<usize> {
        Ok(i + 1)
    }

    fn maybe_increment(
        &mut self,
        _: &RecvMessage,
        i: usize,
        b: bool,
    ) -> Result<usize> {
        Ok(if b { i + 1 } else { i })
    }

    fn return_err_if_true(&mut self, _: &RecvMessage, b: bool) -> Result<()> {
        if b {
            Err(IdolTestError::YouAskedForThis.into())
        } else {
            Ok(())
        }
    }

    fn bool_not(&mut self, _: &RecvMessage, b: bool) -> Result<bool> {
        Ok(!b)
    }

    fn bool_xor(&mut self, _: &RecvMessage, a: bool, b: bool) -> Result<bool> {
        Ok(a ^ b)
    }

    fn fancy_increment(
        &mut self,
        _: &RecvMessage,
        a: FancyTestType,
    ) -> Result<FancyTestType> {
        Ok(FancyTestType {
            u: a.u + u32::from(a.b),
            ..a
        })
    }

    fn extract_vid(
        &mut self,
        _: &RecvMessage,
        _a: u8,
        b: UdpMetadata,
    ) -> Result<u16> {
        Ok(b.vid)
    }

    fn extract_vid_enum(
        &mut self,
        _: &RecvMessage,
        _a: SocketName,
        b: UdpMetadata,
    ) -> Result<u16> {
        Ok(b.vid)
    }

    fn scale(
        &mut self,
        _: &RecvMessage,
        sample: Sample,
        factor: u16,
    ) -> core::result::Result<Sample, RequestError<ScaleError>> {
        let overflow = |field| ScaleError::Overflow { field };
        let x = sample
            .x
            .checked_mul(factor)
            .ok_or_else(|| overflow(Field::X))?;
        let y = sample
            .y
            .checked_mul(i32::from(factor))
            .ok_or_else(|| overflow(Field::Y))?;
        Ok(Sample { x, y, ..sample })
    }

    fn sum(
        &mut self,
        _: &RecvMessage,
        data: LenLimit<Leased<R, [u8]>, 16>,
    ) -> Result<u32> {
        let mut bytes = [0u8; 16];
        let bytes = &mut bytes[..data.len()];
        data.read_range(0..bytes.len(), bytes)
            .map_err(|()| RequestError::went_away())?;
        Ok(bytes.iter().map(|&b| u32::from(b)).sum())
    }

    fn fill(
        &mut self,
        _: &RecvMessage,
        value: u8,
        out: LenLimit<Leased<W, [u8]>, 16>,
    ) -> Result<u32> {
        let mut bytes = [0u8; 16];
        let bytes = &mut bytes[..out.len()];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = value.wrapping_add(i as u8);
        }
        out.write_range(0..bytes.len(), bytes)
            .map_err(|()| RequestError::went_away())?;
        Ok(bytes.len() as u32)
    }

    fn swap(&mut self, _: &RecvMessage, value: u32) -> Result<u32> {
        Ok(core::mem::replace(&mut self.stored, value))
    }

    fn wait_forever(&mut self, _: &RecvMessage) -> Result<()> {
        // A closed receive from the kernel with no notification bits:
        // nothing wakes us. The case faults us from another task.
        loop {
            userlib::sys_recv_notification(0);
        }
    }

    fn null(
        &mut self,
        _: &RecvMessage,
    ) -> core::result::Result<(), RequestError<core::convert::Infallible>> {
        Ok(())
    }

    fn restricted_bump(&mut self, _: &RecvMessage) -> Result<u32> {
        self.restricted_bumps = self.restricted_bumps.wrapping_add(1);
        Ok(self.restricted_bumps)
    }

    fn simple_bump(
        &mut self,
        _: &RecvMessage,
    ) -> core::result::Result<u32, RequestError<core::convert::Infallible>>
    {
        self.simple_bumps = self.simple_bumps.wrapping_add(1);
        Ok(self.simple_bumps)
    }

    fn outcome_counts(
        &mut self,
        _: &RecvMessage,
        counts: LenLimit<Leased<W, [u32]>, 6>,
    ) -> core::result::Result<u32, RequestError<core::convert::Infallible>>
    {
        use core::sync::atomic::Ordering::Relaxed;
        let c = &idl::__IDOLTEST_OUTCOME_COUNTERS;
        let all = [
            c.return_err_if_true.Ok.load(Relaxed),
            c.return_err_if_true
                .Err
                .Runtime
                .YouAskedForThis
                .load(Relaxed),
            c.restricted_bump.Ok.load(Relaxed),
            c.restricted_bump.Err.Fail.AccessViolation.load(Relaxed),
            c.sum.Err.Fail.BadLease.load(Relaxed),
            c.scale.Err.Runtime.Overflow.load(Relaxed),
        ];
        let n = counts.len().min(all.len());
        counts
            .write_range(0..n, &all[..n])
            .map_err(|()| RequestError::went_away())?;
        Ok(n as u32)
    }
}

/// The server support generated from `idl/test-idol.idol`.
mod idl {
    use test_idol_api::{
        FancyTestType, IdolTestError, Sample, ScaleError, SocketName,
        UdpMetadata,
    };

    include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
}
