//! The NIC as the registry's net class: [`NetClass`] puts the [`VirtioNet`] behind a lock so
//! that every call takes `&self`. With the registry's `smoltcp` feature,
//! `registry::class::net_smoltcp::Phy` runs smoltcp on it.
//!
//! `idle_until` holds the lock while it sleeps until the device's interrupt: the handler only
//! wakes the CPU and never takes the lock, so this cannot deadlock; a second CPU calling in
//! meanwhile spins until the sleeper wakes.

use registry::class::net::{self as class, Link, MacAddress, NetError};
use spin::Mutex;

use crate::{VirtioNet, ETHERNET_HEADER_LEN, MAX_FRAME_LEN};

/// A virtio NIC as a `registry::class::NetDevice`; what the driver publishes.
pub struct NetClass {
    nic: Mutex<VirtioNet>,
}

impl NetClass {
    pub fn new(nic: VirtioNet) -> Self {
        NetClass { nic: Mutex::new(nic) }
    }

    /// The driver's own interface, for code that knows it drives a virtio NIC: the driver's
    /// tests. Consumers use the class.
    pub fn lock(&self) -> spin::MutexGuard<'_, VirtioNet> {
        self.nic.lock()
    }
}

impl class::NetDevice for NetClass {
    fn mac(&self) -> MacAddress {
        self.nic.lock().mac()
    }

    fn link(&self) -> Result<Link, NetError> {
        self.nic.lock().link().map_err(NetError::new)
    }

    fn take_link_change(&self) -> bool {
        self.nic.lock().take_link_change()
    }

    fn max_frame_len(&self) -> usize {
        MAX_FRAME_LEN
    }

    fn error(&self) -> Option<NetError> {
        self.nic.lock().error().map(NetError::new)
    }

    fn can_transmit(&self) -> bool {
        self.nic.lock().transmitter().is_some()
    }

    fn transmit_with(&self, len: usize, build: &mut dyn FnMut(&mut [u8])) -> Result<bool, NetError> {
        if !(ETHERNET_HEADER_LEN..=MAX_FRAME_LEN).contains(&len) {
            return Err(NetError::new(crate::NetError::FrameLength { len }));
        }
        let mut nic = self.nic.lock();
        let sent = match nic.transmitter() {
            Some(transmitter) => {
                transmitter.send_with(len, build);
                true
            }
            None => false,
        };
        nic.error().map_or(Ok(sent), |error| Err(NetError::new(error)))
    }

    fn receive(&self, consume: &mut dyn FnMut(&[u8])) -> Result<bool, NetError> {
        match self.nic.lock().receive() {
            Ok(Some(frame)) => {
                consume(frame);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(error) => Err(NetError::new(error)),
        }
    }

    fn idle_until(&self, deadline_ns: u64) {
        self.nic.lock().idle_until(deadline_ns);
    }
}
