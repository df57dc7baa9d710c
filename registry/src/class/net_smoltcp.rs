//! Any [`NetDevice`] as a `smoltcp::phy::Device` (feature `smoltcp`), so a smoltcp `Interface`
//! runs on whatever NIC the registry found.
//!
//! A received frame is copied once more, into the adapter's own buffer: smoltcp wants the
//! receive and transmit tokens at once, and the class hands frames to a closure under the
//! driver's lock. A frame only comes with a free transmit buffer, so a reply (an ACK, an echo
//! reply) is never dropped for want of one; without one the frame waits in the device.
//! smoltcp has no error channel: a failed NIC stops giving tokens, and
//! [`NetDevice::error`] says why.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::net::NetDevice;

/// A class NIC driven by smoltcp.
pub struct Phy {
    nic: Arc<dyn NetDevice>,
    frame: Vec<u8>,
}

impl Phy {
    pub fn new(nic: Arc<dyn NetDevice>) -> Self {
        let frame = vec![0; nic.max_frame_len()];
        Phy { nic, frame }
    }

    pub fn nic(&self) -> &Arc<dyn NetDevice> {
        &self.nic
    }
}

impl phy::Device for Phy {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if !self.nic.can_transmit() {
            return None;
        }
        let mut len = None;
        let frame = &mut self.frame;
        let received = self.nic.receive(&mut |data| {
            // A device never hands out more than its own largest frame; clipped if it did.
            let n = data.len().min(frame.len());
            frame[..n].copy_from_slice(&data[..n]);
            len = Some(n);
        });
        let len = match received {
            Ok(true) => len?,
            _ => return None,
        };
        Some((RxToken { frame: &self.frame[..len] }, TxToken { nic: &*self.nic }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        self.nic.can_transmit().then_some(TxToken { nic: &*self.nic })
    }

    /// Ethernet without offloads: smoltcp computes and checks every checksum.
    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = self.nic.max_frame_len();
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
    nic: &'a dyn NetDevice,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut build = Some(f);
        let mut result = None;
        // An error stops the NIC (see `NetDevice::error`); the frame is then lost, as on a wire.
        let _ = self.nic.transmit_with(len, &mut |buffer| {
            if let Some(build) = build.take() {
                result = Some(build(buffer));
            }
        });
        match (result, build) {
            (Some(result), _) => result,
            // The buffer went (another CPU) or the NIC failed: smoltcp still wants its result,
            // so the frame is built and dropped.
            (None, Some(build)) => build(&mut vec![0; len]),
            (None, None) => unreachable!("the frame was built, so its result was kept"),
        }
    }
}
