//! GICv3's per-CPU parts: the redistributor (GICR), found by the CPU's affinity and woken up,
//! whose SGI frame holds the private interrupts; and the CPU interface, which is system
//! registers ([`IccAccess`]).

use registry::mmio::{MmioWindow, OutOfWindow};
use registry::Platform;

use crate::bits::wait_clear;
use crate::distributor::{self, IGROUPR};
use crate::GicError;

/// Redistributor frames are 64 KiB: RD_base (control), then SGI_base (private interrupts).
const FRAME: usize = 0x1_0000;
const CTLR: usize = 0x0000;
const TYPER: usize = 0x0008;
const WAKER: usize = 0x0014;
/// TYPER (low word): this is the region's last redistributor.
const TYPER_LAST: u32 = 1 << 4;
/// TYPER (low word): virtual LPIs, whose two extra frames make the redistributor 256 KiB.
const TYPER_VLPIS: u32 = 1 << 1;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// CTLR: a write to an enable register is still being applied.
const CTLR_RWP: u32 = 1 << 3;

/// The CPU interface's system registers the driver uses (GICv3 12.2, group 1 at EL1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IccRegister {
    /// ICC_SRE_EL1: system register interface enable.
    Sre,
    /// ICC_PMR_EL1: priority mask.
    Pmr,
    /// ICC_BPR1_EL1: binary point (preemption grouping).
    Bpr1,
    /// ICC_CTLR_EL1: EOI mode and more.
    Ctlr,
    /// ICC_IGRPEN1_EL1: group 1 enable.
    Igrpen1,
    /// ICC_IAR1_EL1: acknowledge (read).
    Iar1,
    /// ICC_EOIR1_EL1: end of interrupt (write).
    Eoir1,
}

/// Access to the calling CPU's [`IccRegister`]s: the real registers on aarch64
/// (`arm_gic::system_registers()`), a fake in tests. Writes must be complete
/// (synchronised) when `write` returns.
pub trait IccAccess: Sync {
    fn read(&self, register: IccRegister) -> u64;
    fn write(&self, register: IccRegister, value: u64);
}

/// ICC_SRE_EL1.SRE: use the system registers (not a memory-mapped CPU interface).
const SRE: u64 = 1;
/// ICC_SRE_EL1: SRE, and bypass of the legacy IRQ/FIQ lines disabled (DFB, DIB).
const SRE_ENABLE: u64 = 0b111;
/// Same meaning as GICv2's GICC_PMR: every programmed priority gets through.
const PRIORITY_MASK: u64 = crate::v2::PRIORITY_MASK as u64;

/// The boot CPU's redistributor in a redistributor region.
pub(crate) struct Redistributor {
    regs: MmioWindow,
    /// Offset of its RD_base frame in the region.
    base: usize,
}

impl Redistributor {
    /// Walks the region's redistributors for the one whose `GICR_TYPER` affinity is
    /// `affinity` (Aff3.Aff2.Aff1.Aff0, a byte each), within the window.
    pub(crate) fn find(regs: MmioWindow, affinity: u32) -> Result<Self, GicError> {
        let mut base = 0usize;
        while base.checked_add(2 * FRAME).is_some_and(|end| end <= regs.size()) {
            let (typer, typer_affinity) = (regs.read32(base + TYPER)?, regs.read32(base + TYPER + 4)?);
            if typer_affinity == affinity {
                return Ok(Redistributor { regs, base });
            }
            if typer & TYPER_LAST != 0 {
                break;
            }
            base += if typer & TYPER_VLPIS != 0 { 4 * FRAME } else { 2 * FRAME };
        }
        Err(GicError::NoRedistributor { affinity })
    }

    /// Wakes the redistributor (it starts asleep: interrupts are not forwarded), then puts
    /// the private interrupts in group 1, disabled and inactive.
    pub(crate) fn init(&self, platform: &dyn Platform) -> Result<(), GicError> {
        let waker = self.regs.read32(self.base + WAKER)?;
        self.regs.write32(self.base + WAKER, waker & !WAKER_PROCESSOR_SLEEP)?;
        wait_clear(&self.regs, self.base + WAKER, WAKER_CHILDREN_ASLEEP, platform, "the GIC redistributor to wake")?;
        self.regs.write32(self.sgi_frame() + IGROUPR, !0)?;
        distributor::quiesce_private(&self.regs, self.sgi_frame())?;
        self.wait_for_writes(platform)
    }

    fn wait_for_writes(&self, platform: &dyn Platform) -> Result<(), GicError> {
        wait_clear(&self.regs, self.base + CTLR, CTLR_RWP, platform, "the GIC redistributor to apply a write")
    }

    /// The window and the offset of the RD_base frame in it, for the LPI registers (lpi.rs).
    pub(crate) fn rd_base(&self) -> (&MmioWindow, usize) {
        (&self.regs, self.base)
    }

    /// The RD_base frame's physical address, by which an ITS with `GITS_TYPER.PTA` set names
    /// the redistributor.
    pub(crate) fn phys(&self) -> u64 {
        self.regs.phys() + self.base as u64
    }

    /// `GICR_TYPER.Processor_Number`, by which an ITS without `PTA` names the redistributor.
    pub(crate) fn processor_number(&self) -> Result<u16, OutOfWindow> {
        Ok((self.regs.read32(self.base + TYPER)? >> 8) as u16)
    }

    fn sgi_frame(&self) -> usize {
        self.base + FRAME
    }

    pub(crate) fn enable_private(&self, intid: u32) -> Result<(), OutOfWindow> {
        distributor::enable_private(&self.regs, self.sgi_frame(), intid)
    }

    pub(crate) fn disable_private(&self, intid: u32) -> Result<(), OutOfWindow> {
        crate::bits::write_bit(&self.regs, self.sgi_frame() + distributor::ICENABLER, intid)
    }
}

/// Turns the CPU interface on: system registers, every priority unmasked, no preemption
/// grouping, EOI both drops priority and deactivates (EOImode 0), group 1 signalled.
pub(crate) fn init_cpu_interface(icc: &dyn IccAccess) -> Result<(), GicError> {
    icc.write(IccRegister::Sre, SRE_ENABLE);
    if icc.read(IccRegister::Sre) & SRE == 0 {
        return Err(GicError::SystemRegistersDisabled);
    }
    icc.write(IccRegister::Pmr, PRIORITY_MASK);
    icc.write(IccRegister::Bpr1, 0);
    icc.write(IccRegister::Ctlr, 0);
    icc.write(IccRegister::Igrpen1, 1);
    Ok(())
}

/// `MPIDR_EL1`'s affinity in `GICR_TYPER`'s layout: Aff3 (bits 39:32) moved down to 31:24.
pub(crate) fn typer_affinity(mpidr: u64) -> u32 {
    (mpidr & 0xff_ffff) as u32 | ((mpidr >> 32) as u32 & 0xff) << 24
}

/// `MPIDR_EL1`'s affinity fields, which `GICD_IROUTER` takes in the same places.
pub(crate) fn router_affinity(mpidr: u64) -> u64 {
    mpidr & 0xff_00ff_ffff
}
