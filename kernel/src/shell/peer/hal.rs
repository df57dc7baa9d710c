//! virtio-drivers' `Hal` on the test kernel's platform: DMA pages from the same allocator our
//! drivers use, and RAM identity mapped, so a buffer's address is what the device is given.

use core::ptr::NonNull;

use registry::platform::DmaRegion;
use registry::{MmioRegion, Platform};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

use crate::platform::PLATFORM;

pub struct PeerHal;

// SAFETY: DMA memory comes zeroed and page aligned from the platform and is exclusively the
// caller's until freed; MMIO comes from the platform's device mapping; shared buffers are RAM,
// identity mapped and cache coherent with QEMU's devices, so sharing needs no copy.
unsafe impl Hal for PeerHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match PLATFORM.dma_alloc(pages * PAGE_SIZE, PAGE_SIZE) {
            Ok(region) => (region.phys, region.virt),
            // virtio-drivers takes physical address 0 as the allocation failure.
            Err(_) => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: the caller passes back what `dma_alloc` returned for this many pages, once.
        unsafe { PLATFORM.dma_free(DmaRegion { virt: vaddr, phys: paddr, size: pages * PAGE_SIZE }) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // Only the PCI transport asks, which the peer does not use; the trait cannot fail.
        PLATFORM.map_mmio(MmioRegion { base: paddr, size: size as u64 }).expect("the peer maps only device memory")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.cast::<u8>().as_ptr() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}
