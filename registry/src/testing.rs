//! A host-memory [`Platform`] for tests: "MMIO" windows are plain buffers, DMA memory comes
//! from the global allocator (physical address = host address), and the clock advances by a
//! fixed step on every read so bounded waits end deterministically.

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::device::MmioRegion;
use crate::platform::{DmaRegion, Platform, PlatformError};

/// Nanoseconds the fake clock advances per `now_ns` call.
pub const CLOCK_STEP_NS: u64 = 1_000;

pub struct HostPlatform {
    windows: spin::Mutex<Vec<(u64, usize, usize)>>,
    clock: AtomicU64,
    /// Live DMA allocations: host address and the layout they were allocated with.
    dma: spin::Mutex<Vec<(usize, Layout)>>,
}

impl HostPlatform {
    /// A leaked platform, as `probe_all` wants a `&'static`.
    pub fn leaked() -> &'static HostPlatform {
        Box::leak(Box::new(HostPlatform { windows: spin::Mutex::new(Vec::new()), clock: AtomicU64::new(0), dma: spin::Mutex::new(Vec::new()) }))
    }

    /// Makes `phys..phys+len` map to `memory` (which must outlive the platform's users).
    pub fn add_window(&self, phys: u64, memory: &'static mut [u32]) {
        let len = core::mem::size_of_val(memory);
        self.windows.lock().push((phys, len, memory.as_mut_ptr() as usize));
    }

    /// DMA allocations not yet freed: a leak check for tests.
    pub fn dma_live(&self) -> usize {
        self.dma.lock().len()
    }
}

impl Platform for HostPlatform {
    fn map_mmio(&self, region: MmioRegion) -> Result<NonNull<u8>, PlatformError> {
        let windows = self.windows.lock();
        let (phys, _, host) = windows
            .iter()
            .copied()
            .find(|&(phys, len, _)| region.base >= phys && region.base.saturating_add(region.size) <= phys + len as u64)
            .ok_or(PlatformError::NotMappable(region))?;
        NonNull::new((host + (region.base - phys) as usize) as *mut u8).ok_or(PlatformError::NotMappable(region))
    }

    fn dma_alloc(&self, size: usize, align: usize) -> Result<DmaRegion, PlatformError> {
        let layout = Layout::from_size_align(size.max(1), align).map_err(|_| PlatformError::OutOfMemory { size })?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(PlatformError::OutOfMemory { size })?;
        self.dma.lock().push((ptr.as_ptr() as usize, layout));
        Ok(DmaRegion { virt: ptr, phys: ptr.as_ptr() as u64, size })
    }

    unsafe fn dma_free(&self, region: DmaRegion) {
        let address = region.virt.as_ptr() as usize;
        let mut live = self.dma.lock();
        let Some(position) = live.iter().position(|&(a, _)| a == address) else {
            panic!("dma_free of {address:#x}, which is not a live allocation");
        };
        let (_, layout) = live.swap_remove(position);
        // SAFETY: the pointer was returned by `alloc_zeroed` with exactly this layout and has
        // just been removed from the live list, so it is freed once.
        unsafe { dealloc(region.virt.as_ptr(), layout) }
    }

    fn now_ns(&self) -> u64 {
        self.clock.fetch_add(CLOCK_STEP_NS, Ordering::Relaxed)
    }
}
