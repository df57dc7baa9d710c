//! [`VirtioNet`]: one NIC on a virtio transport, from initialisation to teardown.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use registry::{DeviceHealth, Platform};
use virtio::{fail_device, Interrupt, LiveDevice, Negotiated, Transport};

use crate::link::{Link, MacAddress};
use crate::packets::PacketQueue;
use crate::rx::RxQueue;
use crate::tx::TxQueue;
use crate::wire::{
    header_len, CONFIG_MAC, CONFIG_STATUS, ETHERNET_HEADER_LEN, F_MAC, F_STATUS, MAX_FRAME_LEN, RX_QUEUE,
    STATUS_LINK_UP, TX_QUEUE, WANTED_FEATURES,
};
use crate::NetError;

/// Descriptors asked for per queue (two per packet buffer); QEMU offers 256.
const QUEUE_SIZE: u16 = 256;
/// The station address when the device has none (no VIRTIO_NET_F_MAC): locally administered.
const FALLBACK_MAC: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x01]);

/// A virtio-net device, live (DRIVER_OK) with its receive queue full of buffers.
///
/// Nothing here waits: [`receive`](Self::receive) takes a frame the device has delivered, if
/// any; [`transmit`](Self::transmit) hands one over without waiting for it to go out, and later
/// calls reclaim the buffers the device has finished with. The caller's loop (a network stack's
/// poll) is the waiting layer: between polls it sleeps with [`idle_until`](Self::idle_until),
/// which the device's interrupt (a frame arrived, a frame went out) ends.
///
/// After any error from the device, the device is marked FAILED and every call returns that
/// error. Dropping the NIC resets the device before its memory is freed ([`LiveDevice`]).
pub struct VirtioNet {
    device: LiveDevice<Queues>,
    interrupt: Interrupt,
    negotiated: Negotiated,
    mac: MacAddress,
    /// The error that stopped the NIC (the device has been marked FAILED).
    failed: Failure,
}

/// The error that stopped a NIC, and the registry's record of the device, told of it.
#[derive(Default)]
struct Failure {
    error: Option<NetError>,
    health: DeviceHealth,
}

/// The memory the device is told about.
struct Queues {
    rx: RxQueue,
    tx: TxQueue,
}

impl VirtioNet {
    /// Initialises the device behind `transport`: features, MAC, both queues with every receive
    /// buffer given, DRIVER_OK; `interrupt` is what [`idle_until`](Self::idle_until) sleeps on.
    /// On error the device is left FAILED.
    pub fn new(
        mut transport: Box<dyn Transport>,
        platform: &'static dyn Platform,
        interrupt: Interrupt,
    ) -> Result<Self, NetError> {
        let negotiated = virtio::init_device(&mut *transport, WANTED_FEATURES, platform)?;
        let prepared = read_mac(&*transport, &negotiated)
            .and_then(|mac| Ok((mac, Queues::new(&mut *transport, platform, &negotiated)?)));
        let (mac, queues) = match prepared {
            Ok(prepared) => prepared,
            Err(error) => {
                // The device never went live, so it has not touched the queues just dropped.
                fail_device(&mut *transport);
                return Err(error);
            }
        };
        let device = LiveDevice::new(transport, platform, queues);
        let mut nic = VirtioNet { device, interrupt, negotiated, mac, failed: Failure::default() };
        nic.start()?;
        Ok(nic)
    }

    /// DRIVER_OK, then the notification that makes the device look at the receive buffers.
    fn start(&mut self) -> Result<(), NetError> {
        let (transport, queues) = self.device.parts();
        let started = virtio::finish_init(transport).map_err(NetError::from).and_then(|()| queues.rx.notify(transport));
        started.map_err(|error| fail(transport, &mut self.failed, error))
    }

    pub fn mac(&self) -> MacAddress {
        self.mac
    }

    /// The link state as the device reports it now.
    pub fn link(&mut self) -> Result<Link, NetError> {
        if !self.negotiated.has(F_STATUS) {
            return Ok(Link::Unreported);
        }
        let (transport, _) = self.device.parts();
        let status = transport.read_config_u16(CONFIG_STATUS)?;
        Ok(if status & STATUS_LINK_UP != 0 { Link::Up } else { Link::Down })
    }

    /// The link as `lsdev` and the shell show it: `up`, `down`, `up (not reported)`, or
    /// `unknown (why)` when the status cannot be read.
    pub fn link_label(&mut self) -> String {
        self.link().map_or_else(|error| format!("unknown ({error})"), |link| format!("{link}"))
    }

    /// Whether the device signalled a configuration change (its link, with VIRTIO_NET_F_STATUS)
    /// since the last call; [`link`](Self::link) then says what the link is now. Only the
    /// configuration interrupt tells: a polled NIC's link is read when asked.
    pub fn take_link_change(&mut self) -> bool {
        self.interrupt.take_config_change()
    }

    /// Descriptors in the receive and transmit queues (each packet buffer takes two).
    pub fn queue_sizes(&self) -> (u16, u16) {
        let queues = self.device.memory();
        (queues.rx.size(), queues.tx.size())
    }

    /// The error that stopped the NIC, if one did.
    pub fn error(&self) -> Option<&NetError> {
        self.failed.error.as_ref()
    }

    /// Reports the error that stops the NIC from now on (and one that already did) to
    /// `health`, the registry's record of the device, so that `lsdev` shows it failed.
    pub fn report_failures_to(&mut self, health: DeviceHealth) {
        if let Some(error) = &self.failed.error {
            health.fail(error);
        }
        self.failed.health = health;
    }

    /// Sleeps until the device's interrupt (or another) or `deadline_ns` on the platform's
    /// clock, for the caller's poll loop; returns at once when the NIC has no interrupt, so the
    /// loop polls.
    pub fn idle_until(&self, deadline_ns: u64) {
        self.interrupt.idle_until(self.device.platform(), deadline_ns);
    }

    /// The next frame the device has delivered (without the virtio-net header), or `None`.
    /// Its buffer is already back in the receive queue: the frame is a copy, valid until the
    /// next call.
    pub fn receive(&mut self) -> Result<Option<&[u8]>, NetError> {
        self.check()?;
        let (transport, queues) = self.device.parts();
        match queues.rx.receive(transport) {
            Ok(Some(len)) => Ok(Some(queues.rx.frame(len))),
            Ok(None) => Ok(None),
            Err(error) => Err(fail(transport, &mut self.failed, error)),
        }
    }

    /// Hands `frame` (an Ethernet frame without FCS) to the device. `Ok(false)` when every
    /// transmit buffer is still in flight: try again once the device has sent some.
    pub fn transmit(&mut self, frame: &[u8]) -> Result<bool, NetError> {
        if !(ETHERNET_HEADER_LEN..=MAX_FRAME_LEN).contains(&frame.len()) {
            return Err(NetError::FrameLength { len: frame.len() });
        }
        let Some(transmitter) = self.transmitter() else {
            return self.check().map(|()| false);
        };
        transmitter.send_with(frame.len(), |staging| staging.copy_from_slice(frame));
        self.check().map(|()| true)
    }

    /// Returns the buffers of frames the device has sent to the free list.
    /// [`transmit`](Self::transmit) does it too.
    pub fn reclaim_transmitted(&mut self) -> Result<(), NetError> {
        self.check()?;
        let (transport, queues) = self.device.parts();
        queues.tx.reclaim().map_err(|error| fail(transport, &mut self.failed, error))
    }

    /// A transmitter for one frame, if a buffer is free (after reclaiming sent ones).
    pub(crate) fn transmitter(&mut self) -> Option<Transmitter<'_>> {
        self.reclaim_transmitted().ok()?;
        let (transport, queues) = self.device.parts();
        if !queues.tx.has_free_slot() {
            return None;
        }
        Some(Transmitter { tx: &mut queues.tx, transport, failed: &mut self.failed })
    }

    /// The next received frame together with a transmitter for a reply, or `None` when no
    /// frame has arrived, no transmit buffer is free (the frame waits in the queue), or the NIC
    /// has failed. For smoltcp's receive, which hands out both tokens at once.
    #[cfg(feature = "smoltcp")]
    pub(crate) fn receive_with_transmitter(&mut self) -> Option<(&[u8], Transmitter<'_>)> {
        self.reclaim_transmitted().ok()?;
        let (transport, queues) = self.device.parts();
        if !queues.tx.has_free_slot() {
            return None;
        }
        let len = match queues.rx.receive(transport) {
            Ok(len) => len?,
            Err(error) => {
                fail(transport, &mut self.failed, error);
                return None;
            }
        };
        let transmitter = Transmitter { tx: &mut queues.tx, transport, failed: &mut self.failed };
        Some((queues.rx.frame(len), transmitter))
    }

    /// Errs once the NIC has failed.
    fn check(&self) -> Result<(), NetError> {
        self.failed.error.clone().map_or(Ok(()), Err)
    }
}

/// Stops the NIC for `error`: the device is marked FAILED, the first error kept in `failed`
/// and reported to the registry.
fn fail(transport: &mut dyn Transport, failed: &mut Failure, error: NetError) -> NetError {
    if failed.error.is_none() {
        fail_device(transport);
        failed.health.fail(&error);
        failed.error = Some(error.clone());
    }
    error
}

/// Sends one frame built in place.
pub(crate) struct Transmitter<'a> {
    tx: &'a mut TxQueue,
    transport: &'a mut dyn Transport,
    failed: &'a mut Failure,
}

impl Transmitter<'_> {
    /// Lets `build` write a `len`-byte frame, then sends it; an error stops the NIC.
    pub(crate) fn send_with<R>(self, len: usize, build: impl FnOnce(&mut [u8]) -> R) -> R {
        let result = build(self.tx.stage(len));
        if let Err(error) = self.tx.send_staged(self.transport) {
            fail(self.transport, self.failed, error);
        }
        result
    }
}

impl Queues {
    /// Both queues, every receive buffer given (the device sees them once it is live).
    fn new(transport: &mut dyn Transport, platform: &'static dyn Platform, negotiated: &Negotiated) -> Result<Self, NetError> {
        let header_len = header_len(negotiated);
        let rx = RxQueue::new(PacketQueue::new(transport, platform, negotiated, RX_QUEUE, QUEUE_SIZE, header_len)?)?;
        let tx = TxQueue::new(PacketQueue::new(transport, platform, negotiated, TX_QUEUE, QUEUE_SIZE, header_len)?)?;
        Ok(Queues { rx, tx })
    }
}

/// The device's MAC, read within one config generation, or the fallback when it has none.
fn read_mac(transport: &dyn Transport, negotiated: &Negotiated) -> Result<MacAddress, NetError> {
    if !negotiated.has(F_MAC) {
        return Ok(FALLBACK_MAC);
    }
    let bytes = transport.read_config_consistent(|t| {
        let mut mac = [0; 6];
        for (offset, byte) in (CONFIG_MAC..).zip(&mut mac) {
            *byte = t.read_config_u8(offset)?;
        }
        Ok(mac)
    })?;
    let mac = MacAddress(bytes);
    if !mac.is_unicast() {
        return Err(NetError::MacNotUnicast(mac));
    }
    Ok(mac)
}
