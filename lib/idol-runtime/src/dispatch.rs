//! The server loop's one step: receive, check, hand to the generated stub,
//! and turn its result into a reply or a client fault.
//!
//! Every check on what a client sent happens before any server code runs,
//! and each failure faults the *client*: a server must survive whatever
//! its clients do. What the `RecvMessage` shows (size, op, reply capacity,
//! lease count) is checked here; each lease's rights and length are
//! checked by the generated stub as it builds the lease's [`Leased`]
//! handle, with the one BORROW_INFO that needs (as Hubris does). The checks
//! are pure functions ([`check_message`], [`check_lease`]), so they are
//! tested on the host.
//!
//! [`Leased`]: crate::Leased

use crate::RequestError;
use core::marker::PhantomData;
use userlib::{
    BorrowInfo, ClientError, ClosedRecvError, LeaseAttributes, RecvMessage,
    ReplyFaultReason, TaskId,
};

/// Lets a server receive notifications between messages.
///
/// `dispatch` asks for it on every server: one that takes no notifications
/// returns 0 from `current_notification_mask`, and then
/// `handle_notification` is never called.
pub trait NotificationHandler {
    /// The notification bits to accept in the next RECV.
    fn current_notification_mask(&self) -> u32;

    /// Called with the bits that fired (and were cleared by the RECV).
    fn handle_notification(&mut self, bits: u32);
}

/// The rights an op declares for a lease.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum LeaseAccess {
    /// The server reads the client's memory.
    Read,
    /// The server writes the client's memory.
    Write,
    /// Both.
    ReadWrite,
}

impl LeaseAccess {
    /// The lease attributes a client must grant.
    pub const fn attributes(self) -> LeaseAttributes {
        match self {
            Self::Read => LeaseAttributes::READ,
            Self::Write => LeaseAttributes::WRITE,
            Self::ReadWrite => LeaseAttributes(
                LeaseAttributes::READ.bits() | LeaseAttributes::WRITE.bits(),
            ),
        }
    }
}

/// What an op declares about one of its leases, for checking what a
/// client actually lent.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct LeaseSpec {
    /// The rights the lease must grant (more are fine).
    pub access: LeaseAccess,
    /// Bytes per element (for a sized type, its size).
    pub element_size: usize,
    /// `true` for `[T]`, `false` for a single `T`.
    pub is_slice: bool,
    /// For a slice, the most elements accepted.
    pub max_len: Option<u32>,
}

impl LeaseSpec {
    /// A lease of one `T`.
    pub const fn sized<T>(access: LeaseAccess) -> Self {
        Self {
            access,
            element_size: core::mem::size_of::<T>(),
            is_slice: false,
            max_len: None,
        }
    }

    /// A lease of `[T]`, optionally at most `max_len` elements long.
    pub const fn slice<T>(access: LeaseAccess, max_len: Option<u32>) -> Self {
        Self {
            access,
            element_size: core::mem::size_of::<T>(),
            is_slice: true,
            max_len,
        }
    }
}

/// Implemented (by generated code) for an interface's op enum.
pub trait ServerOp: Copy + TryFrom<u32> {
    /// The reply buffer the client must offer for this op.
    fn max_reply_size(self) -> usize;

    /// The op's leases, in index order.
    fn leases(self) -> &'static [LeaseSpec];

    /// How many leases the op takes.
    fn required_lease_count(self) -> usize {
        self.leases().len()
    }
}

/// What a stub answers a message with: a response code, and a reply body
/// the stub wrote into the first `len` bytes of the buffer the message
/// arrived in (the generated `INCOMING_SIZE` holds every op's message and
/// every reply, so one buffer serves both ways).
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct Reply {
    pub code: u32,
    pub len: usize,
}

/// Implemented (by generated code) for `(PhantomData<Op>, &mut S)` where
/// `S` implements the interface's `InOrder*Impl` trait. The tuple is
/// Hubris's trick to keep a blanket impl per interface from overlapping.
pub trait Server<Op: ServerOp> {
    /// `None` for an open receive; `Some(task)` to hear only from `task`.
    fn recv_source(&self) -> Option<TaskId>;

    /// The task named by `recv_source` has died.
    fn closed_recv_fail(&mut self);

    /// Decodes and serves one message (its first `msg.message_len` bytes
    /// in `buffer`) whose size, op, reply capacity and lease count have
    /// been checked; the leases themselves are the stub's to check (see
    /// [`dispatch`]). `Ok` is the reply, written into `buffer`; `Err` asks
    /// the loop to reply with the code, or to fault the client.
    fn handle(
        &mut self,
        op: Op,
        buffer: &mut [u8],
        msg: &RecvMessage,
    ) -> Result<Reply, RequestError<u16>>;
}

/// Receives one message or notification, handles it and replies.
///
/// Call it in a loop, or let [`serve`] loop (one trap fewer per message).
/// `buffer` must hold `INCOMING_SIZE` bytes (generated with the server
/// support). Before calling into `server`, it faults the client (never
/// the server) when:
///
/// 1. the message is longer than `buffer` (`BadMessageSize`);
/// 2. the op number is unknown (`UndefinedOperation`);
/// 3. the client's reply buffer is smaller than the op's largest reply
///    (`ReplyBufferTooSmall`);
/// 4. the number of leases differs from the op's (`BadLeases`).
///
/// The generated stub then decodes the arguments and builds a [`Leased`]
/// for each lease, which faults the client with `BadLeases` if the lease
/// lacks the declared rights, is not a whole number of elements, or
/// exceeds `max_len`, all before the server method runs. (We used to
/// check the leases here too, which cost every lease a second BORROW_INFO
/// syscall for an answer the stub already gets.)
///
/// Then an `Err(Runtime(code))` from the stub is sent as the response
/// code, `Err(Fail(WentAway))` gets no reply, and any other `Fail` faults
/// the client.
///
/// [`Leased`]: crate::Leased
pub fn dispatch<S, Op>(buffer: &mut [u8], server: &mut S)
where
    S: NotificationHandler,
    Op: ServerOp,
    for<'a> (PhantomData<Op>, &'a mut S): Server<Op>,
{
    let mask = server.current_notification_mask();
    let mut server = (PhantomData::<Op>, server);
    let msg = match server.recv_source() {
        None => userlib::sys_recv_open(buffer, mask),
        Some(source) => match userlib::sys_recv_closed(buffer, mask, source) {
            Ok(msg) => msg,
            Err(ClosedRecvError::Dead(_)) => {
                server.closed_recv_fail();
                return;
            }
        },
    };
    let fault = userlib::sys_reply_fault;
    if let Some((peer, reply)) = answer(&mut server, buffer, &msg, fault) {
        let body = buffer.get(..reply.len).unwrap_or(&[]);
        userlib::sys_reply(peer, reply.code, body);
    }
}

/// The server loop: as [`dispatch`] forever, but each reply leaves with
/// the next receive in one REPLY_RECV trap, so a round trip costs the
/// server one trap instead of two. The checks, and what reaches the
/// server and the client, are exactly `dispatch`'s.
pub fn serve<S, Op>(buffer: &mut [u8], server: &mut S) -> !
where
    S: NotificationHandler,
    Op: ServerOp,
    for<'a> (PhantomData<Op>, &'a mut S): Server<Op>,
{
    let mut pending: Option<(TaskId, Reply)> = None;
    loop {
        let mask = server.current_notification_mask();
        let mut server = (PhantomData::<Op>, &mut *server);
        let source = server.recv_source();
        let reply = pending.take().map(|(peer, r)| (peer, r.code, r.len));
        let received =
            userlib::sys_reply_recv_in_place(reply, buffer, mask, source);
        let msg = match received {
            Ok(msg) => msg,
            Err(ClosedRecvError::Dead(_)) => {
                server.closed_recv_fail();
                continue;
            }
        };
        pending = answer(&mut server, buffer, &msg, userlib::sys_reply_fault);
    }
}

/// Handles one received message: a notification goes to the server; a
/// message is checked (faulting the client if it is malformed) and handed
/// to the stub. Returns the reply to send, if any. `fault` faults a
/// client (`sys_reply_fault`; a recording stand-in in the unit tests,
/// which check that no message reaches the stub unchecked).
fn answer<S, Op>(
    server: &mut (PhantomData<Op>, &mut S),
    buffer: &mut [u8],
    msg: &RecvMessage,
    mut fault: impl FnMut(TaskId, ReplyFaultReason),
) -> Option<(TaskId, Reply)>
where
    S: NotificationHandler,
    Op: ServerOp,
    for<'a> (PhantomData<Op>, &'a mut S): Server<Op>,
{
    if msg.sender == TaskId::KERNEL {
        server.1.handle_notification(msg.operation);
        return None;
    }
    let op = match check_message::<Op>(msg, buffer.len()) {
        Ok(op) => op,
        Err(reason) => {
            fault(msg.sender, reason);
            return None;
        }
    };
    match server.handle(op, buffer, msg) {
        Ok(reply) => Some((msg.sender, reply)),
        Err(RequestError::Runtime(code)) => {
            let reply = Reply {
                code: u32::from(code),
                len: 0,
            };
            Some((msg.sender, reply))
        }
        Err(RequestError::Fail(failure)) => {
            if let Some(reason) = failure.into_fault() {
                fault(msg.sender, reason);
            }
            None
        }
    }
}

/// Lease `index`'s descriptor, if the kernel wrote descriptors after the
/// message in `buffer` (see `abi::RECV_LEASE_INFO`, which [`serve`] asks
/// for) and could describe that lease; `None` means ask BORROW_INFO.
pub fn lease_info(
    buffer: &[u8],
    msg: &RecvMessage,
    index: usize,
) -> Option<BorrowInfo> {
    if msg.described_leases != msg.lease_count
        || index >= msg.lease_count as usize
    {
        return None;
    }
    let start = (msg.message_len as usize).checked_next_multiple_of(4)?;
    let at = start.checked_add(index.checked_mul(8)?)?;
    let bytes = buffer.get(at..at.checked_add(8)?)?;
    let (attributes, length) = bytes.split_at(4);
    let attributes = u32::from_le_bytes(attributes.try_into().ok()?);
    let length = u32::from_le_bytes(length.try_into().ok()?);
    if attributes & userlib::LEASE_DESCRIPTOR_VALID == 0 {
        return None;
    }
    Some(BorrowInfo {
        attributes: LeaseAttributes(
            attributes & !userlib::LEASE_DESCRIPTOR_VALID,
        ),
        len: length as usize,
    })
}

/// Room a receive buffer needs for an op's message of `message_len` bytes
/// and the descriptors of its `leases` (for the generated `INCOMING_SIZE`).
pub const fn with_lease_descriptors(
    message_len: usize,
    leases: usize,
) -> usize {
    if leases == 0 {
        message_len
    } else {
        message_len.next_multiple_of(4) + leases * 8
    }
}

/// Writes `body` as the reply at the start of `buffer` (a generated stub's
/// `Ok` path for zerocopy replies).
///
/// # Panics
///
/// If `buffer` is shorter than `body`: the generated `INCOMING_SIZE`
/// covers every reply, so that is a server built with the wrong buffer,
/// a bug to find at once rather than a reply to truncate.
pub fn reply_bytes(
    buffer: &mut [u8],
    code: u32,
    body: &[u8],
    op: &'static str,
) -> Reply {
    match buffer.get_mut(..body.len()) {
        Some(slot) => {
            slot.copy_from_slice(body);
            Reply {
                code,
                len: body.len(),
            }
        }
        None => crate::unencodable(op),
    }
}

/// Checks a received message against its op's declaration, in the order
/// `dispatch` documents; returns the op, or why the client is faulted.
///
/// # Errors
///
/// The `ReplyFaultReason` to fault the client with.
pub fn check_message<Op: ServerOp>(
    msg: &RecvMessage,
    buffer_len: usize,
) -> Result<Op, ReplyFaultReason> {
    if msg.message_len as usize > buffer_len {
        return Err(ReplyFaultReason::BadMessageSize);
    }
    let op = Op::try_from(msg.operation)
        .map_err(|_| ReplyFaultReason::UndefinedOperation)?;
    if (msg.response_capacity as usize) < op.max_reply_size() {
        return Err(ReplyFaultReason::ReplyBufferTooSmall);
    }
    if msg.lease_count as usize != op.required_lease_count() {
        return Err(ReplyFaultReason::BadLeases);
    }
    Ok(op)
}

/// Whether a restricted op accepts `sender`: its task index is in
/// `allowed` (the op's app.toml `allowed-callers`, resolved at build
/// time). The generation is ignored, so a caller that restarted is still
/// allowed; the kernel stamps `sender`, so it cannot be forged.
pub fn caller_allowed(sender: TaskId, allowed: &[u16]) -> bool {
    let index = sender.index();
    allowed.iter().any(|&a| usize::from(a) == index)
}

/// Checks each lease `lender` sent against `specs`, asking `borrow_info`
/// (normally `sys_borrow_info`) about it. `dispatch` leaves this to the
/// generated stub's [`Leased`](crate::Leased) handles; it is for servers
/// that check leases without them.
///
/// # Errors
///
/// `BadLease` for a lease that does not match, or `WentAway` if the lender
/// is gone (so that it is not answered).
pub fn check_leases(
    lender: TaskId,
    specs: &[LeaseSpec],
    mut borrow_info: impl FnMut(TaskId, usize) -> Option<BorrowInfo>,
) -> Result<(), ClientError> {
    for (index, spec) in specs.iter().enumerate() {
        check_lease(spec, borrow_info(lender, index))?;
    }
    Ok(())
}

/// Checks one lease against its declaration; returns its length in
/// elements (1 for a sized lease).
///
/// # Errors
///
/// `WentAway` when `info` is `None` (the lender is gone), `BadLease` when
/// the rights, size or length do not match.
pub fn check_lease(
    spec: &LeaseSpec,
    info: Option<BorrowInfo>,
) -> Result<usize, ClientError> {
    let info = info.ok_or(ClientError::WentAway)?;
    if !info.attributes.contains(spec.access.attributes()) {
        return Err(ClientError::BadLease);
    }
    if !spec.is_slice {
        return if info.len == spec.element_size {
            Ok(1)
        } else {
            Err(ClientError::BadLease)
        };
    }
    // Only an empty lease is a whole number of zero-sized elements, and we
    // call it empty.
    let elements = match spec.element_size {
        0 if info.len == 0 => 0,
        0 => return Err(ClientError::BadLease),
        size if info.len % size == 0 => info.len / size,
        _ => return Err(ClientError::BadLease),
    };
    match spec.max_len {
        Some(max) if elements > max as usize => Err(ClientError::BadLease),
        _ => Ok(elements),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-op interface: `ping` (op 1, 4-byte reply, no leases) and
    /// `load` (op 2, empty reply, one read lease of at most 8 bytes).
    #[derive(Copy, Clone, Debug, Eq, PartialEq)]
    enum TestOp {
        Ping,
        Load,
    }

    impl TryFrom<u32> for TestOp {
        type Error = ();

        fn try_from(code: u32) -> Result<Self, ()> {
            match code {
                1 => Ok(Self::Ping),
                2 => Ok(Self::Load),
                _ => Err(()),
            }
        }
    }

    const LOAD_LEASES: &[LeaseSpec] =
        &[LeaseSpec::slice::<u8>(LeaseAccess::Read, Some(8))];

    impl ServerOp for TestOp {
        fn max_reply_size(self) -> usize {
            match self {
                Self::Ping => 4,
                Self::Load => 0,
            }
        }

        fn leases(self) -> &'static [LeaseSpec] {
            match self {
                Self::Ping => &[],
                Self::Load => LOAD_LEASES,
            }
        }
    }

    fn message(
        operation: u32,
        len: u32,
        capacity: u32,
        leases: u32,
    ) -> RecvMessage {
        RecvMessage {
            sender: TaskId(3),
            operation,
            message_len: len,
            response_capacity: capacity,
            lease_count: leases,
            ..RecvMessage::default()
        }
    }

    #[test]
    fn lease_descriptors_are_read_after_the_message_only_when_all_came() {
        // A 5-byte message, descriptors from offset 8: a valid read-write
        // lease of 16 bytes, then one the kernel could not describe.
        let mut buffer = [0u8; 32];
        buffer[8..12].copy_from_slice(
            &(3 | userlib::LEASE_DESCRIPTOR_VALID).to_le_bytes(),
        );
        buffer[12..16].copy_from_slice(&16u32.to_le_bytes());
        let mut msg = RecvMessage {
            message_len: 5,
            lease_count: 2,
            described_leases: 2,
            ..RecvMessage::default()
        };
        let rw = LeaseAttributes(3);
        assert_eq!(lease_info(&buffer, &msg, 0), info(rw, 16));
        assert_eq!(lease_info(&buffer, &msg, 1), None, "not valid: ask");
        assert_eq!(lease_info(&buffer, &msg, 2), None, "past the count");
        msg.described_leases = 0;
        assert_eq!(lease_info(&buffer, &msg, 0), None, "none written");
        // A lying count cannot read past the buffer.
        msg.described_leases = 2;
        msg.message_len = 30;
        assert_eq!(lease_info(&buffer, &msg, 0), None);
        assert_eq!(with_lease_descriptors(5, 2), 24);
        assert_eq!(with_lease_descriptors(5, 0), 5);
    }

    fn info(attributes: LeaseAttributes, len: usize) -> Option<BorrowInfo> {
        Some(BorrowInfo { attributes, len })
    }

    #[test]
    fn a_restricted_op_accepts_listed_indices_at_any_generation() {
        let at = |index: u16, generation: u8| {
            TaskId::for_index_and_gen(
                usize::from(index),
                userlib::Generation::new(generation),
            )
        };
        assert!(caller_allowed(at(3, 0), &[1, 3]));
        assert!(caller_allowed(at(3, 7), &[1, 3]));
        assert!(!caller_allowed(at(2, 0), &[1, 3]));
        assert!(!caller_allowed(at(3, 0), &[]));
        // The kernel's own id is nobody's caller.
        assert!(!caller_allowed(TaskId::KERNEL, &[1, 3]));
    }

    #[test]
    fn a_well_formed_message_yields_its_op() {
        assert_eq!(check_message(&message(1, 0, 4, 0), 16), Ok(TestOp::Ping));
        assert_eq!(check_message(&message(2, 16, 0, 1), 16), Ok(TestOp::Load));
    }

    #[test]
    fn a_message_longer_than_the_buffer_is_bad_message_size() {
        let r = check_message::<TestOp>(&message(1, 17, 4, 0), 16);
        assert_eq!(r, Err(ReplyFaultReason::BadMessageSize));
    }

    #[test]
    fn size_is_checked_before_the_op_number() {
        let r = check_message::<TestOp>(&message(9, 17, 4, 0), 16);
        assert_eq!(r, Err(ReplyFaultReason::BadMessageSize));
    }

    #[test]
    fn an_unknown_op_is_undefined_operation() {
        for op in [0, 3, u32::MAX] {
            let r = check_message::<TestOp>(&message(op, 0, 4, 0), 16);
            assert_eq!(r, Err(ReplyFaultReason::UndefinedOperation));
        }
    }

    #[test]
    fn a_small_reply_buffer_is_reply_buffer_too_small() {
        let r = check_message::<TestOp>(&message(1, 0, 3, 0), 16);
        assert_eq!(r, Err(ReplyFaultReason::ReplyBufferTooSmall));
    }

    #[test]
    fn a_wrong_lease_count_is_bad_leases() {
        for (op, leases) in [(1, 1), (2, 0), (2, 2), (2, 255)] {
            let r = check_message::<TestOp>(&message(op, 0, 4, leases), 16);
            assert_eq!(r, Err(ReplyFaultReason::BadLeases), "{op} {leases}");
        }
    }

    #[test]
    fn leases_with_the_declared_rights_and_length_pass() {
        let spec = LeaseSpec::slice::<u8>(LeaseAccess::Read, Some(8));
        assert_eq!(check_lease(&spec, info(LeaseAttributes::READ, 8)), Ok(8));
        assert_eq!(check_lease(&spec, info(LeaseAttributes::READ, 0)), Ok(0));
        // Granting more than asked for is fine.
        let rw = LeaseAccess::ReadWrite.attributes();
        assert_eq!(check_lease(&spec, info(rw, 3)), Ok(3));
    }

    #[test]
    fn a_lease_without_the_declared_right_is_bad_lease() {
        let spec = LeaseSpec::slice::<u8>(LeaseAccess::ReadWrite, None);
        for attributes in [LeaseAttributes::READ, LeaseAttributes::WRITE] {
            assert_eq!(
                check_lease(&spec, info(attributes, 4)),
                Err(ClientError::BadLease)
            );
        }
    }

    #[test]
    fn a_lease_over_max_len_is_bad_lease() {
        let spec = LeaseSpec::slice::<u16>(LeaseAccess::Write, Some(4));
        let w = LeaseAttributes::WRITE;
        assert_eq!(check_lease(&spec, info(w, 8)), Ok(4));
        assert_eq!(check_lease(&spec, info(w, 10)), Err(ClientError::BadLease));
    }

    #[test]
    fn a_lease_of_partial_elements_is_bad_lease() {
        let spec = LeaseSpec::slice::<u32>(LeaseAccess::Read, None);
        let r = LeaseAttributes::READ;
        assert_eq!(check_lease(&spec, info(r, 6)), Err(ClientError::BadLease));
    }

    #[test]
    fn a_sized_lease_must_be_exactly_one_value() {
        let spec = LeaseSpec::sized::<u64>(LeaseAccess::Read);
        let r = LeaseAttributes::READ;
        assert_eq!(check_lease(&spec, info(r, 8)), Ok(1));
        assert_eq!(check_lease(&spec, info(r, 16)), Err(ClientError::BadLease));
        assert_eq!(check_lease(&spec, info(r, 0)), Err(ClientError::BadLease));
    }

    #[test]
    fn zero_sized_elements_do_not_divide_by_zero() {
        let spec = LeaseSpec::slice::<()>(LeaseAccess::Read, None);
        let r = LeaseAttributes::READ;
        assert_eq!(check_lease(&spec, info(r, 0)), Ok(0));
        assert_eq!(check_lease(&spec, info(r, 1)), Err(ClientError::BadLease));
    }

    #[test]
    fn a_vanished_lender_went_away() {
        let spec = LeaseSpec::slice::<u8>(LeaseAccess::Read, None);
        assert_eq!(check_lease(&spec, None), Err(ClientError::WentAway));
    }

    #[test]
    fn check_leases_asks_about_each_index_of_the_sender() {
        let specs = [
            LeaseSpec::slice::<u8>(LeaseAccess::Read, None),
            LeaseSpec::slice::<u8>(LeaseAccess::Write, Some(2)),
        ];
        let mut asked = Vec::new();
        let result = check_leases(TaskId(7), &specs, |lender, index| {
            asked.push((lender, index));
            let attributes = [LeaseAttributes::READ, LeaseAttributes::WRITE];
            info(attributes[index], 2)
        });
        assert_eq!(result, Ok(()));
        assert_eq!(asked, [(TaskId(7), 0), (TaskId(7), 1)]);

        let result = check_leases(TaskId(7), &specs, |_, index| {
            info(LeaseAttributes::READ, index + 1)
        });
        assert_eq!(result, Err(ClientError::BadLease));
    }

    // ---- `answer`: what dispatch and serve do with each message -------

    /// A server of `TestOp` that records what reached it and answers with
    /// `result`.
    struct Recorder {
        handled: Vec<TestOp>,
        notified: Vec<u32>,
        result: Result<Reply, RequestError<u16>>,
    }

    impl Recorder {
        fn answering(result: Result<Reply, RequestError<u16>>) -> Self {
            Self {
                handled: vec![],
                notified: vec![],
                result,
            }
        }
    }

    impl NotificationHandler for Recorder {
        fn current_notification_mask(&self) -> u32 {
            1
        }

        fn handle_notification(&mut self, bits: u32) {
            self.notified.push(bits);
        }
    }

    impl Server<TestOp> for (PhantomData<TestOp>, &mut Recorder) {
        fn recv_source(&self) -> Option<TaskId> {
            None
        }

        fn closed_recv_fail(&mut self) {}

        fn handle(
            &mut self,
            op: TestOp,
            _buffer: &mut [u8],
            _msg: &RecvMessage,
        ) -> Result<Reply, RequestError<u16>> {
            self.1.handled.push(op);
            self.1.result
        }
    }

    /// What `answer` did: the reply, and the clients faulted (with why).
    type Answered = (Option<(TaskId, Reply)>, Vec<(TaskId, ReplyFaultReason)>);

    /// `answer` for `msg` with a 16-byte buffer.
    fn answered(recorder: &mut Recorder, msg: &RecvMessage) -> Answered {
        let mut faults = vec![];
        let mut server = (PhantomData::<TestOp>, recorder);
        let mut buffer = [0u8; 16];
        let reply =
            answer(&mut server, &mut buffer, msg, |t, r| faults.push((t, r)));
        (reply, faults)
    }

    const OK: Reply = Reply { code: 0, len: 4 };

    #[test]
    fn every_malformed_message_faults_the_client_before_the_stub_runs() {
        for (msg, reason) in [
            (message(1, 17, 4, 0), ReplyFaultReason::BadMessageSize),
            (message(9, 0, 4, 0), ReplyFaultReason::UndefinedOperation),
            (message(1, 0, 3, 0), ReplyFaultReason::ReplyBufferTooSmall),
            (message(2, 0, 0, 0), ReplyFaultReason::BadLeases),
            (message(1, 0, 4, 1), ReplyFaultReason::BadLeases),
        ] {
            let mut recorder = Recorder::answering(Ok(OK));
            let (reply, faults) = answered(&mut recorder, &msg);
            assert_eq!(reply, None, "{msg:?}");
            assert_eq!(faults, vec![(TaskId(3), reason)], "{msg:?}");
            assert!(recorder.handled.is_empty(), "the stub ran for {msg:?}");
        }
    }

    #[test]
    fn a_well_formed_message_reaches_the_stub_and_its_reply_is_sent() {
        let mut recorder = Recorder::answering(Ok(OK));
        let (reply, faults) = answered(&mut recorder, &message(1, 0, 4, 0));
        assert_eq!(reply, Some((TaskId(3), OK)));
        assert!(faults.is_empty());
        assert_eq!(recorder.handled, vec![TestOp::Ping]);
    }

    #[test]
    fn the_stubs_errors_become_a_code_a_fault_or_silence() {
        let code = RequestError::Runtime(7);
        let mut recorder = Recorder::answering(Err(code));
        let (reply, faults) = answered(&mut recorder, &message(1, 0, 4, 0));
        assert_eq!(reply, Some((TaskId(3), Reply { code: 7, len: 0 })));
        assert!(faults.is_empty());
        // A lease the stub found wrong faults the client.
        let bad = RequestError::Fail(ClientError::BadLease);
        let mut recorder = Recorder::answering(Err(bad));
        let (reply, faults) = answered(&mut recorder, &message(2, 0, 0, 1));
        assert_eq!(reply, None);
        assert_eq!(faults, vec![(TaskId(3), ReplyFaultReason::BadLeases)]);
        // A client that went away is not answered at all.
        let gone = RequestError::went_away();
        let mut recorder = Recorder::answering(Err(gone));
        let (reply, faults) = answered(&mut recorder, &message(2, 0, 0, 1));
        assert_eq!((reply, faults), (None, vec![]));
    }

    #[test]
    fn a_notification_goes_to_the_server_and_is_never_checked_as_a_message() {
        let mut recorder = Recorder::answering(Ok(OK));
        // Kernel "messages" carry the bits as the operation, with
        // nothing else a message would need.
        let msg = RecvMessage {
            sender: TaskId::KERNEL,
            operation: 0b101,
            ..RecvMessage::default()
        };
        let (reply, faults) = answered(&mut recorder, &msg);
        assert_eq!((reply, faults), (None, vec![]));
        assert_eq!(recorder.notified, vec![0b101]);
        assert!(recorder.handled.is_empty());
    }
}
