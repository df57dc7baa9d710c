//! [`SimDevice`]: the handle a test holds on a simulated device to steer and inspect it.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use alloc::{format, vec};

use registry::Irq;
use spin::Mutex;

use super::device::{CompletionOrder, DeviceState, Interface, Misbehaviour};
use super::platform::SimPlatform;
use super::transport::SimTransport;
use super::DeviceModel;

const USED_F_NO_NOTIFY: u16 = 1;

/// A test's handle on a simulated device; clones share the device.
#[derive(Clone)]
pub struct SimDevice {
    pub(crate) state: Arc<Mutex<DeviceState>>,
    /// The platform's interrupt line for this device.
    line: u32,
}

impl SimDevice {
    /// A device in reset state, serving `model`, completing every chain as soon as it is
    /// notified (see [`set_auto_complete`](Self::set_auto_complete)), with its own interrupt
    /// line on `platform`.
    pub fn new(platform: &'static SimPlatform, interface: Interface, model: impl DeviceModel + 'static) -> Self {
        let state = Arc::new(Mutex::new(DeviceState::new(platform, interface, Box::new(model))));
        let line = platform.attach(Arc::downgrade(&state));
        SimDevice { state, line }
    }

    /// The device's interrupt, as a bus would describe it to the registry.
    pub fn irq(&self) -> Irq {
        Irq { controller: String::from("/sim-intc"), cells: vec![self.line], number: Some(self.line), label: format!("sim line {}", self.line) }
    }

    /// A transport for the driver under test, connected to this device.
    pub fn transport(&self) -> SimTransport {
        SimTransport { device: self.clone() }
    }

    pub fn misbehave(&self, misbehaviour: Misbehaviour) {
        self.state.lock().misbehaviour = Some(misbehaviour);
    }

    /// The feature bits offered (all 64).
    pub fn offered_features(&self) -> u64 {
        self.state.lock().offered
    }

    /// Replaces the offered feature bits (all 64, VERSION_1 included or not).
    pub fn set_offered_features(&self, features: u64) {
        self.state.lock().offered = features;
    }

    pub fn set_queue_max(&self, queue: u16, max_size: u16) {
        self.state.lock().queue_mut(queue).max_size = max_size;
    }

    /// With `false`, notified chains are only fetched and held until [`complete`](Self::complete).
    pub fn set_auto_complete(&self, auto_complete: bool) {
        self.state.lock().auto_complete = auto_complete;
    }

    /// Notified chains are held and completed `latency_ns` later on the platform's clock, as a
    /// real device works while the driver sleeps or polls; `None` goes back to auto-completion.
    pub fn set_completion_latency(&self, latency_ns: Option<u64>) {
        self.state.lock().latency_ns = latency_ns;
    }

    /// Sets or clears VIRTQ_USED_F_NO_NOTIFY in the queue's used ring.
    pub fn set_no_notify(&self, queue: u16, no_notify: bool) {
        let mut state = self.state.lock();
        let platform = state.platform;
        state.queue_mut(queue).set_used_flags(platform, if no_notify { USED_F_NO_NOTIFY } else { 0 });
    }

    /// Sets avail_event (EVENT_IDX) in the queue's used ring, as a device busy with the chains up
    /// to `avail_event` does: the driver notifies again only once it makes more available. The
    /// device's next fetch asks for notifications again.
    pub fn set_avail_event(&self, queue: u16, avail_event: u16) {
        let mut state = self.state.lock();
        let platform = state.platform;
        state.queue_mut(queue).set_avail_event(platform, avail_event);
    }

    /// Fetches (and, with auto-complete, serves) what is available without a notification, as a
    /// device that suppressed notifications polls.
    pub fn poll(&self, queue: u16) {
        self.state.lock().poll(queue);
    }

    /// Serves and completes every held chain of `queue` in `order`; returns how many.
    pub fn complete(&self, queue: u16, order: CompletionOrder) -> usize {
        self.state.lock().complete(queue, order)
    }

    /// Serves and completes the oldest held chain of `queue`; false if none is held.
    pub fn complete_next(&self, queue: u16) -> bool {
        let mut state = self.state.lock();
        let Some(chain) = state.queue_mut(queue).pending.pop_front() else {
            return false;
        };
        state.complete_chain(queue, chain);
        true
    }

    /// Chains fetched from `queue` and not completed yet.
    pub fn held(&self, queue: u16) -> usize {
        self.state.lock().queue_mut(queue).pending.len()
    }

    pub fn notifications(&self, queue: u16) -> usize {
        self.state.lock().queue_mut(queue).notifications
    }

    /// Used-buffer interrupts the device raised for `queue` (with EVENT_IDX, only those the
    /// driver's used_event asked for).
    pub fn interrupts(&self, queue: u16) -> usize {
        self.state.lock().queue_mut(queue).interrupts
    }

    /// Changes the device-specific config as the device would: new generation, config interrupt.
    pub fn change_config(&self, offset: usize, bytes: &[u8]) {
        self.state.lock().change_config(offset, bytes);
    }

    /// The config space as it is now (the driver may have written it).
    pub fn config(&self) -> Vec<u8> {
        self.state.lock().config.clone()
    }

    /// Every value the driver wrote to the status register, in order (0 for resets).
    pub fn status_writes(&self) -> Vec<u8> {
        self.state.lock().status_writes.clone()
    }

    pub fn status(&self) -> u8 {
        self.state.lock().status
    }

    /// The features the driver accepted.
    pub fn driver_features(&self) -> u64 {
        self.state.lock().driver_features
    }
}

