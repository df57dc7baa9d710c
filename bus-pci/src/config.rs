//! Configuration-space access: ECAM (memory mapped) and the legacy PC port I/O mechanism.

use core::fmt;

use registry::mmio::MmioWindow;

/// A function's address: bus, device (0-31), function (0-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bdf {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl Bdf {
    /// The function's requester ID, which tags its memory writes (messages included): bus,
    /// device, function in 8, 5 and 3 bits.
    pub fn requester_id(self) -> u32 {
        u32::from(self.bus) << 8 | u32::from(self.device & 0x1f) << 3 | u32::from(self.function & 0x7)
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// Reads and writes 32-bit configuration registers. Offsets are 4-byte aligned; a function
/// that does not exist reads all ones (a master abort), and writes to it are dropped.
pub trait ConfigAccess: Send + Sync {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32;
    fn write32(&self, bdf: Bdf, offset: u16, value: u32);

    fn read16(&self, bdf: Bdf, offset: u16) -> u16 {
        (self.read32(bdf, offset & !3) >> ((offset & 2) * 8)) as u16
    }

    fn read8(&self, bdf: Bdf, offset: u16) -> u8 {
        (self.read32(bdf, offset & !3) >> ((offset & 3) * 8)) as u8
    }

    /// Writes 16 bits without disturbing the other half of the register (read-modify-write;
    /// only for registers without write-one-to-clear bits in the other half).
    fn write16(&self, bdf: Bdf, offset: u16, value: u16) {
        let shift = (offset & 2) * 8;
        let old = self.read32(bdf, offset & !3) & !(0xffff << shift);
        self.write32(bdf, offset & !3, old | u32::from(value) << shift);
    }
}

/// PCI Express Enhanced Configuration Access Mechanism: 4 KiB of registers per function,
/// at `base + (bus - first_bus) << 20 | device << 15 | function << 12`.
pub struct Ecam {
    window: MmioWindow,
    first_bus: u8,
}

impl Ecam {
    /// `window` covers buses `first_bus..` as far as its size goes.
    pub fn new(window: MmioWindow, first_bus: u8) -> Self {
        Ecam { window, first_bus }
    }

    fn offset(&self, bdf: Bdf, register: u16) -> Option<usize> {
        let bus = usize::from(bdf.bus.checked_sub(self.first_bus)?);
        if bdf.device >= 32 || bdf.function >= 8 || register >= 4096 {
            return None;
        }
        Some(bus << 20 | usize::from(bdf.device) << 15 | usize::from(bdf.function) << 12 | usize::from(register & !3))
    }
}

impl ConfigAccess for Ecam {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        self.offset(bdf, offset).and_then(|o| self.window.read32(o).ok()).unwrap_or(u32::MAX)
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        if let Some(o) = self.offset(bdf, offset) {
            let _ = self.window.write32(o, value);
        }
    }
}

/// The PC's configuration mechanism #1: an address written to port 0xCF8, data at 0xCFC.
/// Reaches the first 256 bytes of each function only.
#[cfg(target_arch = "x86_64")]
pub struct PortIo {
    /// The address/data pair must not be interleaved between two users.
    lock: spin::Mutex<()>,
}

#[cfg(target_arch = "x86_64")]
impl PortIo {
    const ADDRESS: u16 = 0xcf8;
    const DATA: u16 = 0xcfc;

    /// # Safety
    /// The machine must implement configuration mechanism #1 at ports 0xCF8/0xCFC and nothing
    /// else may use those ports.
    pub const unsafe fn new() -> Self {
        PortIo { lock: spin::Mutex::new(()) }
    }

    fn address(bdf: Bdf, offset: u16) -> Option<u32> {
        if bdf.device >= 32 || bdf.function >= 8 || offset >= 256 {
            return None;
        }
        Some(1 << 31 | u32::from(bdf.bus) << 16 | u32::from(bdf.device) << 11 | u32::from(bdf.function) << 8 | u32::from(offset & 0xfc))
    }
}

#[cfg(target_arch = "x86_64")]
impl ConfigAccess for PortIo {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        let Some(address) = Self::address(bdf, offset) else { return u32::MAX };
        let _guard = self.lock.lock();
        let value: u32;
        // SAFETY: `new`'s caller vouched that these ports are the PCI configuration mechanism;
        // port I/O touches no memory.
        unsafe {
            core::arch::asm!("out dx, eax", in("dx") Self::ADDRESS, in("eax") address, options(nomem, nostack, preserves_flags));
            core::arch::asm!("in eax, dx", in("dx") Self::DATA, out("eax") value, options(nomem, nostack, preserves_flags));
        }
        value
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        let Some(address) = Self::address(bdf, offset) else { return };
        let _guard = self.lock.lock();
        // SAFETY: as in `read32`.
        unsafe {
            core::arch::asm!("out dx, eax", in("dx") Self::ADDRESS, in("eax") address, options(nomem, nostack, preserves_flags));
            core::arch::asm!("out dx, eax", in("dx") Self::DATA, in("eax") value, options(nomem, nostack, preserves_flags));
        }
    }
}
