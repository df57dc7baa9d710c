//! virtio-drivers' `VirtIONet` as a `smoltcp::phy::Device`, so the peer runs the same TCP
//! benchmarks as our driver. The crate's `send` waits for each frame to be used, so the peer
//! transmits one frame at a time: that is its API, and part of what is measured.

use core::cell::{Cell, RefCell};

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::mmio::MmioTransport;

use super::hal::PeerHal;

/// Ring entries per queue: QEMU's default, as our driver uses.
pub const QUEUE_SIZE: usize = 256;
/// A whole Ethernet frame and the virtio-net header.
pub const BUFFER_LEN: usize = 2048;
/// An Ethernet frame without FCS at the standard MTU.
const MAX_FRAME: usize = 1514;

pub struct PeerNic {
    nic: RefCell<VirtIONet<PeerHal, MmioTransport<'static>, QUEUE_SIZE>>,
    /// The first error the crate reported; smoltcp has no error channel.
    failure: Cell<Option<virtio_drivers::Error>>,
}

impl PeerNic {
    pub fn new(nic: VirtIONet<PeerHal, MmioTransport<'static>, QUEUE_SIZE>) -> PeerNic {
        PeerNic { nic: RefCell::new(nic), failure: Cell::new(None) }
    }

    pub fn mac(&self) -> [u8; 6] {
        self.nic.borrow().mac_address()
    }

    pub fn failure(&self) -> Option<virtio_drivers::Error> {
        self.failure.get()
    }

    fn record(&self, outcome: virtio_drivers::Result) {
        if let Err(error) = outcome {
            if self.failure.get().is_none() {
                self.failure.set(Some(error));
            }
        }
    }
}

impl phy::Device for PeerNic {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let buffer = match self.nic.get_mut().receive() {
            Ok(buffer) => buffer,
            Err(virtio_drivers::Error::NotReady) => return None,
            Err(error) => {
                self.record(Err(error));
                return None;
            }
        };
        Some((RxToken { nic: self, buffer }, TxToken { nic: self }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        Some(TxToken { nic: self })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MAX_FRAME;
        capabilities
    }
}

pub struct RxToken<'a> {
    nic: &'a PeerNic,
    buffer: RxBuffer,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let result = f(self.buffer.packet());
        let recycled = self.nic.nic.borrow_mut().recycle_rx_buffer(self.buffer);
        self.nic.record(recycled);
        result
    }
}

pub struct TxToken<'a> {
    nic: &'a PeerNic,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut nic = self.nic.nic.borrow_mut();
        let mut frame = nic.new_tx_buffer(len);
        let result = f(frame.packet_mut());
        let sent = nic.send(frame);
        drop(nic);
        self.nic.record(sent);
        result
    }
}
