//! `net echo` (a TCP echo server for one connection) and `net send` (a guest-initiated
//! connection whose echo is checked byte by byte).

use alloc::format;
use alloc::vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;
use registry::class::net_smoltcp::Phy;

use super::stack::{now, Failure, Stack, Step};

/// Per direction: enough to keep QEMU's user network busy.
const SOCKET_BUFFER: usize = 64 * 1024;
/// How long a peer may take to connect to the echo server.
const ACCEPT_TIMEOUT_MS: u64 = 60_000;
/// How long a connection may stall before the command gives up on it.
const STALL_TIMEOUT_MS: u64 = 20_000;
/// The first of the ports `net send` connects from.
const EPHEMERAL_PORTS: u16 = 49152;

fn new_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]), tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]))
}

/// Runs `body` with a fresh TCP socket added to the stack, and removes the socket afterwards.
fn with_socket<T>(stack: &mut Stack, body: impl FnOnce(&mut Stack, SocketHandle) -> Result<T, Failure>) -> Result<T, Failure> {
    let handle = stack.sockets.add(new_socket());
    let result = body(stack, handle);
    stack.sockets.remove(handle);
    result
}

/// Accepts one connection on `port` and sends back every byte until the peer closes; returns
/// how many bytes were echoed.
pub fn echo(stack: &mut Stack, nic: &mut Phy, port: u16) -> Result<usize, Failure> {
    with_socket(stack, |stack, handle| {
        let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
        socket.listen(port).map_err(|e| Failure::Error(format!("cannot listen on port {port}: {e}")))?;
        // Established (or already closed by the peer): a connection still in SYN-RECEIVED cannot
        // receive yet, which the echo below would take for the peer having closed.
        stack.run(nic, ACCEPT_TIMEOUT_MS, "a connection", |stack| {
            Ok(if stack.sockets.get::<tcp::Socket>(handle).may_send() { Step::Done(()) } else { Step::Waiting })
        })?;
        let mut chunk = vec![0; SOCKET_BUFFER];
        let mut echoed = 0;
        let mut closing = false;
        stack.run(nic, STALL_TIMEOUT_MS, "the echo to finish", |stack| {
            let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
            let room = socket.send_capacity() - socket.send_queue();
            let received = socket.recv_slice(&mut chunk[..room]).unwrap_or(0);
            // There was room for all of it.
            let sent = socket.send_slice(&chunk[..received]).unwrap_or(0);
            echoed += sent;
            if !closing && !socket.may_recv() && socket.send_queue() == 0 {
                // The peer has closed and everything is sent back: close our side.
                socket.close();
                closing = true;
            }
            Ok(match socket.state() {
                tcp::State::Closed | tcp::State::TimeWait => Step::Done(echoed),
                _ if sent > 0 => Step::Progress,
                _ => Step::Waiting,
            })
        })
    })
}

/// What `net send` saw.
pub struct SendReport {
    pub sent: usize,
    pub verified: usize,
}

/// Connects to `host:port`, sends `bytes` bytes of the stream `seed` picks, reads back what
/// the peer echoes and checks every byte of it, then closes.
pub fn send(stack: &mut Stack, nic: &mut Phy, host: IpAddress, port: u16, bytes: usize, seed: u64) -> Result<SendReport, Failure> {
    with_socket(stack, |stack, handle| {
        let local_port = EPHEMERAL_PORTS + (now().total_millis() % 16_384) as u16;
        let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
        socket.connect(stack.iface.context(), (host, port), local_port).map_err(|e| Failure::Error(format!("cannot connect: {e}")))?;
        let (mut outgoing, mut expected) = (Pattern::new(seed), Pattern::new(seed));
        let mut report = SendReport { sent: 0, verified: 0 };
        let mut chunk = vec![0; SOCKET_BUFFER];
        let what = "the connection to finish";
        stack.run(nic, STALL_TIMEOUT_MS, what, |stack| {
            let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
            let mut moved = 0;
            if socket.can_send() && report.sent < bytes {
                let len = (bytes - report.sent).min(socket.send_capacity() - socket.send_queue());
                chunk[..len].iter_mut().for_each(|byte| *byte = outgoing.next_byte());
                // The pattern has moved on by `len` bytes: all of them must go.
                if socket.send_slice(&chunk[..len]) != Ok(len) {
                    return Err(format!("the send buffer refused part of {len} bytes"));
                }
                report.sent += len;
                moved += len;
            }
            let received = socket.recv_slice(&mut chunk).unwrap_or(0);
            for &byte in &chunk[..received] {
                let want = expected.next_byte();
                if byte != want {
                    return Err(format!("byte {} came back as {byte:#04x}, sent {want:#04x}", report.verified));
                }
                report.verified += 1;
            }
            moved += received;
            if report.verified == bytes && socket.may_send() {
                socket.close();
            }
            Ok(match socket.state() {
                tcp::State::Closed | tcp::State::TimeWait if report.verified == bytes => Step::Done(()),
                tcp::State::Closed => {
                    return Err(format!("connection closed with {} of {bytes} bytes back", report.verified));
                }
                _ if moved > 0 => Step::Progress,
                _ => Step::Waiting,
            })
        })?;
        Ok(report)
    })
}

/// A deterministic byte stream (splitmix64, eight bytes per step, low byte first); `net http`
/// serves it too.
pub(super) struct Pattern {
    state: u64,
    word: u64,
    left: u8,
}

impl Pattern {
    pub(super) fn new(seed: u64) -> Self {
        Pattern { state: seed, word: 0, left: 0 }
    }

    pub(super) fn next_byte(&mut self) -> u8 {
        if self.left == 0 {
            self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            self.word = z ^ (z >> 31);
            self.left = 8;
        }
        let byte = self.word as u8;
        self.word >>= 8;
        self.left -= 1;
        byte
    }
}
