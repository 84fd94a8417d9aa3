//! Test ports without a bind-drop-rebind race, shared by the Rust test
//! binaries through `#[path]` (one copy; the C, Python and Node suites do the
//! same in their own language; see `docs/decisions.md`, "Issue 11: test ports").
//!
//! The test binds 127.0.0.1:0 with `SO_REUSEPORT` and keeps that socket for
//! as long as it needs the port, never listening on it. While it is held, the
//! kernel hands the port to no other `bind(0)` or outgoing connection, so two
//! tests can no longer be given the same number. The tool binds the same port
//! with `SO_REUSEPORT` too (same user), listens, and receives every
//! connection: a bound socket that does not listen accepts none, so a TCP
//! health check keeps failing until the tool itself listens.
#![allow(dead_code)] // each binary that includes this file uses part of it

use std::net::{Ipv4Addr, SocketAddr};

/// A loopback TCP port reserved for as long as this value lives.
pub struct ReservedPort {
    // Bound, never listening: holds the port without answering on it.
    _socket: tokio::net::TcpSocket,
    port: u16,
}

/// Reserves a fresh loopback port.
pub fn reserve_port() -> ReservedPort {
    let socket = tokio::net::TcpSocket::new_v4().expect("TCP socket for a test port");
    socket
        .set_reuseport(true)
        .expect("SO_REUSEPORT on a test port");
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .expect("bind 127.0.0.1:0 for a test port");
    let port = socket.local_addr().expect("address of a test port").port();
    ReservedPort {
        _socket: socket,
        port,
    }
}

impl ReservedPort {
    /// The port number, for the tool's arguments and its health check.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Display for ReservedPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.port)
    }
}
