//! The simulated device's state machine: status, features, queues, config, interrupts, completion
//! latency, and the ways it can be told to misbehave.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::platform::SimPlatform;
use super::ring::{Chain, DeviceQueue};
use super::DeviceModel;
use crate::features::{RING_EVENT_IDX, VERSION_1};
use crate::queue::{legacy_addresses, LEGACY_ALIGN};
use crate::status::{DRIVER, DRIVER_OK, FEATURES_OK};
use crate::{QueueAddresses, VirtioError};

const INTERRUPT_USED_BUFFER: u32 = 1;
const INTERRUPT_CONFIG_CHANGE: u32 = 2;
/// How far beyond the queue size [`Misbehaviour::UsedIdOutOfRange`] reports (256 -> 300).
const OUT_OF_RANGE_BY: u32 = 44;

/// Which interface the simulated device presents, as virtio-mmio version 1 or 2 would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// Pre-1.0: no VERSION_1, no FEATURES_OK, no config generation; the device finds the rings
    /// from the descriptor table's address alone (the legacy layout).
    Legacy,
    Modern,
}

/// Ways the simulated device breaks the rules, so tests can check the driver side copes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Reports used ids beyond the queue size (300 in a queue of 256).
    UsedIdOutOfRange,
    /// Reports the id of a chain's last descriptor instead of its head (chains of two or more).
    UsedIdNotHead,
    /// Puts every chain it completes in the used ring twice.
    DuplicateCompletion,
    /// Reports one byte more than the chain's device-writable buffers hold.
    UsedLenTooLong,
    /// After a completion, moves the used index on by one more than the queue size.
    UsedIndexJump,
    /// Never accepts FEATURES_OK.
    RefuseFeaturesOk,
    /// Ignores reset: the status keeps reading back what it was.
    StuckReset,
    /// The config generation changes on every read.
    UnstableConfigGeneration,
    /// Never raises its interrupt line, whatever it has to report.
    NoInterrupts,
    /// Raises its interrupt line whenever the CPU idles, with or without something to report.
    SpuriousInterrupts,
}

/// The order in which [`SimDevice::complete`](super::SimDevice::complete) returns the chains it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionOrder {
    InOrder,
    Reversed,
    /// A fixed permutation for each seed.
    Shuffled(u64),
}

impl CompletionOrder {
    fn arrange<T>(self, items: &mut [T]) {
        match self {
            CompletionOrder::InOrder => {}
            CompletionOrder::Reversed => items.reverse(),
            CompletionOrder::Shuffled(seed) => {
                // Fisher-Yates driven by xorshift64, which needs a non-zero state.
                let mut state = seed | 1;
                for last in (1..items.len()).rev() {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    items.swap(last, (state % (last as u64 + 1)) as usize);
                }
            }
        }
    }
}

pub(crate) struct DeviceState {
    pub(crate) platform: &'static SimPlatform,
    interface: Interface,
    model: Box<dyn DeviceModel>,
    pub(crate) offered: u64,
    pub(crate) driver_features: u64,
    pub(crate) status: u8,
    pub(crate) status_writes: Vec<u8>,
    queues: Vec<DeviceQueue>,
    pub(crate) config: Vec<u8>,
    generation: u32,
    interrupt_status: u32,
    pub(crate) misbehaviour: Option<Misbehaviour>,
    pub(crate) auto_complete: bool,
    /// With a latency, notified chains are held and completed that long later on the
    /// platform's clock (see [`run_until`](Self::run_until)).
    pub(crate) latency_ns: Option<u64>,
    /// When the chains held under a latency are due.
    due_at: Option<u64>,
}

impl DeviceState {
    pub(crate) fn new(platform: &'static SimPlatform, interface: Interface, model: Box<dyn DeviceModel>) -> Self {
        let version_1 = if interface == Interface::Modern { VERSION_1 } else { 0 };
        DeviceState {
            platform,
            interface,
            // As QEMU's devices do, on both interfaces.
            offered: model.features() | version_1 | RING_EVENT_IDX,
            driver_features: 0,
            status: 0,
            status_writes: Vec::new(),
            queues: model.queue_sizes().into_iter().map(DeviceQueue::new).collect(),
            config: model.config_space(),
            generation: 0,
            interrupt_status: 0,
            misbehaviour: None,
            auto_complete: true,
            latency_ns: None,
            due_at: None,
            model,
        }
    }

    pub(crate) fn device_id(&self) -> u32 {
        self.model.device_id()
    }

    pub(crate) fn is_legacy(&self) -> bool {
        self.interface == Interface::Legacy
    }

    pub(crate) fn device_features(&self) -> u64 {
        self.offered
    }

    pub(crate) fn write_driver_features(&mut self, features: u64) {
        let negotiating = self.status & DRIVER != 0 && self.status & FEATURES_OK == 0;
        assert!(negotiating, "sim: features written in status {:#x} (driver bug)", self.status);
        self.driver_features = features;
    }

    pub(crate) fn status(&self) -> u8 {
        self.status
    }

    pub(crate) fn write_status(&mut self, value: u8) {
        self.status_writes.push(value);
        if value == 0 {
            if self.misbehaviour != Some(Misbehaviour::StuckReset) {
                self.reset();
            }
            return;
        }
        assert!(value & self.status == self.status, "sim: status {:#x} -> {value:#x} clears bits (driver bug)", self.status);
        let added = value & !self.status;
        let mut status = value;
        if added & FEATURES_OK != 0 {
            assert!(!self.is_legacy(), "sim: FEATURES_OK on a legacy device, which has no such step (driver bug)");
            if !self.accepts_driver_features() {
                status &= !FEATURES_OK;
            }
        }
        if added & DRIVER_OK != 0 && !self.is_legacy() {
            assert!(status & FEATURES_OK != 0, "sim: DRIVER_OK without FEATURES_OK (driver bug)");
        }
        self.status = status;
    }

    fn accepts_driver_features(&self) -> bool {
        self.misbehaviour != Some(Misbehaviour::RefuseFeaturesOk)
            && self.driver_features & !self.offered == 0
            && self.driver_features & VERSION_1 != 0
    }

    fn reset(&mut self) {
        self.status = 0;
        self.driver_features = 0;
        self.interrupt_status = 0;
        self.due_at = None;
        self.queues.iter_mut().for_each(DeviceQueue::reset);
    }

    pub(crate) fn queue_count(&self) -> usize {
        self.queues.len()
    }

    pub(crate) fn max_queue_size(&self, index: u16) -> u16 {
        self.queues.get(usize::from(index)).map_or(0, |queue| queue.max_size)
    }

    pub(crate) fn set_queue(&mut self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        let features_done = self.is_legacy() || self.status & FEATURES_OK != 0;
        let setting_up = self.status & DRIVER != 0 && features_done && self.status & DRIVER_OK == 0;
        assert!(setting_up, "sim: queue {index} set up in status {:#x} (driver bug)", self.status);
        let legacy = self.is_legacy();
        let queue = self.queue_mut(index);
        if queue.enabled.is_some() {
            return Err(VirtioError::QueueInUse(index));
        }
        let size_ok = size.is_power_of_two() && size <= queue.max_size;
        assert!(size_ok, "sim: queue {index} size {size} with maximum {} (driver bug)", queue.max_size);
        let rings = if legacy {
            // A legacy device only learns the page frame number and works out the rest itself.
            assert!(rings.desc.is_multiple_of(LEGACY_ALIGN as u64), "sim: legacy queue not page aligned (driver bug)");
            legacy_addresses(rings.desc, size)
        } else {
            let aligned = rings.desc.is_multiple_of(16) && rings.driver.is_multiple_of(2) && rings.device.is_multiple_of(4);
            assert!(aligned, "sim: queue {index} rings misaligned: {rings:x?} (driver bug)");
            rings
        };
        queue.enabled = Some((size, rings));
        Ok(())
    }

    pub(crate) fn notify(&mut self, index: u16) {
        assert!(self.status & DRIVER_OK != 0, "sim: queue {index} notified before DRIVER_OK (driver bug)");
        self.queue_mut(index).notifications += 1;
        self.poll(index);
    }

    fn event_idx(&self) -> bool {
        self.driver_features & RING_EVENT_IDX != 0
    }

    /// Fetches what the driver made available (as after a notification, or when polling), and
    /// asks to be notified of anything newer.
    pub(crate) fn poll(&mut self, index: u16) {
        let (platform, event_idx) = (self.platform, self.event_idx());
        let queue = self.queue_mut(index);
        queue.fetch_available(platform);
        if event_idx {
            queue.request_notification(platform);
        }
        if let Some(latency) = self.latency_ns {
            self.due_at.get_or_insert(platform.time().saturating_add(latency));
        } else if self.auto_complete {
            self.complete(index, CompletionOrder::InOrder);
        }
    }

    /// Completes the chains held under a latency if they are due at `now`.
    pub(crate) fn run_until(&mut self, now: u64) {
        if self.due_at.is_some_and(|due| due <= now) {
            self.due_at = None;
            for index in 0..self.queues.len() as u16 {
                self.complete(index, CompletionOrder::InOrder);
            }
        }
    }

    /// When held chains are due, if any are.
    pub(crate) fn due_at(&self) -> Option<u64> {
        self.due_at
    }

    /// Whether the device's (level-triggered) interrupt line is up.
    pub(crate) fn raises_interrupt(&self) -> bool {
        match self.misbehaviour {
            Some(Misbehaviour::NoInterrupts) => false,
            Some(Misbehaviour::SpuriousInterrupts) => true,
            _ => self.interrupt_status != 0,
        }
    }

    pub(crate) fn complete(&mut self, index: u16, order: CompletionOrder) -> usize {
        let mut chains: Vec<Chain> = self.queue_mut(index).pending.drain(..).collect();
        order.arrange(&mut chains);
        let count = chains.len();
        for chain in chains {
            self.complete_chain(index, chain);
        }
        count
    }

    pub(crate) fn complete_chain(&mut self, index: u16, chain: Chain) {
        let request = self.gather(&chain.readable);
        let mut reply = self.gather(&chain.writable);
        let written = self.model.serve(index, &request, &mut reply);
        assert!(written as usize <= reply.len(), "sim: model claims {written} bytes written of {}", reply.len());
        for (&(bus, _), bytes) in chain.writable.iter().zip(chunks(&reply, &chain.writable)) {
            self.platform.write(bus, bytes);
        }

        let (platform, misbehaviour, event_idx) = (self.platform, self.misbehaviour, self.event_idx());
        let size = self.queue_mut(index).enabled.map_or(0, |(size, _)| size);
        let (id, len) = match misbehaviour {
            Some(Misbehaviour::UsedIdOutOfRange) => (u32::from(size) + OUT_OF_RANGE_BY, written),
            Some(Misbehaviour::UsedIdNotHead) => (chain.tail.into(), written),
            Some(Misbehaviour::UsedLenTooLong) => (chain.head.into(), chain.writable_bytes() + 1),
            _ => self.model.used_element(index, chain.head.into(), written),
        };
        let queue = self.queue_mut(index);
        queue.push_used(platform, id, len);
        match misbehaviour {
            Some(Misbehaviour::DuplicateCompletion) => queue.push_used(platform, id, len),
            Some(Misbehaviour::UsedIndexJump) => queue.advance_used(platform, size + 1),
            _ => {}
        }
        if queue.interrupt_due(platform, event_idx) {
            self.interrupt_status |= INTERRUPT_USED_BUFFER;
        }
    }

    /// The bytes of `buffers`, concatenated.
    fn gather(&self, buffers: &[(u64, u32)]) -> Vec<u8> {
        let mut bytes = alloc::vec![0; buffers.iter().map(|&(_, len)| len as usize).sum()];
        for (&(bus, _), chunk) in buffers.iter().zip(chunks_mut(&mut bytes, buffers)) {
            self.platform.read(bus, chunk);
        }
        bytes
    }

    pub(crate) fn config_generation(&mut self) -> Option<u32> {
        if self.is_legacy() {
            return None;
        }
        if self.misbehaviour == Some(Misbehaviour::UnstableConfigGeneration) {
            self.generation = self.generation.wrapping_add(1);
        }
        Some(self.generation)
    }

    /// A device-side config change: new contents, new generation, config interrupt.
    pub(crate) fn change_config(&mut self, offset: usize, bytes: &[u8]) {
        self.config[offset..offset + bytes.len()].copy_from_slice(bytes);
        self.generation = self.generation.wrapping_add(1);
        self.interrupt_status |= INTERRUPT_CONFIG_CHANGE;
    }

    /// Reads the interrupt causes and acknowledges them, as the driver's handler does.
    pub(crate) fn take_interrupt_status(&mut self) -> u32 {
        core::mem::take(&mut self.interrupt_status)
    }

    pub(crate) fn queue_mut(&mut self, index: u16) -> &mut DeviceQueue {
        let count = self.queues.len();
        self.queues.get_mut(usize::from(index)).unwrap_or_else(|| panic!("sim: queue {index} of a device with {count}"))
    }
}

/// `bytes` split at the lengths of `buffers`.
fn chunks<'a>(bytes: &'a [u8], buffers: &'a [(u64, u32)]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = bytes;
    buffers.iter().map(move |&(_, len)| {
        let (chunk, tail) = rest.split_at(len as usize);
        rest = tail;
        chunk
    })
}

fn chunks_mut<'a>(bytes: &'a mut [u8], buffers: &'a [(u64, u32)]) -> impl Iterator<Item = &'a mut [u8]> {
    let mut rest = bytes;
    buffers.iter().map(move |&(_, len)| {
        let (chunk, tail) = core::mem::take(&mut rest).split_at_mut(len as usize);
        rest = tail;
        chunk
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_permutations() {
        let mut items: Vec<u32> = (0..32).collect();
        CompletionOrder::Shuffled(7).arrange(&mut items);
        assert_ne!(items, (0..32).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..32).collect::<Vec<_>>());
    }
}
