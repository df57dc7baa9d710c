//! The host side of the TCP benchmarks, the same for every guest: stream into a guest sink
//! through a port forward, take a guest's stream on a loopback listener (QEMU's 10.0.2.2), and
//! time small round trips through a guest echo server. The host does all the timing, so the
//! figures of different guests compare directly. Every socket wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::{fail, XtaskResult};

/// The longest a socket may stay silent before a transfer counts as stuck.
const STALL: Duration = Duration::from_secs(60);
/// How long a listener waits for the guest (a Linux guest connects after its block workloads).
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(600);
const MIB: f64 = 1024.0 * 1024.0;
/// The round-trip message: small, as a request/response protocol would send.
pub const MESSAGE_BYTES: usize = 64;

/// A loopback port nothing listens on right now (for QEMU's port forwards).
pub fn free_port() -> XtaskResult<u16> {
    let probe = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("cannot find a free port: {e}")))?;
    Ok(probe.local_addr().map_err(|e| fail(format!("cannot find a free port: {e}")))?.port())
}

fn connect(port: u16) -> XtaskResult<TcpStream> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&address, STALL).map_err(|e| fail(format!("connect to {address}: {e}")))?;
    stream.set_read_timeout(Some(STALL)).and_then(|()| stream.set_write_timeout(Some(STALL))).map_err(|e| fail(format!("socket timeouts: {e}")))?;
    Ok(stream)
}

/// Sends `bytes` zero bytes to the guest sink forwarded from `port`, closes the sending side and
/// waits until the guest closes: MiB/s from the first byte to the guest's close.
pub fn host_to_guest(port: u16, bytes: usize) -> XtaskResult<f64> {
    let mut stream = connect(port)?;
    let chunk = vec![0u8; 64 * 1024];
    let started = Instant::now();
    let mut sent = 0;
    while sent < bytes {
        let len = chunk.len().min(bytes - sent);
        stream.write_all(&chunk[..len]).map_err(|e| fail(format!("sending to the guest after {sent} bytes: {e}")))?;
        sent += len;
    }
    stream.shutdown(Shutdown::Write).map_err(|e| fail(format!("closing the stream to the guest: {e}")))?;
    let mut rest = [0u8; 256];
    loop {
        match stream.read(&mut rest) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(format!("waiting for the guest to close: {e}"))),
        }
    }
    Ok(bytes as f64 / MIB / started.elapsed().as_secs_f64())
}

/// A listener the guest streams into (through 10.0.2.2), already accepting in a thread.
pub struct Receiver {
    pub port: u16,
    thread: JoinHandle<XtaskResult<(usize, Duration)>>,
}

impl Receiver {
    /// Listens on a free loopback port and reads one connection of up to `bytes` bytes.
    pub fn start(bytes: usize) -> XtaskResult<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("cannot listen on loopback: {e}")))?;
        let port = listener.local_addr().map_err(|e| fail(format!("listener address: {e}")))?.port();
        let thread = thread::spawn(move || receive_one(listener, bytes));
        Ok(Receiver { port, thread })
    }

    /// MiB/s from the connection's acceptance to its last byte, and the bytes received.
    pub fn finish(self) -> XtaskResult<(f64, usize)> {
        let (received, elapsed) = self.thread.join().map_err(|_| fail("the receiving thread panicked"))??;
        Ok((received as f64 / MIB / elapsed.as_secs_f64(), received))
    }
}

fn receive_one(listener: TcpListener, bytes: usize) -> XtaskResult<(usize, Duration)> {
    listener.set_nonblocking(true).map_err(|e| fail(format!("listener: {e}")))?;
    let deadline = Instant::now() + ACCEPT_TIMEOUT;
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(fail(format!("no connection from the guest: {e}"))),
        }
    };
    let started = Instant::now();
    stream.set_nonblocking(false).and_then(|()| stream.set_read_timeout(Some(STALL))).map_err(|e| fail(format!("guest connection: {e}")))?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut received = 0;
    while received < bytes {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => received += len,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(format!("reading from the guest after {received} bytes: {e}"))),
        }
    }
    let elapsed = started.elapsed();
    let _ = stream.shutdown(Shutdown::Both);
    Ok((received, elapsed))
}

/// Sends `count` messages of [`MESSAGE_BYTES`] one at a time through the guest echo server
/// forwarded from `port`, each after the previous came back: the median round trip in µs.
pub fn round_trips(port: u16, count: usize) -> XtaskResult<f64> {
    let mut stream = connect(port)?;
    stream.set_nodelay(true).map_err(|e| fail(format!("TCP_NODELAY: {e}")))?;
    let message = [0x5au8; MESSAGE_BYTES];
    let mut echo = [0u8; MESSAGE_BYTES];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        stream.write_all(&message).map_err(|e| fail(format!("sending a message: {e}")))?;
        stream.read_exact(&mut echo).map_err(|e| fail(format!("waiting for the echo: {e}")))?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        if echo != message {
            return Err(fail("the echo differs from the message"));
        }
    }
    stream.shutdown(Shutdown::Write).map_err(|e| fail(format!("closing the echo connection: {e}")))?;
    let mut rest = [0u8; 64];
    while matches!(stream.read(&mut rest), Ok(1..)) {}
    Ok(super::report::median(&times))
}
