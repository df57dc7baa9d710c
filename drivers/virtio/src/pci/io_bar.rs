//! A PCI I/O BAR as a bounds-checked register window: x86 port I/O where the platform has a
//! port space (a PC, whose I/O BARs decode port numbers), else MMIO through the host bridge's
//! I/O window (QEMU virt maps PCI I/O space at 0x3eff_0000).

use bus_pci::bar::BarKind;
use bus_pci::PciFunction;
use registry::mmio::{MmioWindow, OutOfWindow};
use registry::{IoPorts, MmioRegion, Platform};

use crate::VirtioError;

/// One I/O BAR's registers.
pub(crate) enum IoBar {
    Ports { ports: &'static dyn IoPorts, base: u16, size: u16 },
    Mmio(MmioWindow),
}

impl core::fmt::Debug for IoBar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IoBar::Ports { base, size, .. } => write!(f, "ports {base:#x}+{size:#x}"),
            IoBar::Mmio(window) => write!(f, "MMIO {:#x}+{:#x}", window.phys(), window.size()),
        }
    }
}

impl IoBar {
    /// BAR `index` of `function` if it is an assigned I/O BAR: `Ok(None)` if the function has
    /// no such BAR (or it is a memory BAR).
    pub(crate) fn of(function: &PciFunction, index: u8, platform: &'static dyn Platform) -> Result<Option<IoBar>, VirtioError> {
        let Some(mapped) = function.bars.iter().find(|m| m.bar.index == index && m.bar.kind == BarKind::Io) else {
            return Ok(None);
        };
        let cpu = mapped.cpu_address.ok_or(VirtioError::IoBarUnusable("unassigned"))?;
        let bar = match platform.io_ports() {
            Some(ports) => {
                // Ports are 16-bit: the whole BAR must lie below 0x10000.
                let end = cpu.checked_add(mapped.bar.size).filter(|&end| end <= 0x1_0000);
                let (Some(_), Ok(base), Ok(size)) = (end, u16::try_from(cpu), u16::try_from(mapped.bar.size)) else {
                    return Err(VirtioError::IoBarUnusable("beyond the 64 KiB port space"));
                };
                IoBar::Ports { ports, base, size }
            }
            None => {
                let region = MmioRegion { base: cpu, size: mapped.bar.size };
                IoBar::Mmio(MmioWindow::map(platform, region).map_err(|_| VirtioError::IoBarUnusable("not mappable"))?)
            }
        };
        Ok(Some(bar))
    }

    pub(crate) fn size(&self) -> usize {
        match self {
            IoBar::Ports { size, .. } => usize::from(*size),
            IoBar::Mmio(window) => window.size(),
        }
    }

    /// Whether the spot is in the BAR (and aligned as `MmioWindow` requires), as a port.
    fn port(&self, base: u16, offset: usize, width: usize) -> Result<u16, OutOfWindow> {
        let inside = offset.checked_add(width).is_some_and(|end| end <= self.size()) && offset.is_multiple_of(width);
        if !inside {
            return Err(OutOfWindow { offset, width });
        }
        // Below `size`, itself at most 0x10000 - base: no overflow.
        Ok(base + offset as u16)
    }

    pub(crate) fn read8(&self, offset: usize) -> Result<u8, OutOfWindow> {
        match self {
            IoBar::Ports { ports, base, .. } => Ok(ports.read8(self.port(*base, offset, 1)?)),
            IoBar::Mmio(window) => window.read8(offset),
        }
    }

    pub(crate) fn read16(&self, offset: usize) -> Result<u16, OutOfWindow> {
        match self {
            IoBar::Ports { ports, base, .. } => Ok(ports.read16(self.port(*base, offset, 2)?)),
            IoBar::Mmio(window) => window.read16(offset),
        }
    }

    pub(crate) fn read32(&self, offset: usize) -> Result<u32, OutOfWindow> {
        match self {
            IoBar::Ports { ports, base, .. } => Ok(ports.read32(self.port(*base, offset, 4)?)),
            IoBar::Mmio(window) => window.read32(offset),
        }
    }

    pub(crate) fn write8(&self, offset: usize, value: u8) -> Result<(), OutOfWindow> {
        match self {
            IoBar::Ports { ports, base, .. } => Ok(ports.write8(self.port(*base, offset, 1)?, value)),
            IoBar::Mmio(window) => window.write8(offset, value),
        }
    }

    pub(crate) fn write16(&self, offset: usize, value: u16) -> Result<(), OutOfWindow> {
        match self {
            IoBar::Ports { ports, base, .. } => Ok(ports.write16(self.port(*base, offset, 2)?, value)),
            IoBar::Mmio(window) => window.write16(offset, value),
        }
    }

    pub(crate) fn write32(&self, offset: usize, value: u32) -> Result<(), OutOfWindow> {
        match self {
            IoBar::Ports { ports, base, .. } => Ok(ports.write32(self.port(*base, offset, 4)?, value)),
            IoBar::Mmio(window) => window.write32(offset, value),
        }
    }

    /// A second handle on the same registers (for the interrupt handler).
    pub(crate) fn alias(&self) -> IoBar {
        match self {
            IoBar::Ports { ports, base, size } => IoBar::Ports { ports: *ports, base: *base, size: *size },
            IoBar::Mmio(window) => IoBar::Mmio(window.alias()),
        }
    }
}
