//! The distributor (GICD), shared by GICv2 and GICv3: how many interrupts exist, and each
//! shared peripheral interrupt's enable, priority, trigger and target. The per-interrupt
//! arrays sit at the same offsets in the GICv3 redistributor's SGI frame.

use registry::mmio::{MmioWindow, OutOfWindow};
use registry::Platform;

use crate::bits::{wait_clear, write_all_bits, write_bit, write_byte, write_pair};
use crate::line::{FIRST_SPECIAL, FIRST_SPI};
use crate::{GicError, Line, Trigger};

pub(crate) const IGROUPR: usize = 0x080;
pub(crate) const ISENABLER: usize = 0x100;
pub(crate) const ICENABLER: usize = 0x180;
pub(crate) const ICACTIVER: usize = 0x380;
pub(crate) const IPRIORITYR: usize = 0x400;
const CTLR: usize = 0x000;
const TYPER: usize = 0x004;
const ITARGETSR: usize = 0x800;
const ICFGR: usize = 0xc00;
/// GICv3: one 64-bit routing register per INTID.
const IROUTER: usize = 0x6000;

/// GICv2: forward interrupts to the CPU interfaces (group 0 without security extensions, the
/// group everything resets to; group 1 as seen by a non-secure kernel).
const CTLR_V2_ENABLE: u32 = 1;
/// GICv3: both groups on (EnableGrp0, EnableGrp1) and affinity routing (ARE).
const CTLR_V3_ENABLE: u32 = 1 << 0 | 1 << 1 | 1 << 4;
/// GICv3: a write to CTLR or to an enable is still being applied.
const CTLR_RWP: u32 = 1 << 31;
/// GICv3 TYPER: the GIC supports LPIs.
const TYPER_LPIS: u32 = 1 << 17;
/// GICv3 TYPER: IDbits, the number of INTID bits the GIC takes, minus one.
const TYPER_ID_BITS_SHIFT: u32 = 19;
/// ICFGR: the second bit of a line's pair selects edge triggering.
const EDGE: u32 = 0b10;

/// Every line's priority: one level for all, below the CPU interface's mask (lower is more
/// urgent; the kernel does not nest interrupts, so one level is all it needs).
pub(crate) const PRIORITY: u8 = 0xa0;

/// Where a shared interrupt goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// GICv2: a mask of CPU interfaces.
    Cpus(u8),
    /// GICv3: a CPU's affinity, in `GICD_IROUTER` layout (that of `MPIDR_EL1`).
    Affinity(u64),
}

pub(crate) struct Distributor {
    regs: MmioWindow,
    lines: u32,
}

impl Distributor {
    pub(crate) fn new(regs: MmioWindow) -> Result<Self, GicError> {
        let lines_field = regs.read32(TYPER)? & 0x1f;
        let lines = (32 * (lines_field + 1)).min(FIRST_SPECIAL);
        Ok(Distributor { regs, lines })
    }

    /// How many INTIDs the distributor has (SGIs and PPIs included).
    pub(crate) fn lines(&self) -> u32 {
        self.lines
    }

    /// GICv3: how many INTID bits the GIC takes, if it supports LPIs.
    pub(crate) fn lpi_id_bits(&self) -> Result<Option<u32>, OutOfWindow> {
        let typer = self.regs.read32(TYPER)?;
        Ok((typer & TYPER_LPIS != 0).then_some((typer >> TYPER_ID_BITS_SHIFT & 0x1f) + 1))
    }

    /// The window, for the GICv2 CPU's banked private-interrupt registers.
    pub(crate) fn regs(&self) -> &MmioWindow {
        &self.regs
    }

    /// Stops forwarding, then disables and deactivates every SPI, so nothing a boot loader left
    /// enabled fires before the kernel has a handler for it.
    fn quiesce(&self) -> Result<(), OutOfWindow> {
        self.regs.write32(CTLR, 0)?;
        write_all_bits(&self.regs, ICENABLER, FIRST_SPI, self.lines, !0)?;
        write_all_bits(&self.regs, ICACTIVER, FIRST_SPI, self.lines, !0)
    }

    pub(crate) fn init_v2(&self) -> Result<(), GicError> {
        self.quiesce()?;
        Ok(self.regs.write32(CTLR, CTLR_V2_ENABLE)?)
    }

    /// GICv3: every SPI in group 1 (the group the CPU interface signals as IRQ at EL1), then
    /// affinity routing and both groups on, each step waited for.
    pub(crate) fn init_v3(&self, platform: &dyn Platform) -> Result<(), GicError> {
        self.quiesce()?;
        self.wait_for_writes(platform)?;
        write_all_bits(&self.regs, IGROUPR, FIRST_SPI, self.lines, !0)?;
        self.regs.write32(CTLR, CTLR_V3_ENABLE)?;
        self.wait_for_writes(platform)
    }

    fn wait_for_writes(&self, platform: &dyn Platform) -> Result<(), GicError> {
        wait_clear(&self.regs, CTLR, CTLR_RWP, platform, "the GIC distributor to apply a write")
    }

    /// The CPU interface mask of the CPU reading it: GICv2's banked ITARGETSR0-7 read back the
    /// reader's own bit. A uniprocessor GIC reads 0 there and ignores targets: CPU 0 it is.
    pub(crate) fn this_cpu_mask(&self) -> Result<u8, OutOfWindow> {
        let mut mask = 0;
        for register in 0..8 {
            mask |= self.regs.read32(ITARGETSR + 4 * register)?;
        }
        let mask = (mask | mask >> 8 | mask >> 16 | mask >> 24) as u8;
        Ok(if mask == 0 { 1 } else { mask })
    }

    /// Programs SPI `line` (priority, trigger, target) and enables it.
    pub(crate) fn enable_spi(&self, line: Line, target: Target) -> Result<(), OutOfWindow> {
        let intid = line.intid;
        write_byte(&self.regs, IPRIORITYR, intid, PRIORITY)?;
        write_pair(&self.regs, ICFGR, intid, if line.trigger == Trigger::Edge { EDGE } else { 0 })?;
        match target {
            Target::Cpus(mask) => write_byte(&self.regs, ITARGETSR, intid, mask)?,
            Target::Affinity(affinity) => {
                // A 64-bit register, written as two 32-bit halves (which GICv3 allows).
                let router = IROUTER + 8 * intid as usize;
                self.regs.write32(router, affinity as u32)?;
                self.regs.write32(router + 4, (affinity >> 32) as u32)?;
            }
        }
        write_bit(&self.regs, ISENABLER, intid)
    }

    pub(crate) fn disable_spi(&self, intid: u32) -> Result<(), OutOfWindow> {
        write_bit(&self.regs, ICENABLER, intid)
    }
}

/// Gives private interrupt `intid` its priority and enables it, in the arrays at `frame` of
/// `regs` (the GICv2 distributor's banked ones, or a GICv3 redistributor's SGI frame).
pub(crate) fn enable_private(regs: &MmioWindow, frame: usize, intid: u32) -> Result<(), OutOfWindow> {
    write_byte(regs, frame + IPRIORITYR, intid, PRIORITY)?;
    write_bit(regs, frame + ISENABLER, intid)
}

/// Disables and deactivates every private interrupt in the arrays at `frame` of `regs`.
pub(crate) fn quiesce_private(regs: &MmioWindow, frame: usize) -> Result<(), OutOfWindow> {
    write_all_bits(regs, frame + ICENABLER, 0, FIRST_SPI, !0)?;
    write_all_bits(regs, frame + ICACTIVER, 0, FIRST_SPI, !0)
}
