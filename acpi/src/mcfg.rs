//! The MCFG (PCI Firmware 3.2, 4.1.2): one entry per PCI segment group range with its ECAM
//! base address.

use alloc::vec::Vec;

use crate::memory::{u16_at, u64_at};
use crate::sdt::HEADER_LEN;
use crate::{AcpiError, Memory, Tables};

/// 8 reserved bytes follow the header.
const ENTRIES: usize = HEADER_LEN + 8;
const ENTRY_LEN: usize = 16;

/// Where the configuration space of buses `start_bus..=end_bus` of segment `segment` is
/// memory mapped: bus n at `base + (n << 20)`, `base` being where bus 0 would be (so the
/// window starts at [`first_bus_address`](Self::first_bus_address)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcamWindow {
    pub base: u64,
    pub segment: u16,
    pub start_bus: u8,
    pub end_bus: u8,
}

impl EcamWindow {
    /// Where bus `start_bus`'s configuration space starts.
    pub fn first_bus_address(&self) -> Option<u64> {
        self.base.checked_add(u64::from(self.start_bus) << 20)
    }
}

impl Tables {
    /// The MCFG's ECAM windows; empty without an MCFG. Entries with the end bus before the
    /// start bus are an error.
    pub fn ecam_windows(&self, memory: &dyn Memory) -> Result<Vec<EcamWindow>, AcpiError> {
        let Some(bytes) = self.read(memory, b"MCFG")? else { return Ok(Vec::new()) };
        let entries = bytes.get(ENTRIES..).unwrap_or_default();
        let mut windows = Vec::new();
        for (index, entry) in entries.chunks(ENTRY_LEN).enumerate() {
            let offset = ENTRIES + index * ENTRY_LEN;
            if entry.len() < ENTRY_LEN || entry[11] < entry[10] {
                return Err(AcpiError::Entry { table: "MCFG", offset });
            }
            windows.push(EcamWindow { base: u64_at(entry, 0), segment: u16_at(entry, 8), start_bus: entry[10], end_bus: entry[11] });
        }
        Ok(windows)
    }
}
