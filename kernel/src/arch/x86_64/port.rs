//! I/O port access, for the PC devices the architecture code drives itself: the PIT, the 8259
//! PICs (to mask them), the ACPI PM block, isa-debug-exit; and through [`IoSpace`], for drivers,
//! the ports of PCI I/O BARs.

use core::arch::asm;

/// Reads a byte from `port`.
///
/// # Safety
///
/// Reading `port` must have no effect the caller does not intend (some device registers change
/// state when read).
pub(super) unsafe fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: the caller vouches for the port; `in` accesses no memory.
    unsafe { asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags)) };
    value
}

/// Writes a byte to `port`.
///
/// # Safety
///
/// Writing `value` to `port` must do what the caller intends and nothing else.
pub(super) unsafe fn outb(port: u16, value: u8) {
    // SAFETY: the caller vouches for the port and value; `out` accesses no memory.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags)) };
}

/// Writes a 16-bit word to `port`.
///
/// # Safety
///
/// As for [`outb`].
pub(super) unsafe fn outw(port: u16, value: u16) {
    // SAFETY: as in `outb`.
    unsafe { asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack, preserves_flags)) };
}

/// The I/O port space as the platform hands it to drivers (`registry::Platform::io_ports`):
/// PCI I/O BARs, such as a legacy virtio-pci function's registers, decode port numbers here.
pub struct IoSpace;

/// The one port space drivers reach.
pub static IO_SPACE: IoSpace = IoSpace;

impl registry::IoPorts for IoSpace {
    fn read8(&self, port: u16) -> u8 {
        // SAFETY: drivers access only the ports their bus assigned to their device's BAR.
        unsafe { inb(port) }
    }

    fn read16(&self, port: u16) -> u16 {
        let value: u16;
        // SAFETY: as in `read8`; `in` accesses no memory.
        unsafe { asm!("in ax, dx", out("ax") value, in("dx") port, options(nomem, nostack, preserves_flags)) };
        value
    }

    fn read32(&self, port: u16) -> u32 {
        let value: u32;
        // SAFETY: as in `read16`.
        unsafe { asm!("in eax, dx", out("eax") value, in("dx") port, options(nomem, nostack, preserves_flags)) };
        value
    }

    fn write8(&self, port: u16, value: u8) {
        // SAFETY: as in `read8`.
        unsafe { outb(port, value) }
    }

    fn write16(&self, port: u16, value: u16) {
        // SAFETY: as in `read8`.
        unsafe { outw(port, value) }
    }

    fn write32(&self, port: u16, value: u32) {
        // SAFETY: as in `read8`; `out` accesses no memory.
        unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags)) };
    }
}
