//! Shared by the tests: a NIC on a simulated device, and the device's side of moving frames.
#![allow(dead_code)] // each test binary uses its own part of this module

use virtio::sim::net::{NetLink, NetModel, RX_QUEUE, TX_QUEUE};
use virtio::sim::{CompletionOrder, Interface, SimDevice, SimPlatform};
use virtio::Interrupt;
use virtio_net::{NetError, VirtioNet};

pub const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// The simulated queues have 256 descriptors: 128 two-descriptor packet buffers each way.
pub const BUFFERS: usize = 128;

pub struct Rig {
    pub platform: &'static SimPlatform,
    pub device: SimDevice,
    pub link: NetLink,
    pub nic: VirtioNet,
}

impl Rig {
    pub fn new(interface: Interface) -> Rig {
        Rig::with_mac(interface, MAC)
    }

    pub fn with_mac(interface: Interface, mac: [u8; 6]) -> Rig {
        let (platform, device, link, nic) = Rig::start(interface, mac, |_| {});
        Rig { platform, device, link, nic: nic.expect("NIC comes up") }
    }

    /// A simulated NIC with `mac`, shaped by `configure` before the driver sees it, and the
    /// driver's attempt to bring it up. Chains wait in the device until the test completes them.
    pub fn start(
        interface: Interface,
        mac: [u8; 6],
        configure: impl FnOnce(&SimDevice),
    ) -> (&'static SimPlatform, SimDevice, NetLink, Result<VirtioNet, NetError>) {
        let platform = SimPlatform::leaked();
        let (model, link) = NetModel::new(interface, mac);
        let device = SimDevice::new(platform, interface, model);
        device.set_auto_complete(false);
        configure(&device);
        let nic = VirtioNet::new(Box::new(device.transport()), platform, Interrupt::polled());
        (platform, device, link, nic)
    }

    /// The device sends every frame the driver has queued, completing the chains in `order`;
    /// returns the frames in the order sent.
    pub fn device_sends(&self, order: CompletionOrder) -> Vec<Vec<u8>> {
        self.device.complete(TX_QUEUE, order);
        self.link.take_sent()
    }

    /// The device delivers `frame` into the oldest receive buffer it holds.
    pub fn device_delivers(&self, frame: Vec<u8>) {
        self.link.hand_in(frame);
        assert!(self.device.complete_next(RX_QUEUE), "the driver left no receive buffer");
    }

    /// Receive buffers the device holds.
    pub fn posted(&self) -> usize {
        self.device.held(RX_QUEUE)
    }
}

/// An Ethernet frame of `len` bytes (at least 14): broadcast, from [`MAC`], an experimental
/// EtherType, and a payload that differs per `seed` and per byte.
pub fn frame(seed: u32, len: usize) -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&MAC);
    frame.extend_from_slice(&[0x88, 0xb5]);
    frame.extend((0..len - 14).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed.wrapping_mul(7919)) as u8));
    frame
}
