//! I/O port access, for the PC devices the architecture code drives itself: the PIT, the 8259
//! PICs (to mask them), the ACPI PM block, isa-debug-exit.

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
