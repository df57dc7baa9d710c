//! [`PciFunction`]: what a PCI function's driver gets as `bus_data`: its configuration space,
//! its BARs with CPU addresses, its capabilities, and decode/bus-master control.

use alloc::sync::Arc;
use alloc::vec::Vec;

use registry::{MmioRegion, MsiSource, PciIds};

use crate::bar::{Bar, BarKind};
use crate::caps::Capability;
use crate::config::{Bdf, ConfigAccess};
use crate::regs::{COMMAND, COMMAND_BUS_MASTER, COMMAND_INTX_DISABLE, COMMAND_IO, COMMAND_MEMORY};

/// Configuration space of one function (4 KiB with ECAM).
const CONFIG_SIZE: u16 = 4096;

/// A BAR as the CPU reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MappedBar {
    pub bar: Bar,
    /// Where the CPU sees the BAR (`None` if it is unassigned or outside every window).
    pub cpu_address: Option<u64>,
}

pub struct PciFunction {
    config: Arc<dyn ConfigAccess>,
    pub bdf: Bdf,
    pub ids: PciIds,
    pub bars: Vec<MappedBar>,
    pub capabilities: Vec<Capability>,
    /// Where the function's message-signalled interrupts go, if the host says
    /// (see [`MsixTable`](crate::msix::MsixTable)).
    pub msi: Option<MsiSource>,
}

impl core::fmt::Debug for PciFunction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PciFunction").field("bdf", &self.bdf).field("ids", &self.ids).field("bars", &self.bars).finish()
    }
}

impl PciFunction {
    pub(crate) fn new(config: Arc<dyn ConfigAccess>, bdf: Bdf, ids: PciIds, bars: Vec<MappedBar>, capabilities: Vec<Capability>, msi: Option<MsiSource>) -> Self {
        PciFunction { config, bdf, ids, bars, capabilities, msi }
    }

    /// A configuration register; offsets past the function's space read as all ones.
    pub fn read32(&self, offset: u16) -> u32 {
        if offset >= CONFIG_SIZE { u32::MAX } else { self.config.read32(self.bdf, offset) }
    }

    pub fn read16(&self, offset: u16) -> u16 {
        if offset >= CONFIG_SIZE { u16::MAX } else { self.config.read16(self.bdf, offset) }
    }

    pub fn read8(&self, offset: u16) -> u8 {
        if offset >= CONFIG_SIZE { u8::MAX } else { self.config.read8(self.bdf, offset) }
    }

    pub fn write32(&self, offset: u16, value: u32) {
        if offset < CONFIG_SIZE {
            self.config.write32(self.bdf, offset, value);
        }
    }

    pub fn write16(&self, offset: u16, value: u16) {
        if offset < CONFIG_SIZE {
            self.config.write16(self.bdf, offset, value);
        }
    }

    /// The CPU-physical region of BAR `index`, if it is an assigned memory BAR.
    pub fn memory_bar(&self, index: u8) -> Option<MmioRegion> {
        let mapped = self.bars.iter().find(|m| m.bar.index == index && m.bar.kind != BarKind::Io)?;
        Some(MmioRegion { base: mapped.cpu_address?, size: mapped.bar.size })
    }

    /// Turns on memory and I/O decoding for the BARs the function has, and bus mastering
    /// (needed for DMA) when asked; legacy INTx is left as it is.
    pub fn enable(&self, bus_master: bool) {
        let mut command = self.config.read16(self.bdf, COMMAND) & !COMMAND_INTX_DISABLE;
        for mapped in self.bars.iter().filter(|m| m.cpu_address.is_some()) {
            command |= if mapped.bar.kind == BarKind::Io { COMMAND_IO } else { COMMAND_MEMORY };
        }
        if bus_master {
            command |= COMMAND_BUS_MASTER;
        }
        self.config.write16(self.bdf, COMMAND, command);
    }
}
