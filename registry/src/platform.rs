//! The hooks a kernel integrator supplies: MMIO mapping, DMA-able memory, time.

use core::fmt;
use core::ptr::NonNull;

use alloc::sync::Arc;

use crate::device::{Irq, MmioRegion};
use crate::irq::{IrqError, IrqHandler, IrqStats};
use crate::msi::{MsiSource, MsiVector};

/// What the registry and drivers need from the kernel they run in.
///
/// Implement it once per kernel and pass a `&'static` to [`probe_all`](crate::probe_all).
/// Every method may be called from any probe; none may block indefinitely.
///
/// # Safety
///
/// Safe code trusts what the platform returns: [`MmioWindow`](crate::mmio::MmioWindow) reads
/// and writes the pointer [`map_mmio`](Platform::map_mmio) gives, [`DmaBuffer`] and the drivers
/// read and write the memory [`dma_alloc`](Platform::dma_alloc) gives, and devices are told
/// its `phys` address. An implementation must therefore guarantee:
///
/// - **`map_mmio(region)`** returns a pointer to `region.size` bytes that stay valid for
///   volatile 8-, 16- and 32-bit reads and writes (at offsets aligned to their width) for the
///   rest of the program (there is no unmap, and register windows are aliased freely), that
///   no Rust reference or allocation covers, and that are mapped as device memory (uncached,
///   no speculative or merged accesses: Arm Device-nGnRE or stronger, x86 UC), so each
///   access is one bus transaction to the device.
/// - **`dma_alloc(size, align)`** returns, on success, a [`DmaRegion`] whose `virt` points to
///   `size` bytes, aligned to at least `align` (a power of two up to 4096), zeroed, not
///   overlapping any other live allocation or Rust object, valid for reads and writes until
///   it is given to [`dma_free`](Platform::dma_free); whose `phys` is the bus address at which
///   a device reaches those same bytes, contiguous over the whole `size` (an IOMMU mapping, or
///   the physical address without one); and which is not freed or moved behind its owner's
///   back. Memory a device can reach but the CPU does not see coherently must be made
///   consistent by [`dma_sync_for_device`](Platform::dma_sync_for_device) and
///   [`dma_sync_for_cpu`](Platform::dma_sync_for_cpu).
/// - **`dma_sync_for_device` / `dma_sync_for_cpu`** change no byte the CPU wrote outside the
///   range they are given: a cache line shared with other data is cleaned, never invalidated
///   alone (which would drop the CPU's writes to the rest of it).
/// - **`io_ports`**, where given, reaches the CPU's port space only.
/// - **`now_ns`** never goes backwards; **`idle_until`** returns (at the latest shortly after
///   the deadline, on that clock), and may return early.
/// - **`request_irq`** runs the handler only from one context at a time (it is `FnMut`), never
///   after [`free_irq`](Platform::free_irq) returned for it, and counts each call in `stats`.
///
/// A platform that breaks one of these can make safe driver code read or write memory it does
/// not own, which is why the trait is `unsafe` to implement. Each `unsafe impl` should say in
/// a `SAFETY` comment why it meets them. A platform written without `unsafe` does not compile:
///
/// ```compile_fail,E0200
/// use core::ptr::NonNull;
/// use registry::platform::{DmaRegion, Platform, PlatformError};
/// struct Careless;
/// impl Platform for Careless {
///     fn map_mmio(&self, _: registry::MmioRegion) -> Result<NonNull<u8>, PlatformError> {
///         Ok(NonNull::dangling()) // a pointer MmioWindow::read32 would fault on
///     }
///     fn dma_alloc(&self, size: usize, _: usize) -> Result<DmaRegion, PlatformError> {
///         Err(PlatformError::OutOfMemory { size })
///     }
///     unsafe fn dma_free(&self, _: DmaRegion) {}
///     fn now_ns(&self) -> u64 { 0 }
/// }
/// ```
pub unsafe trait Platform: Sync {
    /// Makes a device's CPU-physical register region accessible and returns its virtual
    /// address. Must be mapped as device memory (uncached, no speculative access), and stay
    /// mapped: there is no unmap, so register windows (and their aliases) never dangle.
    fn map_mmio(&self, region: MmioRegion) -> Result<NonNull<u8>, PlatformError>;

    /// Allocates `size` bytes of zeroed memory the device can reach, aligned to at least
    /// `align` (a power of two, at most 4096), and returns both addresses.
    fn dma_alloc(&self, size: usize, align: usize) -> Result<DmaRegion, PlatformError>;

    /// Frees memory from [`dma_alloc`](Platform::dma_alloc).
    ///
    /// # Safety
    /// `region` came from `dma_alloc` on this platform, is freed once, and no device still
    /// reads or writes it.
    unsafe fn dma_free(&self, region: DmaRegion);

    /// Monotonic time in nanoseconds since some fixed point; bounds every wait on hardware.
    fn now_ns(&self) -> u64;

    /// Routes `irq` to `handler`, counting each interrupt in `stats`. Platforms without
    /// interrupt support keep the default, and drivers poll.
    fn request_irq(&self, irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
        let _ = (irq, handler, stats);
        Err(IrqError::Unsupported)
    }

    /// Drops the handler [`request_irq`](Platform::request_irq) installed for `irq` with
    /// `stats` (the device is being unbound), masking the line once no handler is left. `stats`
    /// tells apart the handlers of devices sharing a line (PCI INTx).
    fn free_irq(&self, irq: &Irq, stats: &Arc<IrqStats>) {
        let _ = (irq, stats);
    }

    /// Allocates `count` message-signalled interrupts for `source` (all or none), each an
    /// [`Irq`] to [`request_irq`](Platform::request_irq) and the message the device must send
    /// for it. Platforms without MSI support keep the default, and devices use their line.
    /// A controller not probed yet is [`IrqError::ControllerNotReady`].
    fn alloc_msi(&self, source: &MsiSource, count: usize) -> Result<alloc::vec::Vec<MsiVector>, IrqError> {
        let _ = (source, count);
        Err(IrqError::Unsupported)
    }

    /// Gives back an interrupt [`alloc_msi`](Platform::alloc_msi) returned for `source`, once
    /// its handler is freed and the device can no longer send its message.
    fn free_msi(&self, source: &MsiSource, irq: &Irq) {
        let _ = (source, irq);
    }

    /// Makes the CPU's writes to `len` bytes of DMA memory at bus address `phys` visible to a
    /// device that is about to be handed them (Linux's `dma_sync_single_for_device`): called
    /// for every buffer a driver hands over, after its last CPU write, before it is published
    /// to the device. `direction` says whether the device reads the bytes
    /// ([`ToDevice`](DmaDirection::ToDevice): clean the cache lines to the point of coherency)
    /// or writes them ([`FromDevice`](DmaDirection::FromDevice): clean or invalidate, so that no
    /// dirty line is written back over what the device writes). The range lies inside one
    /// live [`dma_alloc`](Platform::dma_alloc) region; it need not be cache-line aligned, and
    /// the lines around it may hold bytes the CPU uses meanwhile (so invalidating must not drop
    /// dirty lines: clean and invalidate them). Must complete the maintenance before returning
    /// (on Arm, `dc cvac`/`dc civac` then `dsb sy`).
    ///
    /// The default does nothing: right for DMA that is coherent with the CPU's caches (QEMU's
    /// devices, PCIe with snooping, Arm systems whose interconnect keeps I/O coherent).
    fn dma_sync_for_device(&self, phys: u64, len: usize, direction: DmaDirection) {
        let _ = (phys, len, direction);
    }

    /// Makes what a device wrote to `len` bytes of DMA memory at bus address `phys` visible to
    /// the CPU, once the device handed them back (Linux's `dma_sync_single_for_cpu`): called
    /// before the CPU reads a buffer (or ring entry) the device wrote, after learning it is done
    /// ([`FromDevice`](DmaDirection::FromDevice): invalidate the lines the CPU may hold stale,
    /// which may have been fetched speculatively meanwhile). The same range rules as
    /// [`dma_sync_for_device`](Platform::dma_sync_for_device); the default does nothing.
    fn dma_sync_for_cpu(&self, phys: u64, len: usize, direction: DmaDirection) {
        let _ = (phys, len, direction);
    }

    /// Waits for an interrupt or until `deadline_ns` (on the [`now_ns`](Platform::now_ns)
    /// clock), whichever comes first; may return early. The default only hints a spin, for
    /// platforms without interrupts.
    fn idle_until(&self, deadline_ns: u64) {
        let _ = deadline_ns;
        core::hint::spin_loop();
    }

    /// The CPU's I/O port space, on architectures that have one (x86): PCI I/O BARs decode
    /// port numbers there. Elsewhere (the default) the PCI host bridge maps I/O space into
    /// memory, and an I/O BAR's CPU address is an MMIO address.
    fn io_ports(&self) -> Option<&dyn IoPorts> {
        None
    }
}

/// Port I/O (x86 `in` / `out`), as a platform with an I/O port space provides it. Like
/// [`MmioWindow::map`](crate::mmio::MmioWindow::map) for memory, users reach only the ports
/// their bus assigned to their device.
pub trait IoPorts: Sync {
    fn read8(&self, port: u16) -> u8;
    fn read16(&self, port: u16) -> u16;
    fn read32(&self, port: u16) -> u32;
    fn write8(&self, port: u16, value: u8);
    fn write16(&self, port: u16, value: u16);
    fn write32(&self, port: u16, value: u32);
}

/// Which way a DMA hand-off moves data, for the cache maintenance of
/// [`Platform::dma_sync_for_device`] and [`Platform::dma_sync_for_cpu`] (Linux's
/// `dma_data_direction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmaDirection {
    /// The device reads the memory (a request, a descriptor, a frame to send).
    ToDevice,
    /// The device writes the memory (a response, a used ring entry, a received frame).
    FromDevice,
}

/// DMA-able memory: where the CPU sees it and the address the device must be given.
#[derive(Debug)]
pub struct DmaRegion {
    pub virt: NonNull<u8>,
    pub phys: u64,
    pub size: usize,
}

/// Why a platform hook refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformError {
    OutOfMemory { size: usize },
    NotMappable(MmioRegion),
    Unsupported(&'static str),
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformError::OutOfMemory { size } => write!(f, "out of DMA memory ({size} bytes)"),
            PlatformError::NotMappable(r) => {
                write!(f, "cannot map MMIO {:#x}+{:#x}", r.base, r.size)
            }
            PlatformError::Unsupported(what) => write!(f, "platform does not support {what}"),
        }
    }
}

/// An owned DMA allocation, freed on drop.
pub struct DmaBuffer {
    region: DmaRegion,
    platform: &'static dyn Platform,
}

// SAFETY: the buffer exclusively owns its allocation; the raw pointer is only an address.
unsafe impl Send for DmaBuffer {}

impl DmaBuffer {
    pub fn new(platform: &'static dyn Platform, size: usize, align: usize) -> Result<Self, PlatformError> {
        let region = platform.dma_alloc(size, align)?;
        Ok(DmaBuffer { region, platform })
    }

    /// The address to hand to the device.
    pub fn phys(&self) -> u64 {
        self.region.phys
    }

    pub fn len(&self) -> usize {
        self.region.size
    }

    pub fn is_empty(&self) -> bool {
        self.region.size == 0
    }

    /// The CPU's pointer to the start of the buffer. Accesses that race with the device must be
    /// volatile and ordered by the caller.
    pub fn as_ptr(&self) -> NonNull<u8> {
        self.region.virt
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        let region = DmaRegion { virt: self.region.virt, phys: self.region.phys, size: self.region.size };
        // SAFETY: the region came from `dma_alloc` in `new`, is freed exactly once (here), and the
        // owner of the buffer is responsible for having stopped the device using it.
        unsafe { self.platform.dma_free(region) }
    }
}
