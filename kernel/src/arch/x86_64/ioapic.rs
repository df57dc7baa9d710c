//! The I/O APIC: routes each of its inputs (the PC's ISA IRQs and PCI interrupt lines) to a
//! vector on a CPU, or masks it (82093AA datasheet; QEMU models it with 24 inputs).
//!
//! Its registers are reached through a window: the register number goes to IOREGSEL, then the
//! value is read or written at IOWIN. The pair must not be split by another access, so every
//! caller runs with interrupts masked (there is one CPU).

use core::ptr::{read_volatile, write_volatile};

use acpi_tables::{Polarity, Trigger};

const IOREGSEL: usize = 0x00;
const IOWIN: usize = 0x10;
/// The register window's size.
pub(super) const REGISTERS_SIZE: u64 = 0x20;

const VERSION: u32 = 0x01;
/// Version register bits 16-23: the number of the last redirection entry.
const VERSION_LAST_ENTRY_SHIFT: u32 = 16;
/// Redirection entry n is registers 0x10 + 2n (low half) and 0x11 + 2n (high half).
const REDIRECTION_TABLE: u32 = 0x10;

/// Redirection entry (low half): level-triggered (clear: edge), active low (clear: high).
const LEVEL_TRIGGERED: u32 = 1 << 15;
const ACTIVE_LOW: u32 = 1 << 13;
/// Redirection entry (low half): masked. Clear bits 8-11 mean fixed delivery to the APIC ID in
/// the high half's bits 24-31 (physical destination).
const MASKED: u32 = 1 << 16;
const DESTINATION_SHIFT: u32 = 24;

pub(super) struct IoApic {
    base: usize,
    inputs: u32,
}

impl IoApic {
    /// The I/O APIC whose registers are at `base`, with every input masked.
    ///
    /// # Safety
    /// `base` must be identity mapped uncached and hold an I/O APIC's registers, if anything
    /// (an empty address reads all ones), that nothing else drives.
    pub(super) unsafe fn new(base: usize) -> Result<IoApic, &'static str> {
        let partial = IoApic { base, inputs: 0 };
        let version = partial.read(VERSION);
        if version == u32::MAX {
            return Err("no I/O APIC answers at its address");
        }
        let io_apic = IoApic { base, inputs: ((version >> VERSION_LAST_ENTRY_SHIFT) & 0xff) + 1 };
        for input in 0..io_apic.inputs {
            io_apic.mask(input);
        }
        Ok(io_apic)
    }

    pub(super) fn inputs(&self) -> u32 {
        self.inputs
    }

    /// Sends `input` to `vector` on the CPU with local APIC ID `destination`, unmasked.
    /// `input` must be below [`inputs`](Self::inputs).
    pub(super) fn route(&self, input: u32, vector: u8, trigger: Trigger, polarity: Polarity, destination: u8) {
        let trigger = if trigger == Trigger::Level { LEVEL_TRIGGERED } else { 0 };
        let signal = trigger | if polarity == Polarity::ActiveLow { ACTIVE_LOW } else { 0 };
        let entry = REDIRECTION_TABLE + 2 * input;
        self.write(entry, MASKED);
        self.write(entry + 1, u32::from(destination) << DESTINATION_SHIFT);
        self.write(entry, u32::from(vector) | signal);
    }

    /// Masks `input` (below [`inputs`](Self::inputs)), keeping its route.
    pub(super) fn mask(&self, input: u32) {
        let entry = REDIRECTION_TABLE + 2 * input;
        self.write(entry, self.read(entry) | MASKED);
    }

    fn read(&self, register: u32) -> u32 {
        // SAFETY: `new`'s caller vouches for the registers; both lie in the window.
        unsafe {
            write_volatile((self.base + IOREGSEL) as *mut u32, register);
            read_volatile((self.base + IOWIN) as *const u32)
        }
    }

    fn write(&self, register: u32, value: u32) {
        // SAFETY: as in `read`; the callers write what they document.
        unsafe {
            write_volatile((self.base + IOREGSEL) as *mut u32, register);
            write_volatile((self.base + IOWIN) as *mut u32, value);
        }
    }
}
