//! The GICv2 CPU interface (GICC): memory-mapped, one per CPU at the same address.

use registry::mmio::{MmioWindow, OutOfWindow};

const CTLR: usize = 0x00;
const PMR: usize = 0x04;
const BPR: usize = 0x08;
const IAR: usize = 0x0c;
const EOIR: usize = 0x10;
/// Signal interrupts to the CPU (group 0 without security extensions, group 1 as a non-secure
/// kernel sees it); acknowledging also deactivates (EOImode 0).
const CTLR_ENABLE: u32 = 1;

/// Interrupts of a priority value below this reach the CPU: every line the driver programs.
pub(crate) const PRIORITY_MASK: u32 = 0xf0;

pub(crate) struct CpuInterface {
    regs: MmioWindow,
}

impl CpuInterface {
    /// Unmasks every priority the driver uses, with no preemption grouping, and turns
    /// signalling on.
    pub(crate) fn init(regs: MmioWindow) -> Result<Self, OutOfWindow> {
        // Acknowledging must not fail later for want of a register.
        if regs.size() < EOIR + 4 {
            return Err(OutOfWindow { offset: EOIR, width: 4 });
        }
        regs.write32(PMR, PRIORITY_MASK)?;
        regs.write32(BPR, 0)?;
        regs.write32(CTLR, CTLR_ENABLE)?;
        Ok(CpuInterface { regs })
    }

    /// The raw acknowledge value (INTID, and the source CPU of an SGI).
    pub(crate) fn acknowledge(&self) -> Result<u32, OutOfWindow> {
        self.regs.read32(IAR)
    }

    /// Ends the interrupt with exactly what acknowledging returned.
    pub(crate) fn end(&self, acknowledged: u32) -> Result<(), OutOfWindow> {
        self.regs.write32(EOIR, acknowledged)
    }
}
