//! [`GicMemory`]: memory the GIC reads and writes by itself (the ITS's tables and command queue,
//! the LPI configuration and pending tables), the only place this crate dereferences a DMA
//! buffer's pointer.
//!
//! Offsets come from the driver's own layouts, never from values the hardware reports, so an
//! out-of-bounds or misaligned one is a bug in the driver and panics, like slice indexing; the
//! check is what keeps the accessors safe.

use core::sync::atomic::AtomicU8;

use registry::{DmaBuffer, Platform, PlatformError};

use crate::cache::clean_to_poc;
use crate::GicError;

/// The most alignment `Platform::dma_alloc` promises.
const DMA_ALIGN: usize = 4096;
/// The GIC's table address fields are narrowest in GITS_BASER (bits 47:12 with 4 KiB pages).
const ADDRESS_LIMIT: u64 = 1 << 48;

pub(crate) struct GicMemory {
    buffer: DmaBuffer,
    /// Where the aligned part the GIC is given starts in `buffer` (see [`GicMemory::new`]).
    start: usize,
    len: usize,
}

// SAFETY: through `&self` the memory is only reached by volatile accesses and atomics on whole
// scalars, none of which hands out a reference into it: concurrent users (the thread and an
// interrupt handler, or the GIC itself) can only race on which value lands, as on a register.
unsafe impl Sync for GicMemory {}

impl GicMemory {
    /// `len` zeroed bytes at a physical address aligned to `align` (a power of two), cleaned
    /// to memory, below the addresses the GIC's tables can point to.
    pub(crate) fn new(platform: &'static dyn Platform, len: usize, align: usize) -> Result<Self, GicError> {
        // `Platform::dma_alloc` promises alignment up to 4096 only. A larger one (the LPI
        // pending table's 64 KiB) is had by allocating `align - 4096` bytes more and starting
        // at the first aligned address inside: up to 60 KiB wasted, once per GIC.
        let slack = align.saturating_sub(DMA_ALIGN);
        let buffer = DmaBuffer::new(platform, len + slack, align.min(DMA_ALIGN)).map_err(GicError::Dma)?;
        let start = (buffer.phys().next_multiple_of(align as u64) - buffer.phys()) as usize;
        if start + len > buffer.len() {
            return Err(GicError::Dma(PlatformError::Unsupported("DMA memory with the 4096-byte alignment asked for")));
        }
        if buffer.phys() + (start + len) as u64 > ADDRESS_LIMIT {
            return Err(GicError::Dma(PlatformError::Unsupported("DMA memory below 2^48, where the GIC's tables can be")));
        }
        let memory = GicMemory { buffer, start, len };
        // Zeroed through the cache: a non-coherent GIC must find the zeros in memory too.
        memory.clean(0, len);
        Ok(memory)
    }

    /// The address the GIC is given.
    pub(crate) fn phys(&self) -> u64 {
        self.buffer.phys() + self.start as u64
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A volatile write (the GIC may read the location concurrently); [`clean`](Self::clean)
    /// before telling the GIC.
    pub(crate) fn write_u64(&self, offset: usize, value: u64) {
        let ptr = self.checked::<u64>(offset, 8);
        // SAFETY: `checked` proved the aligned u64 lies inside the buffer, which lives as long
        // as `self`; no Rust reference covers the buffer, so writing through `&self` aliases
        // nothing.
        unsafe { ptr.write_volatile(value) }
    }

    /// A volatile read.
    pub(crate) fn read_u64(&self, offset: usize) -> u64 {
        let ptr = self.checked::<u64>(offset, 8);
        // SAFETY: as in `write_u64`; any bit pattern is a valid u64.
        unsafe { ptr.read_volatile() }
    }

    /// The byte at `offset`, for atomic updates (an LPI's configuration, which the thread and
    /// interrupt handlers both change).
    pub(crate) fn byte(&self, offset: usize) -> &AtomicU8 {
        let ptr = self.checked::<u8>(offset, 1);
        // SAFETY: the byte lies inside the buffer, which outlives the returned reference (tied
        // to `&self`); the CPU reaches this memory only through this atomic view or volatile
        // accesses, never through a plain reference.
        unsafe { AtomicU8::from_ptr(ptr) }
    }

    /// Cleans `offset..offset + len` to memory for a GIC that does not snoop the CPU's caches,
    /// and orders every earlier write before later register writes (see `cache`).
    pub(crate) fn clean(&self, offset: usize, len: usize) {
        clean_to_poc(self.checked::<u8>(offset, len), len);
    }

    /// The pointer to `len` bytes at `offset`, checked to lie inside the memory and be aligned
    /// for `T`.
    fn checked<T>(&self, offset: usize, len: usize) -> *mut T {
        let in_bounds = offset.checked_add(len).is_some_and(|end| end <= self.len);
        assert!(in_bounds, "GIC memory access at {offset:#x}+{len:#x} outside {:#x} bytes", self.len);
        // SAFETY: start + offset + len <= start + self.len <= the buffer's length, checked above
        // and in `new`, so the pointer stays inside the allocation.
        let ptr = unsafe { self.buffer.as_ptr().as_ptr().add(self.start + offset) };
        assert!(ptr.cast::<T>().is_aligned(), "GIC memory access at {offset:#x} misaligned for its width");
        ptr.cast()
    }
}
