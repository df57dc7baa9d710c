//! The device side of a split virtqueue: fetching chains from the available ring and writing
//! the used ring, straight from the spec's structures in (simulated) DMA memory.
//!
//! Anything the driver got wrong (a malformed chain, an index running away) panics with the
//! reason: the simulator exists to catch driver bugs.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::{fence, Ordering};

use super::platform::SimPlatform;
use crate::queue::need_event;
use crate::QueueAddresses;

const DESC_F_NEXT: u16 = 1;
const DESC_F_WRITE: u16 = 2;
const DESC_F_INDIRECT: u16 = 4;

/// A chain the device took from the available ring, as (bus address, length) buffers.
#[derive(Debug)]
pub(crate) struct Chain {
    pub(crate) head: u16,
    /// The last descriptor of the chain.
    pub(crate) tail: u16,
    pub(crate) readable: Vec<(u64, u32)>,
    pub(crate) writable: Vec<(u64, u32)>,
}

impl Chain {
    pub(crate) fn writable_bytes(&self) -> u32 {
        self.writable.iter().map(|&(_, len)| len).sum()
    }
}

/// One queue as the device sees it.
pub(crate) struct DeviceQueue {
    pub(crate) max_size: u16,
    /// Size and ring addresses, once the driver enabled the queue.
    pub(crate) enabled: Option<(u16, QueueAddresses)>,
    last_avail: u16,
    used_idx: u16,
    /// The used index when the device last decided whether to interrupt.
    signalled_used: u16,
    /// Chains fetched and not completed yet.
    pub(crate) pending: VecDeque<Chain>,
    pub(crate) notifications: usize,
    /// Used-buffer interrupts raised.
    pub(crate) interrupts: usize,
}

impl DeviceQueue {
    pub(crate) fn new(max_size: u16) -> Self {
        DeviceQueue {
            max_size,
            enabled: None,
            last_avail: 0,
            used_idx: 0,
            signalled_used: 0,
            pending: VecDeque::new(),
            notifications: 0,
            interrupts: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = DeviceQueue::new(self.max_size);
    }

    fn rings(&self) -> (u16, QueueAddresses) {
        self.enabled.expect("sim: queue used before the driver enabled it (driver bug)")
    }

    /// Takes every chain the driver made available since the last call into `pending`.
    pub(crate) fn fetch_available(&mut self, memory: &SimPlatform) {
        let (size, rings) = self.rings();
        let avail_idx = memory.read_u16(rings.driver + 2);
        let new = avail_idx.wrapping_sub(self.last_avail);
        assert!(new <= size, "sim: available index moved by {new} in a queue of {size} (driver bug)");
        // The ring entries are only valid once their index has been seen.
        fence(Ordering::Acquire);
        for _ in 0..new {
            let slot = u64::from(self.last_avail % size);
            let head = memory.read_u16(rings.driver + 4 + 2 * slot);
            let chain = read_chain(memory, rings.desc, size, head);
            self.pending.push_back(chain);
            self.last_avail = self.last_avail.wrapping_add(1);
        }
    }

    /// Writes one used element, then publishes it.
    pub(crate) fn push_used(&mut self, memory: &SimPlatform, id: u32, len: u32) {
        let (size, rings) = self.rings();
        let element = rings.device + 4 + 8 * u64::from(self.used_idx % size);
        let mut bytes = [0; 8];
        bytes[..4].copy_from_slice(&id.to_le_bytes());
        bytes[4..].copy_from_slice(&len.to_le_bytes());
        memory.write(element, &bytes);
        self.advance_used(memory, 1);
    }

    /// Moves the used index by `count` (more than one without elements only when misbehaving).
    pub(crate) fn advance_used(&mut self, memory: &SimPlatform, count: u16) {
        let (_, rings) = self.rings();
        fence(Ordering::Release);
        self.used_idx = self.used_idx.wrapping_add(count);
        memory.write(rings.device + 2, &self.used_idx.to_le_bytes());
    }

    /// Whether the buffers used since the last call earn the driver an interrupt (counted):
    /// always without EVENT_IDX (the core never sets VIRTQ_AVAIL_F_NO_INTERRUPT), else only
    /// when the used index passed the driver's used_event (spec 2.7.10).
    pub(crate) fn interrupt_due(&mut self, memory: &SimPlatform, event_idx: bool) -> bool {
        let (size, rings) = self.rings();
        let old = core::mem::replace(&mut self.signalled_used, self.used_idx);
        // The new used index must be visible before used_event is read: the driver's mirror.
        fence(Ordering::SeqCst);
        let used_event = memory.read_u16(rings.driver + 4 + 2 * u64::from(size));
        let due = !event_idx || need_event(used_event, self.used_idx, old);
        self.interrupts += usize::from(due);
        due
    }

    /// Writes avail_event (EVENT_IDX): the driver notifies once its available index passes it.
    pub(crate) fn set_avail_event(&self, memory: &SimPlatform, avail_event: u16) {
        let (size, rings) = self.rings();
        memory.write(rings.device + 4 + 8 * u64::from(size), &avail_event.to_le_bytes());
    }

    /// Asks for a notification at the next chain made available (EVENT_IDX), as an idle device
    /// does once it has fetched everything.
    pub(crate) fn request_notification(&self, memory: &SimPlatform) {
        self.set_avail_event(memory, self.last_avail);
    }

    pub(crate) fn set_used_flags(&self, memory: &SimPlatform, flags: u16) {
        let (_, rings) = self.rings();
        memory.write(rings.device, &flags.to_le_bytes());
    }
}

/// Follows the descriptor chain from `head`, checking it as a strict device would.
fn read_chain(memory: &SimPlatform, desc_table: u64, size: u16, head: u16) -> Chain {
    let mut chain = Chain { head, tail: head, readable: Vec::new(), writable: Vec::new() };
    let mut id = head;
    for _ in 0..size {
        assert!(id < size, "sim: descriptor {id} beyond queue size {size} (driver bug)");
        let desc = desc_table + 16 * u64::from(id);
        let (addr, len) = (memory.read_u64(desc), memory.read_u32(desc + 8));
        let (flags, next) = (memory.read_u16(desc + 12), memory.read_u16(desc + 14));
        assert!(flags & DESC_F_INDIRECT == 0, "sim: indirect descriptor, which was not negotiated (driver bug)");
        if flags & DESC_F_WRITE != 0 {
            chain.writable.push((addr, len));
        } else {
            assert!(chain.writable.is_empty(), "sim: readable descriptor {id} after a writable one (driver bug)");
            chain.readable.push((addr, len));
        }
        chain.tail = id;
        if flags & DESC_F_NEXT == 0 {
            return chain;
        }
        id = next;
    }
    panic!("sim: chain from descriptor {head} is longer than the queue (a loop; driver bug)");
}
