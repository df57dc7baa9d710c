//! The 16550's registers as x86 I/O ports, the way PCs wire their COM ports.

use core::arch::asm;

use crate::Registers;

/// A 16550 reached through its eight consecutive I/O ports from `base`.
#[derive(Debug)]
pub struct PortIo {
    base: u16,
}

impl PortIo {
    /// The UART whose registers are the I/O ports `base..base + 8`.
    ///
    /// # Safety
    ///
    /// Those ports must belong to a 16550-compatible UART that nothing else programs while the
    /// returned value lives: reading and writing them must have no effect beyond that UART.
    pub const unsafe fn new(base: u16) -> Self {
        Self { base }
    }
}

impl Registers for PortIo {
    fn read(&mut self, offset: u8) -> u8 {
        let value: u8;
        // SAFETY: `new`'s contract makes the port one of the UART's registers, whose reads touch
        // nothing else; `in` accesses no memory.
        unsafe {
            asm!("in al, dx", out("al") value, in("dx") self.base + u16::from(offset), options(nomem, nostack, preserves_flags));
        }
        value
    }

    fn write(&mut self, offset: u8, value: u8) {
        // SAFETY: as in `read`; `&mut self` is the exclusive use of the UART that `new` hands over.
        unsafe {
            asm!("out dx, al", in("dx") self.base + u16::from(offset), in("al") value, options(nomem, nostack, preserves_flags));
        }
    }
}
