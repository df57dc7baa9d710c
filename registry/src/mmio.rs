//! Bounds-checked volatile access to a device's register window.

use core::ptr::NonNull;

use crate::device::MmioRegion;
use crate::platform::{Platform, PlatformError};

/// A mapped register window. Every access checks the offset against the window, so a bad
/// offset computed from device-supplied data is an error, not a stray access.
#[derive(Debug)]
pub struct MmioWindow {
    base: NonNull<u8>,
    size: usize,
    phys: u64,
}

// SAFETY: the window is only an address range of device registers; accesses are volatile and
// each register access is a single bus transaction.
unsafe impl Send for MmioWindow {}
unsafe impl Sync for MmioWindow {}

/// An access outside the window, or misaligned for its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfWindow {
    pub offset: usize,
    pub width: usize,
}

impl MmioWindow {
    /// Maps `region` through the platform.
    pub fn map(platform: &dyn Platform, region: MmioRegion) -> Result<Self, PlatformError> {
        let size = usize::try_from(region.size).map_err(|_| PlatformError::NotMappable(region))?;
        let base = platform.map_mmio(region)?;
        Ok(MmioWindow { base, size, phys: region.base })
    }

    /// Wraps an already mapped window.
    ///
    /// # Safety
    /// `base..base+size` must be mapped device memory that stays mapped for the window's life
    /// and belongs to one device.
    pub unsafe fn from_raw(base: NonNull<u8>, size: usize, phys: u64) -> Self {
        MmioWindow { base, size, phys }
    }

    /// A second handle on the same registers, for an interrupt handler that must reach the
    /// device without the driver's window (and so without a lock). Sound because a platform
    /// never unmaps a window; the two users must not depend on each other's register state
    /// (e.g. a select register one of them sets).
    pub fn alias(&self) -> MmioWindow {
        MmioWindow { base: self.base, size: self.size, phys: self.phys }
    }

    pub fn phys(&self) -> u64 {
        self.phys
    }

    pub fn size(&self) -> usize {
        self.size
    }

    fn checked<T>(&self, offset: usize) -> Result<*mut T, OutOfWindow> {
        let width = core::mem::size_of::<T>();
        let in_window = offset.checked_add(width).is_some_and(|end| end <= self.size);
        if !in_window || !offset.is_multiple_of(width) {
            return Err(OutOfWindow { offset, width });
        }
        // SAFETY: offset + width <= size, so the pointer stays inside the mapped window.
        Ok(unsafe { self.base.as_ptr().add(offset) }.cast())
    }

    pub fn read32(&self, offset: usize) -> Result<u32, OutOfWindow> {
        let ptr = self.checked::<u32>(offset)?;
        // SAFETY: `checked` proved the aligned u32 lies inside the mapped window.
        Ok(unsafe { ptr.read_volatile() })
    }

    pub fn write32(&self, offset: usize, value: u32) -> Result<(), OutOfWindow> {
        let ptr = self.checked::<u32>(offset)?;
        // SAFETY: as in `read32`.
        unsafe { ptr.write_volatile(value) };
        Ok(())
    }

    pub fn read16(&self, offset: usize) -> Result<u16, OutOfWindow> {
        let ptr = self.checked::<u16>(offset)?;
        // SAFETY: as in `read32`.
        Ok(unsafe { ptr.read_volatile() })
    }

    pub fn write16(&self, offset: usize, value: u16) -> Result<(), OutOfWindow> {
        let ptr = self.checked::<u16>(offset)?;
        // SAFETY: as in `read32`.
        unsafe { ptr.write_volatile(value) };
        Ok(())
    }

    pub fn read8(&self, offset: usize) -> Result<u8, OutOfWindow> {
        let ptr = self.checked::<u8>(offset)?;
        // SAFETY: as in `read32`.
        Ok(unsafe { ptr.read_volatile() })
    }

    pub fn write8(&self, offset: usize, value: u8) -> Result<(), OutOfWindow> {
        let ptr = self.checked::<u8>(offset)?;
        // SAFETY: as in `read32`.
        unsafe { ptr.write_volatile(value) };
        Ok(())
    }
}

impl core::fmt::Display for OutOfWindow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "register access at {:#x} (width {}) outside the device window", self.offset, self.width)
    }
}
