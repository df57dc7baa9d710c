//! The split virtqueue (virtio 1.2, section 2.7), driver side.
//!
//! # Memory ordering and cache maintenance
//! The device reads the descriptors and available ring and writes the used ring while the CPU
//! runs, so ring memory is only touched with volatile accesses ([`DmaAccess`]), and:
//! - every buffer of a chain is synced for the device
//!   ([`Platform::dma_sync_for_device`]) when it is added, after the caller's last write;
//! - descriptors and the available ring entry are written and synced, then a write barrier
//!   (`dma_wmb`), and only then the available index that publishes them is written and synced
//!   (spec 2.7.13);
//! - a full barrier (`dma_mb`) separates publishing the index from reading the device's
//!   NO_NOTIFY flag (or avail_event) and from the notify register write (a store followed by a
//!   load needs a full barrier), and likewise writing used_event from re-reading the used
//!   index; the doorbell write has an `io_wmb` right before it, as in Linux's `writel`;
//! - the used index is synced for the CPU and read first, then a read barrier (`dma_rmb`),
//!   then the used element it covers is synced and read, and then the device-writable buffers
//!   of its chain are synced for the CPU ([`Platform::dma_sync_for_cpu`]) before the caller
//!   reads them. The buffers synced are the queue's private record of the chain, never what
//!   the device wrote.
//!
//! The barriers are [`registry::barrier`]'s: outer shareable on aarch64 (`dmb oshst`,
//! `dmb oshld`, `dmb osh`, the ones Linux's virtio ring uses for a device that is not a
//! hypervisor's), compiler barriers on x86-64 (plus `mfence` for the full one). The sync
//! hooks are no-ops on a platform whose DMA is coherent (QEMU's), and clean or invalidate
//! caches on one whose is not.
//!
//! # Notification suppression
//! With VIRTIO_F_EVENT_IDX negotiated (the core takes it whenever offered), the driver notifies
//! only when its new available index passes the device's avail_event, and asks for an interrupt
//! only at the next used buffer after the ones it has consumed: [`VirtQueue::pop_used`], on
//! finding the ring empty, sets used_event to the last used index it consumed and looks again,
//! so a buffer used before the device saw the request is found now rather than lost. Between
//! an interrupt and the next empty ring, the device completes without interrupting.

mod chains;
mod event_idx;
mod layout;

use alloc::vec;
use alloc::vec::Vec;

use registry::barrier::{dma_mb, dma_rmb, dma_wmb, io_wmb};
use registry::wait::TimedOut;
use registry::{DmaBuffer, DmaDirection, Platform};

use crate::dma::DmaAccess;
use crate::features::RING_EVENT_IDX;
use crate::{fail_device, Interrupt, Negotiated, Transport, VirtioError};
use chains::Chains;
pub(crate) use event_idx::need_event;
pub(crate) use layout::{legacy_addresses, LEGACY_ALIGN};
use layout::RingLayout;

/// The largest split virtqueue (spec 2.7: queue sizes are powers of two up to 32768).
pub const MAX_QUEUE_SIZE: u16 = 32768;

const DESC_F_NEXT: u16 = 1;
const DESC_F_WRITE: u16 = 2;
const USED_F_NO_NOTIFY: u16 = 1;

/// One buffer of a descriptor chain, at a bus address the device can reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer {
    pub phys: u64,
    pub len: u32,
    /// True when the device writes the buffer (a response), false when it reads it (a request).
    pub device_writable: bool,
}

impl Buffer {
    /// A buffer the device reads.
    pub fn readable(phys: u64, len: u32) -> Self {
        Buffer { phys, len, device_writable: false }
    }

    /// A buffer the device writes.
    pub fn writable(phys: u64, len: u32) -> Self {
        Buffer { phys, len, device_writable: true }
    }

    fn direction(&self) -> DmaDirection {
        if self.device_writable { DmaDirection::FromDevice } else { DmaDirection::ToDevice }
    }
}

/// A chain the device has finished with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Used {
    /// The token [`VirtQueue::add`] returned for the chain.
    pub token: u16,
    /// How many bytes the device wrote into the chain's writable buffers (checked against them).
    pub len: u32,
}

/// A split virtqueue: its ring memory, set up with the device, and the chains in flight.
///
/// Dropping it frees the ring memory: reset the device first, so it stops using the rings.
pub struct VirtQueue {
    index: u16,
    size: u16,
    layout: RingLayout,
    ring: DmaBuffer,
    /// Where the cache maintenance of every hand-off goes.
    platform: &'static dyn Platform,
    chains: Chains,
    /// What each descriptor was last given, indexed by descriptor: the private record the
    /// buffers of a finished chain are synced for the CPU from.
    buffers: Vec<Buffer>,
    /// The available index published to the device (free-running).
    avail_idx: u16,
    /// The available index when the device was last notified (or the notify skipped).
    notified_avail_idx: u16,
    /// The next used ring entry to consume (free-running).
    last_used_idx: u16,
    /// VIRTIO_F_EVENT_IDX was negotiated: used_event and avail_event replace the ring flags.
    event_idx: bool,
    /// The used_event last written (the zeroed ring starts with 0).
    used_event: u16,
    /// The first device error seen: the queue refuses all further work with it.
    broken: Option<VirtioError>,
}

impl VirtQueue {
    /// Allocates queue `index` with up to `wanted_size` entries (fewer if the device allows
    /// fewer, rounded down to a power of two; the device's own size where the transport fixes
    /// it, see [`Transport::queue_size_fixed`]) and gives it to the device; `negotiated` (from
    /// [`init_device`](crate::init_device)) says how notifications are suppressed.
    pub fn new(
        transport: &mut dyn Transport,
        platform: &'static dyn Platform,
        negotiated: &Negotiated,
        index: u16,
        wanted_size: u16,
    ) -> Result<Self, VirtioError> {
        let device_max = transport.max_queue_size(index)?;
        let wanted_size = if transport.queue_size_fixed() { device_max } else { wanted_size };
        let size = queue_size(index, wanted_size, device_max)?;
        let layout = RingLayout::new(size, transport.is_legacy());
        // The platform hands out zeroed memory: both rings start empty with no flags set.
        let ring = DmaBuffer::new(platform, layout.total(), layout.align()).map_err(VirtioError::Dma)?;
        transport.set_queue(index, size, layout.addresses(ring.phys()))?;
        Ok(VirtQueue {
            index,
            size,
            layout,
            ring,
            platform,
            chains: Chains::new(size),
            buffers: vec![Buffer::readable(0, 0); usize::from(size)],
            avail_idx: 0,
            notified_avail_idx: 0,
            last_used_idx: 0,
            event_idx: negotiated.has(RING_EVENT_IDX),
            used_event: 0,
            broken: None,
        })
    }

    /// The number of entries, a power of two.
    pub fn size(&self) -> u16 {
        self.size
    }

    pub fn free_descriptors(&self) -> u16 {
        self.chains.free()
    }

    /// Chains added and not yet returned by [`pop_used`](Self::pop_used).
    pub fn in_flight(&self) -> u16 {
        self.chains.in_flight_count()
    }

    /// Makes `buffers` (device-readable ones first) available to the device as one chain and
    /// returns its token: the chain's head descriptor, below the queue size and unique among the
    /// chains in flight, so a driver can index its per-request state with it. The device learns
    /// about it at the next [`notify`](Self::notify).
    pub fn add(&mut self, buffers: &[Buffer]) -> Result<u16, VirtioError> {
        self.check_working()?;
        let writable_bytes = writable_capacity(buffers, self.size)?;
        let count = buffers.len() as u16; // at most the queue size, checked above
        let head = self
            .chains
            .allocate(count, writable_bytes)
            .ok_or(VirtioError::QueueFull { needed: buffers.len(), free: self.chains.free() })?;
        let mut id = head;
        for (position, buffer) in buffers.iter().enumerate() {
            self.platform.dma_sync_for_device(buffer.phys, buffer.len as usize, buffer.direction());
            let next = self.chains.link(id);
            let more = position + 1 < buffers.len();
            self.write_descriptor(id, buffer, more.then_some(next));
            self.buffers[usize::from(id)] = *buffer;
            id = next;
        }
        let entry = self.layout.avail_entry(self.avail_idx);
        self.ring.write_volatile(entry, head);
        self.sync_ring_for_device(entry, 2);
        // The device may act on the new index at once: the chain must be visible before it.
        dma_wmb();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.ring.write_volatile(self.layout.avail_idx(), self.avail_idx);
        self.sync_ring_for_device(self.layout.avail_idx(), 2);
        Ok(head)
    }

    /// Syncs `len` bytes of the ring the CPU wrote at `offset` for the device.
    fn sync_ring_for_device(&self, offset: usize, len: usize) {
        self.platform.dma_sync_for_device(self.ring.phys() + offset as u64, len, DmaDirection::ToDevice);
    }

    /// Syncs `len` bytes of the ring the device writes at `offset` for the CPU, before reading.
    fn sync_ring_for_cpu(&self, offset: usize, len: usize) {
        self.platform.dma_sync_for_cpu(self.ring.phys() + offset as u64, len, DmaDirection::FromDevice);
    }

    fn write_descriptor(&self, id: u16, buffer: &Buffer, next: Option<u16>) {
        let at = self.layout.descriptor(id);
        let mut flags = if buffer.device_writable { DESC_F_WRITE } else { 0 };
        if next.is_some() {
            flags |= DESC_F_NEXT;
        }
        self.ring.write_volatile(at, buffer.phys);
        self.ring.write_volatile(at + 8, buffer.len);
        self.ring.write_volatile(at + 12, flags);
        self.ring.write_volatile(at + 14, next.unwrap_or(0));
        self.sync_ring_for_device(at, 16);
    }

    /// Notifies the device of the chains added since the last call, unless there is nothing new
    /// or the device asked not to be notified: with EVENT_IDX, when the chains added do not pass
    /// its avail_event; without, when it set VIRTQ_USED_F_NO_NOTIFY (it is polling).
    ///
    /// Any avail_event is safe: a device that asks for too few notifications only delays its
    /// own work, which the driver's bounded waits turn into a timeout.
    pub fn notify(&mut self, transport: &dyn Transport) -> Result<(), VirtioError> {
        if self.avail_idx == self.notified_avail_idx {
            return Ok(());
        }
        let old = core::mem::replace(&mut self.notified_avail_idx, self.avail_idx);
        // The published index must be visible before the device's request is read (else both
        // sides may decide the other will act) and before the doorbell write.
        dma_mb();
        let wanted = if self.event_idx {
            self.sync_ring_for_cpu(self.layout.avail_event(), 2);
            need_event(self.ring.read_volatile(self.layout.avail_event()), self.avail_idx, old)
        } else {
            self.sync_ring_for_cpu(self.layout.used_flags(), 2);
            self.ring.read_volatile::<u16>(self.layout.used_flags()) & USED_F_NO_NOTIFY == 0
        };
        if !wanted {
            return Ok(());
        }
        // Linux's `writel` barrier: every write to the rings and buffers reaches the device
        // before the doorbell (already implied by `dma_mb` above; kept so that the doorbell's
        // ordering does not rest on the suppression check).
        io_wmb();
        transport.queue_notify(self.index)
    }

    /// The next chain the device has finished with, or `None` if there is none yet.
    ///
    /// Everything the device wrote is checked: the used index may not run ahead of the chains
    /// in flight, the id must be the head of one of them, the length must fit its writable
    /// buffers. A violation is returned as an error, now and on every later call (the queue is
    /// broken; the driver should [`fail_device`] and reset), and no descriptor is freed by it.
    ///
    /// `None` also asks the device (with EVENT_IDX) to interrupt at its next used buffer: call
    /// this until `None` before sleeping on the interrupt.
    pub fn pop_used(&mut self) -> Option<Result<Used, VirtioError>> {
        if let Err(error) = self.check_working() {
            return Some(Err(error));
        }
        self.sync_ring_for_cpu(self.layout.used_idx(), 2);
        let mut used_idx: u16 = self.ring.read_volatile(self.layout.used_idx());
        if used_idx == self.last_used_idx && self.event_idx && self.used_event != self.last_used_idx {
            used_idx = self.request_interrupt();
        }
        let moved = used_idx.wrapping_sub(self.last_used_idx);
        if moved == 0 {
            return None;
        }
        let used = self.take_used(moved);
        if let Err(error) = &used {
            self.broken = Some(error.clone());
        }
        Some(used)
    }

    /// Sets used_event to the last used index consumed, so the device interrupts when it uses
    /// the next buffer, and returns the used index read after that: a buffer used before the
    /// device could see the new used_event brings no interrupt, so it must be found here.
    fn request_interrupt(&mut self) -> u16 {
        self.used_event = self.last_used_idx;
        self.ring.write_volatile(self.layout.used_event(), self.used_event);
        self.sync_ring_for_device(self.layout.used_event(), 2);
        // The device must see used_event before the used index is read again (a store then a
        // load), or a buffer it uses in between is neither seen nor interrupted for.
        dma_mb();
        self.sync_ring_for_cpu(self.layout.used_idx(), 2);
        self.ring.read_volatile(self.layout.used_idx())
    }

    fn take_used(&mut self, moved: u16) -> Result<Used, VirtioError> {
        let in_flight = self.chains.in_flight_count();
        if moved > in_flight {
            return Err(VirtioError::UsedIndexAhead { moved, in_flight, size: self.size });
        }
        // The element is only valid once the index covering it has been seen.
        dma_rmb();
        let entry = self.layout.used_entry(self.last_used_idx);
        self.sync_ring_for_cpu(entry, 8);
        let id: u32 = self.ring.read_volatile(entry);
        let len: u32 = self.ring.read_volatile(entry + 4);
        let head = u16::try_from(id)
            .ok()
            .filter(|&head| head < self.size)
            .ok_or(VirtioError::UsedIdOutOfRange { id, size: self.size })?;
        let chain = self.chains.in_flight(head).ok_or(VirtioError::UsedIdNotInFlight { id: head })?;
        if len > chain.writable_bytes {
            return Err(VirtioError::UsedLenTooLong { id: head, len, capacity: chain.writable_bytes });
        }
        // What the device wrote into the chain becomes the caller's to read.
        let mut id = head;
        for _ in 0..chain.descriptors {
            let buffer = self.buffers[usize::from(id)];
            if buffer.device_writable {
                self.platform.dma_sync_for_cpu(buffer.phys, buffer.len as usize, DmaDirection::FromDevice);
            }
            id = self.chains.link(id);
        }
        self.chains.release(head);
        self.last_used_idx = self.last_used_idx.wrapping_add(1);
        Ok(Used { token: head, len })
    }

    /// Waits, through the device's `interrupt` (sleeping between interrupts, or polling without
    /// one), until [`pop_used`](Self::pop_used) returns a chain or `timeout_ns` passes. A
    /// device error marks the device FAILED. A timeout leaves the chains in flight: the device
    /// may still use their buffers, so reset it before reusing them.
    ///
    /// The blocking form, for probes and simple drivers; drivers with many requests in flight
    /// collect them with `pop_used` inside their own [`Interrupt::wait`].
    pub fn wait_used(
        &mut self,
        transport: &mut dyn Transport,
        platform: &dyn Platform,
        timeout_ns: u64,
        interrupt: &Interrupt,
    ) -> Result<Used, VirtioError> {
        const WHAT: &str = "the device to use a buffer";
        let mut outcome = None;
        let waited = interrupt.wait(platform, timeout_ns, WHAT, || {
            outcome = self.pop_used();
            outcome.is_some()
        });
        match outcome {
            Some(Ok(used)) => Ok(used),
            Some(Err(error)) => {
                fail_device(transport);
                Err(error)
            }
            // A wait only ends without an outcome once the deadline has passed.
            None => Err(VirtioError::TimedOut(waited.err().unwrap_or(TimedOut { what: WHAT, after_ns: timeout_ns }))),
        }
    }

    fn check_working(&self) -> Result<(), VirtioError> {
        self.broken.clone().map_or(Ok(()), Err)
    }
}

/// The queue size to use: the largest power of two within what the driver wants, what the
/// device allows, and the spec's maximum.
fn queue_size(index: u16, wanted: u16, device_max: u16) -> Result<u16, VirtioError> {
    if device_max == 0 {
        return Err(VirtioError::QueueNotAvailable(index));
    }
    if wanted == 0 {
        return Err(VirtioError::ZeroQueueSize(index));
    }
    let limit = wanted.min(device_max).min(MAX_QUEUE_SIZE);
    Ok(1 << limit.ilog2())
}

/// Checks a chain's shape and returns the total size of its device-writable buffers.
fn writable_capacity(buffers: &[Buffer], size: u16) -> Result<u32, VirtioError> {
    if buffers.is_empty() {
        return Err(VirtioError::EmptyChain);
    }
    if buffers.len() > usize::from(size) {
        return Err(VirtioError::ChainTooLong { descriptors: buffers.len(), size });
    }
    let mut capacity = 0u32;
    let mut seen_writable = false;
    for buffer in buffers {
        if buffer.device_writable {
            seen_writable = true;
            capacity = capacity.checked_add(buffer.len).ok_or(VirtioError::ChainTooLarge)?;
        } else if seen_writable {
            return Err(VirtioError::ReadableAfterWritable);
        }
    }
    Ok(capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_size_is_a_power_of_two_within_every_limit() {
        assert_eq!(queue_size(0, 256, 1024), Ok(256));
        assert_eq!(queue_size(0, 256, 100), Ok(64), "device maximum not a power of two");
        assert_eq!(queue_size(0, 1000, 65535), Ok(512));
        assert_eq!(queue_size(0, u16::MAX, u16::MAX), Ok(MAX_QUEUE_SIZE), "huge maximum clamped");
        assert_eq!(queue_size(0, 256, 1), Ok(1));
        assert_eq!(queue_size(3, 256, 0), Err(VirtioError::QueueNotAvailable(3)));
        assert_eq!(queue_size(3, 0, 256), Err(VirtioError::ZeroQueueSize(3)));
    }

    #[test]
    fn chains_must_be_readable_then_writable_and_fit() {
        let (r, w) = (Buffer::readable(0x1000, 16), Buffer::writable(0x2000, 512));
        assert_eq!(writable_capacity(&[r, w, Buffer::writable(0x3000, 1)], 8), Ok(513));
        assert_eq!(writable_capacity(&[r], 8), Ok(0));
        assert_eq!(writable_capacity(&[], 8), Err(VirtioError::EmptyChain));
        assert_eq!(writable_capacity(&[w, r], 8), Err(VirtioError::ReadableAfterWritable));
        assert_eq!(writable_capacity(&[r; 9], 8), Err(VirtioError::ChainTooLong { descriptors: 9, size: 8 }));
        let huge = Buffer::writable(0, u32::MAX);
        assert_eq!(writable_capacity(&[huge, w], 8), Err(VirtioError::ChainTooLarge));
    }
}
