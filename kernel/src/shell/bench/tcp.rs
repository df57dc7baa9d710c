//! The network benchmarks' guest side, written once for any `smoltcp::phy::Device` so that our
//! virtio-net driver and the virtio-drivers peer run the same code: a sink the host streams
//! into, a source that streams to a host listener, and an echo server for round trips. The host
//! does the timing (`cargo xtask bench`); the guest reports byte counts and its own clock.
//!
//! The interface takes QEMU user networking's fixed guest address statically rather than by
//! DHCP, so a benchmark starts without a lease exchange.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use super::report;
use crate::arch;

/// QEMU's user network: the guest's address, and the gateway (which also reaches the host).
const GUEST: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
/// Per direction, with window scaling: enough that the window never limits QEMU's user network.
const SOCKET_BUFFER: usize = 256 * 1024;
const ACCEPT_TIMEOUT_NS: u64 = 60_000_000_000;
const STALL_TIMEOUT_NS: u64 = 20_000_000_000;
/// No benchmark runs longer than this, whatever progress it makes.
const RUN_LIMIT_NS: u64 = 600_000_000_000;
/// The first of the local ports a source connects from.
const EPHEMERAL_PORTS: u16 = 49152;

pub enum Role {
    /// Accepts one connection on the port and reads until the peer closes.
    Sink(u16),
    /// Connects to the host's port through the gateway and sends this many zero bytes.
    Source(u16, usize),
    /// Accepts one connection on the port and echoes until the peer closes.
    Echo(u16),
}

/// Runs `role` on `device` (whose MAC is `mac`) and prints what it moved as `BENCH` lines
/// under `prefix`. When a round moves nothing, the loop calls `idle(device, deadline_ns)`, which
/// may sleep until the device has something or the deadline (smoltcp's next timer) passes.
pub fn run<D: Device>(device: &mut D, mac: [u8; 6], role: Role, prefix: &str, idle: impl Fn(&D, u64)) -> Result<(), String> {
    let mut net = Net::new(device, mac);
    let socket = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]), tcp::SocketBuffer::new(vec![0; SOCKET_BUFFER]));
    let handle = net.sockets.add(socket);
    let socket = net.sockets.get_mut::<tcp::Socket>(handle);
    match role {
        Role::Sink(port) | Role::Echo(port) => {
            socket.listen(port).map_err(|e| format!("cannot listen on port {port}: {e}"))?;
            // Listening before the first poll: the host may connect as soon as it reads this.
            println!("bench net: listening on port {port}");
        }
        Role::Source(port, _) => {
            let local = EPHEMERAL_PORTS + (arch::now_ns() / 1_000_000 % 16_384) as u16;
            socket.connect(net.iface.context(), (IpAddress::Ipv4(GATEWAY), port), local).map_err(|e| format!("cannot connect: {e}"))?;
        }
    }
    let started = arch::now_ns();
    let moved = match role {
        Role::Sink(_) => net.drive(device, &idle, handle, 0, false)?,
        Role::Source(_, bytes) => net.drive(device, &idle, handle, bytes, false)?,
        Role::Echo(_) => net.drive(device, &idle, handle, 0, true)?,
    };
    let ns = arch::now_ns() - started;
    report(&format!("{prefix}.bytes"), moved as f64, "B");
    report(&format!("{prefix}.guest_ms"), ns as f64 / 1e6, "ms");
    Ok(())
}

struct Net {
    iface: Interface,
    sockets: SocketSet<'static>,
}

fn now() -> Instant {
    Instant::from_micros((arch::now_ns() / 1000) as i64)
}

impl Net {
    fn new<D: Device>(device: &mut D, mac: [u8; 6]) -> Net {
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        config.random_seed = arch::now_ns();
        let mut iface = Interface::new(config, device, now());
        iface.update_ip_addrs(|addresses| {
            // A fresh interface has room for at least one address.
            let _ = addresses.push(IpCidr::new(IpAddress::Ipv4(GUEST), 24));
        });
        // Fails only when the route table is full, and a fresh one is empty.
        let _ = iface.routes_mut().add_default_ipv4_route(GATEWAY);
        Net { iface, sockets: SocketSet::new(Vec::new()) }
    }

    /// Polls until the connection is over: sends `to_send` zero bytes then closes, reads (and
    /// with `echo` sends back) everything that arrives, closes once the peer has. Returns the
    /// bytes received (sent, for a pure source).
    fn drive<D: Device>(&mut self, device: &mut D, idle: &impl Fn(&D, u64), handle: SocketHandle, to_send: usize, echo: bool) -> Result<usize, String> {
        let (start, mut last_progress) = (arch::now_ns(), arch::now_ns());
        let (zeros, mut chunk) = (vec![0u8; SOCKET_BUFFER], vec![0u8; SOCKET_BUFFER]);
        let (mut sent, mut received, mut connected) = (0usize, 0usize, false);
        loop {
            self.iface.poll(now(), device, &mut self.sockets);
            let socket = self.sockets.get_mut::<tcp::Socket>(handle);
            let mut moved = 0;
            if socket.can_send() && sent < to_send {
                let len = (to_send - sent).min(socket.send_capacity() - socket.send_queue());
                let queued = socket.send_slice(&zeros[..len]).unwrap_or(0);
                sent += queued;
                moved += queued;
            }
            let room = if echo { socket.send_capacity() - socket.send_queue() } else { chunk.len() };
            let got = socket.recv_slice(&mut chunk[..room]).unwrap_or(0);
            if echo {
                // There was room for all of it.
                let _ = socket.send_slice(&chunk[..got]);
            }
            received += got;
            moved += got;
            connected |= socket.is_active();
            let finished_sending = sent == to_send && socket.send_queue() == 0;
            if finished_sending && (!socket.may_recv() || (to_send > 0 && !echo)) && socket.may_send() {
                socket.close();
            }
            let time = arch::now_ns();
            match socket.state() {
                tcp::State::Closed | tcp::State::TimeWait if connected => {
                    if sent < to_send {
                        return Err(format!("connection refused or reset after {sent} of {to_send} bytes"));
                    }
                    return Ok(if to_send > 0 { sent } else { received });
                }
                _ if moved > 0 => last_progress = time,
                _ => {}
            }
            let limit = if connected { STALL_TIMEOUT_NS } else { ACCEPT_TIMEOUT_NS };
            if time - last_progress > limit || time - start > RUN_LIMIT_NS {
                return Err(format!("stalled after {sent} bytes sent, {received} received"));
            }
            if moved == 0 {
                let timers = self.iface.poll_delay(now(), &self.sockets).map_or(u64::MAX, |delay| delay.total_micros() * 1000);
                let deadline = time.saturating_add(timers).min(last_progress + limit).min(start + RUN_LIMIT_NS);
                idle(device, deadline);
            }
        }
    }
}
