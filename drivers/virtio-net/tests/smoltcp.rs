//! smoltcp on the NIC through the net class's adapter (`registry::class::net_smoltcp::Phy`, what
//! the kernel runs): two simulated NICs (one legacy, one modern) wired back to back, each with
//! its own smoltcp interface. A TCP stream crosses and comes back intact, and a ping is answered
//! by the other side's stack on its own.

mod common;

use std::sync::Arc;

use common::Rig;
use registry::class::net_smoltcp::Phy;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device};
use smoltcp::socket::{icmp, tcp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, Icmpv4Packet, Icmpv4Repr, IpAddress, IpCidr, Ipv4Address};
use virtio::sim::net::{NetLink, RX_QUEUE, TX_QUEUE};
use virtio::sim::{CompletionOrder, Interface as SimInterface, SimDevice};
use virtio_net::NetClass;

const STREAM_BYTES: usize = 256 * 1024;
/// Simulated milliseconds before a test gives up.
const DEADLINE_MS: i64 = 60_000;

/// One end: a simulated device, the NIC on it as the net class, and the stack on that.
struct Host {
    device: SimDevice,
    link: NetLink,
    phy: Phy,
    iface: Interface,
    sockets: SocketSet<'static>,
}

impl Host {
    fn new(interface: SimInterface, mac_last: u8, ip: Ipv4Address) -> Host {
        let Rig { device, link, nic, .. } = Rig::with_mac(interface, [0x52, 0x54, 0, 0, 0, mac_last]);
        let mut phy = Phy::new(Arc::new(NetClass::new(nic)));
        let config = Config::new(HardwareAddress::Ethernet(EthernetAddress(phy.nic().mac().0)));
        let mut iface = Interface::new(config, &mut phy, Instant::ZERO);
        iface.update_ip_addrs(|addrs| addrs.push(IpCidr::new(IpAddress::Ipv4(ip), 24)).unwrap());
        Host { device, link, phy, iface, sockets: SocketSet::new(Vec::new()) }
    }

    fn poll(&mut self, now: Instant) {
        self.iface.poll(now, &mut self.phy, &mut self.sockets);
        assert_eq!(self.phy.nic().error(), None);
    }

    /// Receive buffers the device holds.
    fn posted(&self) -> usize {
        self.device.held(RX_QUEUE)
    }
}

/// The wire: what each device sends, the other one delivers (into free buffers only; the
/// rest waits, as in a switch).
fn carry(from: &Host, to: &Host) {
    from.device.complete(TX_QUEUE, CompletionOrder::InOrder);
    for frame in from.link.take_sent() {
        to.link.hand_in(frame);
    }
    while to.link.waiting() > 0 && to.device.complete_next(RX_QUEUE) {}
}

/// Runs both stacks, and the wire between them, until `done` or the deadline.
fn run(a: &mut Host, b: &mut Host, mut done: impl FnMut(&mut Host, &mut Host) -> bool) {
    for ms in 0..DEADLINE_MS {
        let now = Instant::from_millis(ms);
        a.poll(now);
        b.poll(now);
        carry(a, b);
        carry(b, a);
        if done(a, b) {
            return;
        }
    }
    panic!("not done after {DEADLINE_MS} simulated ms");
}

fn tcp_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 16384]), tcp::SocketBuffer::new(vec![0; 16384]))
}

fn pattern(index: usize) -> u8 {
    (index.wrapping_mul(2_654_435_761) >> 13) as u8
}

#[test]
fn a_tcp_stream_crosses_and_comes_back_intact() {
    let mut a = Host::new(SimInterface::Legacy, 0x0a, Ipv4Address::new(10, 0, 0, 1));
    let mut b = Host::new(SimInterface::Modern, 0x0b, Ipv4Address::new(10, 0, 0, 2));
    let mut server = tcp_socket();
    server.listen(7).unwrap();
    let server: SocketHandle = b.sockets.add(server);
    let client = a.sockets.add(tcp_socket());
    let remote = (IpAddress::v4(10, 0, 0, 2), 7);
    a.sockets.get_mut::<tcp::Socket>(client).connect(a.iface.context(), remote, 49152).unwrap();

    let (mut sent, mut echoed) = (0, 0);
    run(&mut a, &mut b, |a, b| {
        let server = b.sockets.get_mut::<tcp::Socket>(server);
        if server.can_recv() && server.send_capacity() > server.send_queue() {
            let room = server.send_capacity() - server.send_queue();
            let mut chunk = vec![0; room];
            let len = server.recv_slice(&mut chunk).unwrap();
            assert_eq!(server.send_slice(&chunk[..len]), Ok(len));
        }
        let client = a.sockets.get_mut::<tcp::Socket>(client);
        if client.can_send() && sent < STREAM_BYTES {
            let chunk: Vec<u8> = (sent..STREAM_BYTES.min(sent + 3000)).map(pattern).collect();
            sent += client.send_slice(&chunk).unwrap();
        }
        if client.can_recv() {
            client
                .recv(|data| {
                    for (offset, &byte) in data.iter().enumerate() {
                        assert_eq!(byte, pattern(echoed + offset), "byte {} of the echo", echoed + offset);
                    }
                    echoed += data.len();
                    (data.len(), ())
                })
                .unwrap();
        }
        echoed == STREAM_BYTES
    });
    // Nothing leaked on the way: every receive buffer is back with its device.
    assert_eq!(a.posted(), common::BUFFERS);
    assert_eq!(b.posted(), common::BUFFERS);
}

#[test]
fn the_stack_answers_ping_by_itself() {
    let mut a = Host::new(SimInterface::Modern, 0x0a, Ipv4Address::new(10, 0, 0, 1));
    let mut b = Host::new(SimInterface::Legacy, 0x0b, Ipv4Address::new(10, 0, 0, 2));
    let buffer = || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 512]);
    let mut socket = icmp::Socket::new(buffer(), buffer());
    socket.bind(icmp::Endpoint::Ident(0x1234)).unwrap();
    let handle = a.sockets.add(socket);
    let checksums = ChecksumCapabilities::default();
    let request = Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"are you there" };
    let socket = a.sockets.get_mut::<icmp::Socket>(handle);
    let payload = socket.send(request.buffer_len(), IpAddress::v4(10, 0, 0, 2)).unwrap();
    request.emit(&mut Icmpv4Packet::new_unchecked(payload), &checksums);

    let mut answered = false;
    run(&mut a, &mut b, |a, _| {
        let socket = a.sockets.get_mut::<icmp::Socket>(handle);
        if let Ok((payload, from)) = socket.recv() {
            let packet = Icmpv4Packet::new_checked(payload).unwrap();
            let reply = Icmpv4Repr::parse(&packet, &checksums).unwrap();
            assert_eq!(from, IpAddress::v4(10, 0, 0, 2));
            assert_eq!(reply, Icmpv4Repr::EchoReply { ident: 0x1234, seq_no: 1, data: b"are you there" });
            answered = true;
        }
        answered
    });
    assert_eq!(b.phy.capabilities().max_transmission_unit, 1514);
}
