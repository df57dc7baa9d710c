//! The net class: an Ethernet NIC that moves whole frames (without FCS).
//!
//! The calls take `&self` (the driver locks inside) and never wait, except
//! [`idle_until`](NetDevice::idle_until), which is what a network stack's poll loop sleeps in.
//! With the `smoltcp` feature, [`net_smoltcp::Phy`](super::net_smoltcp::Phy) makes any
//! `NetDevice` a `smoltcp::phy::Device`.

use alloc::string::String;
use core::fmt;

/// The Ethernet header: destination, source, EtherType.
pub const ETHERNET_HEADER_LEN: usize = 14;

/// An Ethernet station address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// Not a group address (bit 0 of the first byte) and not all zeros.
    pub fn is_unicast(&self) -> bool {
        self.0[0] & 1 == 0 && self.0 != [0; 6]
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The link as the device reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Up,
    Down,
    /// The device does not report its link; it is to be assumed up.
    Unreported,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Link::Up => "up",
            Link::Down => "down",
            Link::Unreported => "up (not reported)",
        })
    }
}

/// A NIC error, as its driver describes it. Once a NIC has failed, [`NetDevice::error`] says
/// why and every call fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetError(pub String);

impl NetError {
    pub fn new(message: impl fmt::Display) -> Self {
        NetError(alloc::format!("{message}"))
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A network interface, whatever drives it.
pub trait NetDevice: Send + Sync {
    fn mac(&self) -> MacAddress;

    /// The link as the device reports it now.
    fn link(&self) -> Result<Link, NetError>;

    /// Whether the device signalled a link change since the last call.
    fn take_link_change(&self) -> bool {
        false
    }

    /// The largest frame it sends or receives, Ethernet header included, FCS not.
    fn max_frame_len(&self) -> usize;

    /// The largest IP packet: the frame without its Ethernet header.
    fn mtu(&self) -> usize {
        self.max_frame_len().saturating_sub(ETHERNET_HEADER_LEN)
    }

    /// The error that stopped the NIC, if one did.
    fn error(&self) -> Option<NetError>;

    /// Whether a transmit buffer is free now.
    fn can_transmit(&self) -> bool;

    /// Sends a `len`-byte frame that `build` writes in place. `Ok(false)`, without calling
    /// `build`, when every transmit buffer is in flight.
    fn transmit_with(&self, len: usize, build: &mut dyn FnMut(&mut [u8])) -> Result<bool, NetError>;

    /// Sends `frame`; `Ok(false)` when every transmit buffer is in flight.
    fn transmit(&self, frame: &[u8]) -> Result<bool, NetError> {
        self.transmit_with(frame.len(), &mut |out| out.copy_from_slice(frame))
    }

    /// Hands the next received frame to `consume`; `Ok(false)` when none has arrived.
    fn receive(&self, consume: &mut dyn FnMut(&[u8])) -> Result<bool, NetError>;

    /// Sleeps until the device's interrupt (a frame arrived or went out) or `deadline_ns` on the
    /// platform's clock; returns at once on a NIC without an interrupt, so the caller polls.
    fn idle_until(&self, deadline_ns: u64);

    /// The link as people read it: `up`, `down`, `up (not reported)` or `unknown (why)`.
    fn link_label(&self) -> String {
        self.link().map_or_else(|error| alloc::format!("unknown ({error})"), |link| alloc::format!("{link}"))
    }
}
