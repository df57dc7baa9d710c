//! A simulated network device (virtio 1.2, section 5.1): receive queue 0, transmit queue 1, a
//! MAC and the link status in its config. Frames go through a [`NetLink`]: the test takes the
//! frames the driver sent and hands in frames for it to receive, so it can loop them back,
//! wire two NICs together, or play a peer.
//!
//! Receive buffers wait in the device until a frame is there for them, so run the device with
//! auto-completion off ([`SimDevice::set_auto_complete`](super::SimDevice::set_auto_complete))
//! and complete chains as frames move: [`SimDevice::complete`](super::SimDevice::complete) on
//! the transmit queue sends, one [`SimDevice::complete_next`](super::SimDevice::complete_next)
//! on the receive queue delivers the oldest frame handed in. A receive chain completed with no
//! frame waiting comes back with used length 0, as a broken device would report it.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use spin::Mutex;

use super::{DeviceModel, Interface};

pub const RX_QUEUE: u16 = 0;
pub const TX_QUEUE: u16 = 1;
/// VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS, the features offered.
pub const F_MAC: u64 = 1 << 5;
pub const F_STATUS: u64 = 1 << 16;
/// Offset of the le16 `status` in the config space, after the 6-byte MAC.
pub const CONFIG_STATUS: usize = 6;
pub const STATUS_LINK_UP: u16 = 1;

const QUEUE_SIZE: u16 = 256;
/// mac, status, max_virtqueue_pairs.
const CONFIG_SIZE: usize = 10;

pub struct NetModel {
    mac: [u8; 6],
    header_len: usize,
    link: NetLink,
}

/// The test's end of the wire; clones share it.
#[derive(Clone, Default)]
pub struct NetLink(Arc<Mutex<Frames>>);

#[derive(Default)]
struct Frames {
    sent: Vec<Vec<u8>>,
    incoming: VecDeque<Incoming>,
}

/// A frame to deliver and the first two header fields to deliver it with.
struct Incoming {
    flags: u8,
    gso_type: u8,
    frame: Vec<u8>,
}

impl NetModel {
    /// A NIC with `mac` and its link up, for a device presenting `interface`. It offers no
    /// MRG_RXBUF, so its `virtio_net_hdr` is 12 bytes on a modern interface and 10 on a legacy
    /// one (spec 5.1.6): a driver that gets this wrong sees its frames shifted.
    pub fn new(interface: Interface, mac: [u8; 6]) -> (NetModel, NetLink) {
        let header_len = match interface {
            Interface::Modern => 12,
            Interface::Legacy => 10,
        };
        let link = NetLink::default();
        (NetModel { mac, header_len, link: link.clone() }, link)
    }
}

impl NetLink {
    /// The frames the device has sent since the last call, headers stripped, in order.
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        core::mem::take(&mut self.0.lock().sent)
    }

    /// Queues `frame` for the device to deliver into the next receive chain it completes.
    pub fn hand_in(&self, frame: Vec<u8>) {
        self.hand_in_with_header(0, 0, frame);
    }

    /// As [`hand_in`](Self::hand_in), with the header's `flags` and `gso_type` set as given (a
    /// device claiming offloads).
    pub fn hand_in_with_header(&self, flags: u8, gso_type: u8, frame: Vec<u8>) {
        self.0.lock().incoming.push_back(Incoming { flags, gso_type, frame });
    }

    /// Frames handed in and not delivered yet.
    pub fn waiting(&self) -> usize {
        self.0.lock().incoming.len()
    }
}

impl DeviceModel for NetModel {
    fn device_id(&self) -> u32 {
        crate::ids::NET
    }

    fn features(&self) -> u64 {
        F_MAC | F_STATUS
    }

    fn queue_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE, QUEUE_SIZE]
    }

    fn config_space(&self) -> Vec<u8> {
        let mut config = vec![0; CONFIG_SIZE];
        config[..6].copy_from_slice(&self.mac);
        config[CONFIG_STATUS..CONFIG_STATUS + 2].copy_from_slice(&STATUS_LINK_UP.to_le_bytes());
        config[8..10].copy_from_slice(&1u16.to_le_bytes());
        config
    }

    fn serve(&mut self, queue: u16, request: &[u8], reply: &mut [u8]) -> u32 {
        match queue {
            TX_QUEUE => {
                let Some((header, frame)) = request.split_at_checked(self.header_len) else {
                    panic!("sim: {}-byte transmit chain without a {}-byte header (driver bug)", request.len(), self.header_len);
                };
                // No offloads were offered: every header field must be zero (num_buffers too).
                assert!(header.iter().all(|&b| b == 0), "sim: transmit header {header:?} asks for offloads (driver bug)");
                self.link.0.lock().sent.push(frame.to_vec());
                0
            }
            RX_QUEUE => {
                let Some(Incoming { flags, gso_type, frame }) = self.link.0.lock().incoming.pop_front() else {
                    return 0;
                };
                let len = self.header_len + frame.len();
                assert!(len <= reply.len(), "sim: a {}-byte frame handed in for a {}-byte buffer", frame.len(), reply.len());
                reply[..self.header_len].fill(0);
                reply[..2].copy_from_slice(&[flags, gso_type]);
                if self.header_len == 12 {
                    // num_buffers: 1 without MRG_RXBUF (QEMU leaves it unwritten instead).
                    reply[10..12].copy_from_slice(&1u16.to_le_bytes());
                }
                reply[self.header_len..len].copy_from_slice(&frame);
                len as u32
            }
            other => panic!("sim: virtio-net has no queue {other}"),
        }
    }
}
