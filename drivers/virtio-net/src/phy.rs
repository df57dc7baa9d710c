//! `smoltcp::phy::Device` for [`VirtioNet`] (feature `smoltcp`).
//!
//! It lives in the driver crate rather than an adapter crate because its tokens borrow the
//! NIC's receive copy and transmit staging buffer directly, which the driver does not expose.
//! smoltcp has no error channel here: a device error makes the tokens stop coming, and the
//! caller sees it in [`VirtioNet::error`].

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::nic::Transmitter;
use crate::{VirtioNet, MAX_FRAME_LEN};

impl phy::Device for VirtioNet {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    /// A frame only comes with a free transmit buffer, so a reply (an ACK, an echo reply) is
    /// never dropped for want of one; without one the frame waits in the receive queue.
    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let (frame, transmitter) = self.receive_with_transmitter()?;
        Some((RxToken { frame }, TxToken { transmitter }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        self.transmitter().map(|transmitter| TxToken { transmitter })
    }

    /// Ethernet without offloads: smoltcp computes and checks every checksum.
    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MAX_FRAME_LEN;
        capabilities
    }
}

pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

pub struct TxToken<'a> {
    transmitter: Transmitter<'a>,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.transmitter.send_with(len, f)
    }
}
