//! Memory barriers for sharing memory with a device (DMA) and for ringing its doorbell: the
//! ones Linux calls `dma_wmb`, `dma_rmb`, `dma_mb` and the `__iowmb` inside `writel`, for the
//! CPU this is built for.
//!
//! `core::sync::atomic::fence` orders memory for other CPUs only: on aarch64 it is `dmb ish`,
//! the inner shareable domain. That is enough for QEMU's devices (emulated by host threads
//! that share the guest's caches), not for a real DMA master, which sits in the outer
//! shareable domain (Arm ARM B2.7, "Shareability"), nor for ordering Normal-memory stores
//! before a Device-memory store (a doorbell). These are what Linux uses for such devices:
//! `arch/arm64/include/asm/barrier.h` (`__dma_wmb` = `dmb oshst`, `__dma_rmb` = `dmb oshld`,
//! `__dma_mb` = `dmb osh`) and `arch/arm64/include/asm/io.h` (`writel` = `__iowmb()` =
//! `dma_wmb()` before the store). `include/linux/virtio_ring.h` picks `dma_wmb`/`dma_rmb`
//! (and `mb`) for a virtio device that is not a hypervisor's (`weak_barriers` false).
//!
//! On x86-64 the CPU keeps stores in order with stores and loads with loads, and write-back
//! stores before a later uncached (UC) store (Intel SDM vol. 3A, "Memory Ordering in P6 and
//! More Recent Processor Families"; UC accesses are strongly ordered, "Methods of Caching
//! Available"): only the
//! compiler must be kept from reordering, as Linux's x86 `dma_wmb`/`dma_rmb` (`barrier()`)
//! and `writel` (a `mov` with a memory clobber) do. A store followed by a load of another
//! location is the one reordering x86 does, so [`dma_mb`] is a real fence (`mfence`).
//!
//! None of this makes non-coherent memory coherent: caches are the platform's business
//! ([`Platform::dma_sync_for_device`](crate::Platform::dma_sync_for_device) and
//! [`dma_sync_for_cpu`](crate::Platform::dma_sync_for_cpu)).

#[cfg(not(target_arch = "aarch64"))]
use core::sync::atomic::{compiler_fence, fence, Ordering};

/// CPU writes to DMA memory before it are seen by a device before CPU writes after it (a
/// descriptor before the index that publishes it).
#[inline(always)]
pub fn dma_wmb() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: a barrier instruction only orders memory accesses. No `nomem`: the compiler must
    // not move memory accesses across it either.
    unsafe {
        core::arch::asm!("dmb oshst", options(nostack, preserves_flags))
    };
    #[cfg(target_arch = "x86_64")]
    compiler_fence(Ordering::SeqCst);
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    fence(Ordering::Release);
}

/// CPU reads of DMA memory before it complete before CPU reads after it (an index the device
/// wrote before the entries it covers).
#[inline(always)]
pub fn dma_rmb() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as in `dma_wmb`.
    unsafe {
        core::arch::asm!("dmb oshld", options(nostack, preserves_flags))
    };
    #[cfg(target_arch = "x86_64")]
    compiler_fence(Ordering::SeqCst);
    #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
    fence(Ordering::Acquire);
}

/// Every CPU access to memory or to device registers before it is seen by a device before any
/// after it: a store then a load (publish an index, then read what the device asked for), or
/// a store to DMA memory then a register write.
#[inline(always)]
pub fn dma_mb() {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as in `dma_wmb`.
    unsafe {
        core::arch::asm!("dmb osh", options(nostack, preserves_flags))
    };
    #[cfg(not(target_arch = "aarch64"))]
    fence(Ordering::SeqCst);
}

/// CPU writes to DMA memory before it reach the device before a register write after it (the
/// doorbell): Linux's `__iowmb()` inside `writel`.
#[inline(always)]
pub fn io_wmb() {
    dma_wmb();
}
