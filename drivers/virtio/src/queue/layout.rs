//! Where the parts of a split virtqueue lie in its single DMA allocation (virtio 1.2, 2.7).
//!
//! Descriptor table, available ring, used ring, in that order. Legacy devices are only told
//! where the descriptor table is and compute the rest themselves (spec 2.7.2, legacy
//! interfaces): the available ring follows the table, the used ring starts at the next 4096-byte
//! boundary. Modern devices are told all three addresses, so the used ring only needs its own
//! 4-byte alignment.

use crate::QueueAddresses;

const DESCRIPTOR_SIZE: usize = 16;
/// The legacy interface's queue alignment (and the page size the driver reports).
pub(crate) const LEGACY_ALIGN: usize = 4096;
/// The descriptor table's alignment in a modern queue.
const MODERN_ALIGN: usize = 16;
/// flags and idx, before the ring entries of both rings.
const RING_HEADER: usize = 4;
/// used_event / avail_event after the ring entries; present even without EVENT_IDX.
const RING_TRAILER: usize = 2;
const AVAIL_ENTRY: usize = 2;
const USED_ENTRY: usize = 8;

#[derive(Clone, Copy, Debug)]
pub(crate) struct RingLayout {
    /// Queue size minus one: ring indices are free-running u16s reduced by this mask.
    index_mask: u16,
    avail: usize,
    used: usize,
    total: usize,
    align: usize,
}

impl RingLayout {
    /// The layout for a queue of `size` entries, a power of two.
    pub(crate) fn new(size: u16, legacy: bool) -> Self {
        debug_assert!(size.is_power_of_two());
        let entries = usize::from(size);
        let avail = DESCRIPTOR_SIZE * entries;
        let avail_end = avail + RING_HEADER + AVAIL_ENTRY * entries + RING_TRAILER;
        let (used, align) = if legacy {
            (avail_end.next_multiple_of(LEGACY_ALIGN), LEGACY_ALIGN)
        } else {
            (avail_end.next_multiple_of(4), MODERN_ALIGN)
        };
        let total = used + RING_HEADER + USED_ENTRY * entries + RING_TRAILER;
        RingLayout { index_mask: size - 1, avail, used, total, align }
    }

    /// Bytes to allocate, and their alignment.
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    pub(crate) fn align(&self) -> usize {
        self.align
    }

    /// The three addresses to give the device when the allocation starts at `phys`.
    pub(crate) fn addresses(&self, phys: u64) -> QueueAddresses {
        // Offsets are below 1 MiB (32768 entries), so they fit any address arithmetic.
        QueueAddresses { desc: phys, driver: phys + self.avail as u64, device: phys + self.used as u64 }
    }

    /// Descriptor `id`, which is below the queue size.
    pub(crate) fn descriptor(&self, id: u16) -> usize {
        DESCRIPTOR_SIZE * usize::from(id)
    }

    pub(crate) fn avail_idx(&self) -> usize {
        self.avail + 2
    }

    /// The available ring entry that free-running index `ring_index` lands on.
    pub(crate) fn avail_entry(&self, ring_index: u16) -> usize {
        self.avail + RING_HEADER + AVAIL_ENTRY * usize::from(ring_index & self.index_mask)
    }

    /// The avail ring's trailer: the used index the driver wants an interrupt after (EVENT_IDX).
    pub(crate) fn used_event(&self) -> usize {
        self.avail_entry(self.index_mask) + AVAIL_ENTRY
    }

    pub(crate) fn used_flags(&self) -> usize {
        self.used
    }

    pub(crate) fn used_idx(&self) -> usize {
        self.used + 2
    }

    /// The used ring element (id u32, then len u32) that `ring_index` lands on.
    pub(crate) fn used_entry(&self, ring_index: u16) -> usize {
        self.used + RING_HEADER + USED_ENTRY * usize::from(ring_index & self.index_mask)
    }

    /// The used ring's trailer: the available index the device wants a notification after
    /// (EVENT_IDX).
    pub(crate) fn avail_event(&self) -> usize {
        self.used_entry(self.index_mask) + USED_ENTRY
    }
}

/// Where a legacy device looks for the rings of a `size`-entry queue whose descriptor table is
/// at `desc`: the device's own computation from the page frame number (spec 2.7.2 legacy).
pub(crate) fn legacy_addresses(desc: u64, size: u16) -> QueueAddresses {
    let entries = u64::from(size);
    let driver = desc + DESCRIPTOR_SIZE as u64 * entries;
    let avail_bytes = (RING_HEADER + RING_TRAILER) as u64 + AVAIL_ENTRY as u64 * entries;
    QueueAddresses { desc, driver, device: (driver + avail_bytes).next_multiple_of(LEGACY_ALIGN as u64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_layout_matches_the_specs_formula() {
        // QEMU's legacy virtio-blk queue: 256 entries, used ring on the page after 4096 + 518.
        let layout = RingLayout::new(256, true);
        assert_eq!(layout.addresses(0x4000_0000), QueueAddresses { desc: 0x4000_0000, driver: 0x4000_1000, device: 0x4000_2000 });
        assert_eq!(layout.total(), 0x2000 + 4 + 8 * 256 + 2);
        assert_eq!(layout.align(), 4096);
        assert_eq!((layout.used_event(), layout.avail_event()), (0x1000 + 4 + 512, 0x2000 + 4 + 2048), "where the device looks");
        // Small queues: everything before the used ring fits one page.
        assert_eq!(RingLayout::new(8, true).addresses(0).device, 0x1000);
        for size in (0..16).map(|bit| 1u16 << bit) {
            let phys = 0x8000_0000;
            assert_eq!(RingLayout::new(size, true).addresses(phys), legacy_addresses(phys, size), "size {size}");
        }
    }

    #[test]
    fn modern_layout_is_packed_with_natural_alignment() {
        let layout = RingLayout::new(8, false);
        // 8 descriptors (128 bytes), avail 4 + 16 + 2 = 22 bytes -> 150, used aligned to 152.
        assert_eq!(layout.addresses(0x1000), QueueAddresses { desc: 0x1000, driver: 0x1080, device: 0x1098 });
        assert_eq!(layout.total(), 152 + 4 + 64 + 2);
        assert_eq!(layout.avail_entry(9), 128 + 4 + 2, "indices wrap at the queue size");
        assert_eq!(layout.used_entry(7), 152 + 4 + 56);
        assert_eq!((layout.used_event(), layout.avail_event()), (128 + 20, 152 + 68), "trailers end each ring");
        assert_eq!(layout.avail_event() + 2, layout.total());
    }
}
