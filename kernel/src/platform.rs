//! The test kernel's [`registry::Platform`]: identity-mapped MMIO, DMA memory from the heap,
//! the architecture's counter as the clock, and interrupts (through the GIC on aarch64, the
//! APICs on x86-64): a handler table, and idle waits that sleep until an interrupt or a timer
//! deadline.

mod interrupts;

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::sync::Arc;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ptr::NonNull;

use registry::platform::DmaRegion;
use registry::{Irq, IrqError, IrqHandler, IrqStats, MsiSource, MsiVector};
use registry::{MmioRegion, Platform, PlatformError};

use crate::arch;
pub use interrupts::{dispatch as dispatch_interrupt, polled};

pub struct KernelPlatform;

pub static PLATFORM: KernelPlatform = KernelPlatform;

/// Every DMA allocation is page aligned, the most `Platform::dma_alloc` promises, so the layout
/// can be rebuilt from the size alone when it is freed.
const DMA_ALIGN: usize = 4096;

// SAFETY: `map_mmio` hands out only ranges the boot page tables identity-map as device memory
// (Device-nGnRE on aarch64, UC on x86-64), never unmapped; RAM is refused. `dma_alloc` returns
// zeroed heap memory, 4096-aligned (larger alignments refused), identity-mapped so its
// physical address is its bus address (no IOMMU on the boards), freed only by `dma_free`;
// QEMU's devices see RAM coherently, so the DMA sync hooks keep their no-op defaults (a board
// with non-coherent DMA would clean and invalidate there). The clock is the architecture's
// monotonic counter; `idle_until` sleeps until an interrupt or a timer at the deadline;
// handlers run from the interrupt path with interrupts masked (one at a time).
unsafe impl Platform for KernelPlatform {
    fn map_mmio(&self, region: MmioRegion) -> Result<NonNull<u8>, PlatformError> {
        // The boot page tables map device memory 1:1; RAM is mapped cacheable and must not be
        // handed out as registers.
        let end = region.base.checked_add(region.size).ok_or(PlatformError::NotMappable(region))?;
        if !arch::is_device_memory(region.base, end) {
            return Err(PlatformError::NotMappable(region));
        }
        let base = usize::try_from(region.base).map_err(|_| PlatformError::NotMappable(region))?;
        NonNull::new(base as *mut u8).ok_or(PlatformError::NotMappable(region))
    }

    fn dma_alloc(&self, size: usize, align: usize) -> Result<DmaRegion, PlatformError> {
        if align > DMA_ALIGN {
            return Err(PlatformError::Unsupported("DMA alignment above 4096"));
        }
        let layout = Layout::from_size_align(size.max(1), DMA_ALIGN).map_err(|_| PlatformError::OutOfMemory { size })?;
        // SAFETY: the layout has a non-zero size.
        let virt = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(PlatformError::OutOfMemory { size })?;
        // RAM is identity mapped, so the CPU address is the bus address (QEMU virt has no IOMMU).
        Ok(DmaRegion { virt, phys: virt.as_ptr() as u64, size })
    }

    unsafe fn dma_free(&self, region: DmaRegion) {
        let layout = Layout::from_size_align(region.size.max(1), DMA_ALIGN).expect("checked when allocated");
        // SAFETY: the caller guarantees the region came from `dma_alloc` (same size, DMA_ALIGN)
        // and is freed once.
        unsafe { dealloc(region.virt.as_ptr(), layout) }
    }

    fn now_ns(&self) -> u64 {
        arch::now_ns()
    }

    fn request_irq(&self, irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
        interrupts::request(irq, handler, stats)
    }

    fn free_irq(&self, irq: &Irq, stats: &Arc<IrqStats>) {
        interrupts::free(irq, stats)
    }

    fn alloc_msi(&self, source: &MsiSource, count: usize) -> Result<Vec<MsiVector>, IrqError> {
        arch::interrupts::alloc_msi(source, count)
    }

    fn free_msi(&self, source: &MsiSource, irq: &Irq) {
        arch::interrupts::free_msi(source, irq)
    }

    fn idle_until(&self, deadline_ns: u64) {
        interrupts::idle_until(deadline_ns)
    }

    #[cfg(target_arch = "x86_64")]
    fn io_ports(&self) -> Option<&dyn registry::IoPorts> {
        Some(&arch::IO_SPACE)
    }
}

/// The boot loader's device tree as a slice of exactly its `totalsize`.
///
/// # Safety
/// `phys`, when not 0, must be the identity-mapped address of memory the kernel does not write,
/// readable for at least the DTB header and then for the `totalsize` it declares.
pub unsafe fn boot_dtb(phys: usize) -> Result<&'static [u8], String> {
    /// The size field sits in the 40-byte header; no DTB is larger than this.
    const HEADER: usize = 40;
    const MAX_DTB: usize = 2 << 20;
    if phys == 0 {
        return Err(String::from("the boot loader passed no device tree (x0 = 0)"));
    }
    // SAFETY: the caller guarantees the header is readable at `phys`.
    let header = unsafe { core::slice::from_raw_parts(phys as *const u8, HEADER) };
    let len = bus_dt::blob_len(header).map_err(|e| format!("{e}"))?;
    if len > MAX_DTB {
        return Err(format!("device tree claims {len} bytes, more than the {MAX_DTB} accepted"));
    }
    // SAFETY: the caller guarantees the declared size is readable; it is bounded above.
    Ok(unsafe { core::slice::from_raw_parts(phys as *const u8, len) })
}
