//! `net ping HOST`: ICMP echo requests with an ICMP socket, and the replies timed.

use alloc::format;
use alloc::vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::icmp;
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress};
use registry::class::net_smoltcp::Phy;

use super::stack::{now, Failure, Stack, Step};

const IDENT: u16 = 0x6b72;
const PAYLOAD: &[u8] = b"virtio-net ping";
const REPLY_TIMEOUT_MS: u64 = 2_000;

/// Sends `count` echo requests to `host`, one at a time; calls `on_reply` with the sequence
/// number and round trip in milliseconds of each reply, and returns how many came back.
pub fn ping(stack: &mut Stack, nic: &mut Phy, host: IpAddress, count: u16, mut on_reply: impl FnMut(u16, i64)) -> Result<u16, Failure> {
    let buffer = || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 256]);
    let mut socket = icmp::Socket::new(buffer(), buffer());
    socket.bind(icmp::Endpoint::Ident(IDENT)).map_err(|e| Failure::Error(format!("cannot bind an ICMP socket: {e}")))?;
    let handle = stack.sockets.add(socket);
    let checksums = ChecksumCapabilities::default();
    let mut replies = 0;
    let mut outcome = Ok(());
    for seq_no in 0..count {
        let request = Icmpv4Repr::EchoRequest { ident: IDENT, seq_no, data: PAYLOAD };
        let socket = stack.sockets.get_mut::<icmp::Socket>(handle);
        match socket.send(request.buffer_len(), host) {
            Ok(payload) => request.emit(&mut Icmpv4Packet::new_unchecked(payload), &checksums),
            Err(e) => {
                outcome = Err(Failure::Error(format!("cannot send: {e}")));
                break;
            }
        }
        let sent_at = now();
        let answered = stack.run(nic, REPLY_TIMEOUT_MS, "an echo reply", |stack| {
            let socket = stack.sockets.get_mut::<icmp::Socket>(handle);
            while let Ok((payload, from)) = socket.recv() {
                let reply = Icmpv4Packet::new_checked(payload).and_then(|packet| Icmpv4Repr::parse(&packet, &checksums));
                if from == host && reply == Ok(Icmpv4Repr::EchoReply { ident: IDENT, seq_no, data: PAYLOAD }) {
                    return Ok(Step::Done(()));
                }
            }
            Ok(Step::Waiting)
        });
        match answered {
            Ok(()) => {
                replies += 1;
                on_reply(seq_no, (now() - sent_at).total_millis() as i64);
            }
            // A lost request or reply: the next one may make it.
            Err(Failure::TimedOut(_)) => {}
            Err(failure) => {
                outcome = Err(failure);
                break;
            }
        }
    }
    stack.sockets.remove(handle);
    outcome.map(|()| replies)
}
