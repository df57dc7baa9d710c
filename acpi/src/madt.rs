//! The MADT (ACPI 6.5, 5.2.12), signature `APIC`: the local APIC address, then entries for
//! each interrupt controller: processors' local APICs, I/O APICs with the first global system
//! interrupt (GSI) each serves, and interrupt source overrides, which say at which GSI an ISA
//! IRQ arrives, and how it signals when that differs from ISA's edge, active high.

use alloc::vec::Vec;

use crate::memory::{u16_at, u32_at};
use crate::sdt::HEADER_LEN;
use crate::{AcpiError, Memory, Tables};

/// The local APIC address and flags follow the header.
const ENTRIES: usize = HEADER_LEN + 8;
const ENTRY_IO_APIC: u8 = 1;
const ENTRY_OVERRIDE: u8 = 2;
const IO_APIC_LEN: usize = 12;
const OVERRIDE_LEN: usize = 10;
/// The ISA bus, the only source bus an override names.
const ISA_BUS: u8 = 0;

/// How a line is asserted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    ActiveHigh,
    ActiveLow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Edge,
    Level,
}

/// An I/O APIC: its registers' address and the first GSI its inputs serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApic {
    pub id: u8,
    pub address: u32,
    pub gsi_base: u32,
}

/// ISA IRQ `irq` arrives at `gsi`, signalling as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaOverride {
    pub irq: u8,
    pub gsi: u32,
    pub polarity: Polarity,
    pub trigger: Trigger,
}

/// What the kernel needs from the MADT.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Madt {
    pub local_apic: u32,
    pub io_apics: Vec<IoApic>,
    pub overrides: Vec<IsaOverride>,
}

impl Madt {
    /// Where ISA IRQ `irq` arrives and how it signals: its override, else GSI `irq`, edge,
    /// active high (ISA's own signalling).
    pub fn isa_irq(&self, irq: u8) -> IsaOverride {
        let identity = IsaOverride { irq, gsi: u32::from(irq), polarity: Polarity::ActiveHigh, trigger: Trigger::Edge };
        self.overrides.iter().copied().find(|o| o.irq == irq).unwrap_or(identity)
    }
}

impl Tables {
    /// The MADT, if there is one. An entry that runs past the table or is shorter than its
    /// kind is an error; kinds the kernel does not use are skipped.
    pub fn madt(&self, memory: &dyn Memory) -> Result<Option<Madt>, AcpiError> {
        let Some(bytes) = self.read(memory, b"APIC")? else { return Ok(None) };
        let malformed = |offset| AcpiError::Entry { table: "MADT", offset };
        if bytes.len() < ENTRIES {
            return Err(malformed(HEADER_LEN));
        }
        let mut madt = Madt { local_apic: u32_at(&bytes, HEADER_LEN), ..Madt::default() };
        let mut offset = ENTRIES;
        while offset < bytes.len() {
            let (kind, len) = match bytes.get(offset..offset + 2) {
                Some(&[kind, len]) => (kind, usize::from(len)),
                _ => return Err(malformed(offset)),
            };
            let entry = bytes.get(offset..offset + len).filter(|_| len >= 2).ok_or(malformed(offset))?;
            match kind {
                ENTRY_IO_APIC if len >= IO_APIC_LEN => {
                    madt.io_apics.push(IoApic { id: entry[2], address: u32_at(entry, 4), gsi_base: u32_at(entry, 8) })
                }
                ENTRY_OVERRIDE if len >= OVERRIDE_LEN && entry[2] == ISA_BUS => {
                    madt.overrides.push(isa_override(entry[3], u32_at(entry, 4), u16_at(entry, 8)))
                }
                // An override of another source bus: ACPI defines none.
                ENTRY_OVERRIDE if len >= OVERRIDE_LEN => {}
                ENTRY_IO_APIC | ENTRY_OVERRIDE => return Err(malformed(offset)),
                _ => {}
            }
            offset += len;
        }
        Ok(Some(madt))
    }
}

/// An override's MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3, where 0
/// "conforms to the bus" (ISA: edge, active high) and 2 is reserved (taken as conforming).
fn isa_override(irq: u8, gsi: u32, flags: u16) -> IsaOverride {
    let polarity = if flags & 0b11 == 0b11 { Polarity::ActiveLow } else { Polarity::ActiveHigh };
    let trigger = if (flags >> 2) & 0b11 == 0b11 { Trigger::Level } else { Trigger::Edge };
    IsaOverride { irq, gsi, polarity, trigger }
}
