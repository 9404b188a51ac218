//! The debug probe server: a Unix socket through which a debugger
//! (humility) reads and writes task memory, reads the task table, asks
//! for a dump, and injects faults. The protocol is
//! [`debug_protocol::wire`]; this module is only the serving of it.
//!
//! Whoever can use the socket can rewrite any task's memory, so the probe
//! is private to its owner ([`socket`]: a private directory, checked),
//! every peer is checked by its credentials (`SO_PEERCRED`: another uid
//! is refused and logged), and nothing a client does can stop the
//! kernel: connections are capped, and each is served without blocking
//! and within bounds (`debug_protocol::connection`, where the
//! `probe_connection` fuzz target reaches it too).

pub mod requests;
pub mod socket;

use crate::log::{RateLimit, klog};
use debug_protocol::connection::{Closed, Connection};
use rustix::event::epoll::{self, EventData, EventFlags};
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

/// Most debugger connections open at once. A debugger uses one; a few
/// more are humility commands in parallel. Past this, a new connection
/// is closed at once (and logged).
pub const MAX_CONNECTIONS: usize = 16;

/// Epoll tokens at or above this are probe connections.
pub const CONNECTION_TOKEN_BASE: u64 = 1 << 62;

/// The listening socket and its open connections.
pub struct Probe {
    listener: UnixListener,
    path: PathBuf,
    connections: HashMap<u64, Connection<UnixStream>>,
    next_id: u64,
    our_uid: u32,
    refused_log: RateLimit,
    over_cap_log: RateLimit,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Probe {
    /// Listens at `location` (see [`socket::listen`]).
    ///
    /// # Errors
    ///
    /// One line naming the path, if it is not private or is taken.
    pub fn open(location: &socket::Location) -> anyhow::Result<Self> {
        let (listener, path) = socket::listen(location)?;
        Ok(Self {
            listener,
            path,
            connections: HashMap::new(),
            next_id: 0,
            our_uid: rustix::process::geteuid().as_raw(),
            refused_log: RateLimit::new(10, 1000),
            over_cap_log: RateLimit::new(10, 1000),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn listener_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Is `token` one of our connections?
    pub fn owns(token: u64) -> bool {
        token >= CONNECTION_TOKEN_BASE
    }

    /// Accepts every pending connection: checks the peer, applies the
    /// cap, and watches the rest with `epoll`.
    pub fn accept(&mut self, epoll_fd: BorrowedFd<'_>) {
        while let Ok((stream, _)) = self.listener.accept() {
            crate::trace::record(crate::trace::Trace::ProbeConnected);
            if !self.peer_is_us(&stream) {
                continue;
            }
            if self.connections.len() >= MAX_CONNECTIONS {
                if let Some(n) = self.over_cap_log.admit() {
                    klog!(
                        "probe: {MAX_CONNECTIONS} connections already open; \
                         closed a new one (refusal {})",
                        n.saturating_add(1)
                    );
                }
                continue;
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let token = CONNECTION_TOKEN_BASE.saturating_add(self.next_id);
            self.next_id = self.next_id.saturating_add(1);
            let data = EventData::new_u64(token);
            if epoll::add(epoll_fd, &stream, data, EventFlags::IN).is_ok() {
                self.connections.insert(token, Connection::new(stream));
            }
        }
    }

    /// `SO_PEERCRED`: only our own uid may use the probe.
    fn peer_is_us(&mut self, stream: &UnixStream) -> bool {
        let cred = match rustix::net::sockopt::socket_peercred(stream) {
            Ok(c) => c,
            Err(e) => {
                if self.refused_log.admit().is_some() {
                    klog!("probe: refused a connection: no credentials ({e})");
                }
                return false;
            }
        };
        let uid = cred.uid.as_raw();
        if uid == self.our_uid {
            return true;
        }
        if self.refused_log.admit().is_some() {
            klog!(
                "probe: refused a connection from uid {uid} (pid {}): only \
                 uid {} may debug this system",
                cred.pid.as_raw_nonzero(),
                self.our_uid
            );
        }
        false
    }

    /// A connection is ready: reads and answers (`answer` turns one
    /// request line into one answer line), or writes what waits. True if
    /// the connection is closed now (what it held is to be let go).
    pub fn on_ready(
        &mut self,
        epoll_fd: BorrowedFd<'_>,
        token: u64,
        flags: EventFlags,
        answer: impl FnMut(&[u8]) -> String,
    ) -> bool {
        let Some(conn) = self.connections.get_mut(&token) else {
            return false;
        };
        let had_output = conn.has_output();
        let result = if flags.contains(EventFlags::IN) {
            conn.on_readable(answer)
        } else if flags.contains(EventFlags::OUT) {
            conn.flush()
        } else {
            Err(Closed::Gone)
        };
        match result {
            Ok(()) if conn.has_output() != had_output => {
                // Ask for EPOLLOUT only while answers wait.
                let mut interest = EventFlags::IN;
                if conn.has_output() {
                    interest |= EventFlags::OUT;
                }
                let data = EventData::new_u64(token);
                if epoll::modify(epoll_fd, &conn.stream, data, interest)
                    .is_err()
                {
                    self.close(epoll_fd, token, &Closed::Gone);
                    return true;
                }
                false
            }
            Ok(()) => false,
            Err(why) => {
                self.close(epoll_fd, token, &why);
                true
            }
        }
    }

    fn close(&mut self, epoll_fd: BorrowedFd<'_>, token: u64, why: &Closed) {
        if let Some(conn) = self.connections.remove(&token) {
            let _ = epoll::delete(epoll_fd, &conn.stream);
            if let Some(reason) = why.reason() {
                klog!(
                    "probe: closed connection {}: it {reason}",
                    token.saturating_sub(CONNECTION_TOKEN_BASE)
                );
            }
        }
    }
}
