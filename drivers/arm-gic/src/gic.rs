//! [`Gic`]: a brought-up GIC of either version, as the kernel's interrupt path uses it.

use alloc::format;
use alloc::string::String;
use core::ops::{Range, RangeInclusive};

use registry::mmio::MmioWindow;
use registry::{Irq, IrqError, Platform};
use spin::Once;

use crate::distributor::{self, Distributor, Target};
use crate::line::{FIRST_SPECIAL, FIRST_SPI};
use crate::lpi::{Lpis, FIRST_LPI};
use crate::v3::{self, IccAccess, IccRegister, Redistributor};
use crate::{msi, v2, GicError, Line, Trigger};

/// The INTIDs an acknowledge returns to say there is nothing (more) to take (1023: none
/// pending); below are SGIs, PPIs and SPIs, from 8192 LPIs.
const SPECIAL: RangeInclusive<u32> = FIRST_SPECIAL..=1023;

/// A GIC with its distributor and the boot CPU's interface up, every line disabled until
/// [`enable`](Self::enable)d. All methods take `&self`: the registers are the state, and the
/// interrupt path acknowledges while the kernel enables.
pub struct Gic {
    /// The device-tree node, which device interrupts name as their controller.
    path: String,
    distributor: Distributor,
    cpu: Cpu,
    /// GICv3: the LPI tables at the boot CPU's redistributor, once an ITS set them up.
    lpis: Once<Lpis>,
}

enum Cpu {
    V2 { interface: v2::CpuInterface, targets: u8 },
    V3 { redistributor: Redistributor, icc: &'static dyn IccAccess, affinity: u64 },
}

/// An interrupt taken from the CPU interface, to be ended with
/// [`end_of_interrupt`](Gic::end_of_interrupt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acknowledged {
    /// What the acknowledge register returned, which ending the interrupt hands back.
    raw: u32,
    intid: u32,
}

impl Acknowledged {
    pub fn intid(self) -> u32 {
        self.intid
    }
}

impl Gic {
    /// Brings up a GICv2 (`path` its DT node): distributor `gicd`, CPU interface `gicc`.
    pub fn v2(path: &str, gicd: MmioWindow, gicc: MmioWindow) -> Result<Gic, GicError> {
        let distributor = Distributor::new(gicd)?;
        distributor.init_v2()?;
        distributor::quiesce_private(distributor.regs(), 0)?;
        let targets = distributor.this_cpu_mask()?;
        let interface = v2::CpuInterface::init(gicc)?;
        Ok(Gic { path: path.into(), distributor, cpu: Cpu::V2 { interface, targets }, lpis: Once::new() })
    }

    /// Brings up a GICv3: distributor `gicd`, the redistributor of the CPU with `mpidr` in
    /// region `gicr`, and that CPU's interface through `icc`.
    pub fn v3(
        path: &str,
        gicd: MmioWindow,
        gicr: MmioWindow,
        mpidr: u64,
        icc: &'static dyn IccAccess,
        platform: &dyn Platform,
    ) -> Result<Gic, GicError> {
        let distributor = Distributor::new(gicd)?;
        distributor.init_v3(platform)?;
        let redistributor = Redistributor::find(gicr, v3::typer_affinity(mpidr))?;
        redistributor.init(platform)?;
        v3::init_cpu_interface(icc)?;
        let affinity = v3::router_affinity(mpidr);
        Ok(Gic { path: path.into(), distributor, cpu: Cpu::V3 { redistributor, icc, affinity }, lpis: Once::new() })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// 2 or 3.
    pub fn version(&self) -> u8 {
        match self.cpu {
            Cpu::V2 { .. } => 2,
            Cpu::V3 { .. } => 3,
        }
    }

    /// How many INTIDs the GIC has below the LPIs, SGIs and PPIs included.
    pub fn lines(&self) -> u32 {
        self.distributor.lines()
    }

    /// The LPIs the GIC hands out (through its ITS), once an ITS set them up.
    pub fn lpis(&self) -> Option<Range<u32>> {
        self.lpis.get().map(Lpis::handed_out)
    }

    /// GICv3: sets the LPI tables up at the boot CPU's redistributor, the first time.
    pub(crate) fn enable_lpis(&self, platform: &'static dyn Platform) -> Result<&Lpis, GicError> {
        let rd = self.redistributor().ok_or_else(|| GicError::NoLpis("a GICv2 has none".into()))?;
        self.lpis.try_call_once(|| Lpis::set_up(&self.distributor, rd, platform))
    }

    /// GICv3: the boot CPU's redistributor.
    pub(crate) fn redistributor(&self) -> Option<&Redistributor> {
        match &self.cpu {
            Cpu::V3 { redistributor, .. } => Some(redistributor),
            Cpu::V2 { .. } => None,
        }
    }

    /// The LPI tables and the redistributor that reads them, if LPIs are on.
    fn lpi_tables(&self) -> Option<(&Lpis, &Redistributor)> {
        Some((self.lpis.get()?, self.redistributor()?))
    }

    /// The line `irq` names, if it belongs to this GIC and the GIC can signal it.
    /// A message-signalled interrupt names its MSI controller, and is an edge.
    pub fn line(&self, irq: &Irq) -> Result<Line, IrqError> {
        if let Some(controller) = msi::controller(&irq.controller) {
            let intid = irq.number.filter(|&intid| controller.owns(intid));
            let intid = intid.ok_or_else(|| IrqError::Invalid(format!("{} is not an interrupt of {}", irq.label, irq.controller)))?;
            self.check(intid).map_err(|error| IrqError::Invalid(format!("{error}")))?;
            return Ok(Line { intid, trigger: Trigger::Edge });
        }
        if irq.controller != self.path {
            let reason = format!("{} belongs to {}, not to the GIC {}", irq.label, irq.controller, self.path);
            return Err(IrqError::Invalid(reason));
        }
        let line = Line::from_specifier(irq).map_err(IrqError::Invalid)?;
        self.check(line.intid).map_err(|error| IrqError::Invalid(format!("{error}")))?;
        Ok(line)
    }

    fn check(&self, intid: u32) -> Result<(), GicError> {
        if intid >= FIRST_LPI {
            let handed_out = self.lpis().unwrap_or(FIRST_LPI..FIRST_LPI);
            return match handed_out.contains(&intid) {
                true => Ok(()),
                false => Err(GicError::NoSuchLpi { intid, handed_out }),
            };
        }
        match intid < self.lines() {
            true => Ok(()),
            false => Err(GicError::NoSuchLine { intid, lines: self.lines() }),
        }
    }

    /// Programs `line` (priority; an SPI's trigger and its route to the boot CPU) and
    /// enables it. An LPI's configuration byte gets the priority and the enable bit, and the
    /// redistributor is told (through the ITS: this waits for its command queue).
    pub fn enable(&self, line: Line) -> Result<(), GicError> {
        self.check(line.intid)?;
        if let (FIRST_LPI.., Some((lpis, rd))) = (line.intid, self.lpi_tables()) {
            return lpis.set_enabled(line.intid, true, rd);
        }
        match &self.cpu {
            _ if line.intid >= FIRST_SPI => {
                let target = match self.cpu {
                    Cpu::V2 { targets, .. } => Target::Cpus(targets),
                    Cpu::V3 { affinity, .. } => Target::Affinity(affinity),
                };
                self.distributor.enable_spi(line, target)?;
            }
            Cpu::V2 { .. } => distributor::enable_private(self.distributor.regs(), 0, line.intid)?,
            Cpu::V3 { redistributor, .. } => redistributor.enable_private(line.intid)?,
        }
        Ok(())
    }

    /// Disables line `intid`; callable from the interrupt path, as it takes no lock: a single
    /// register write, or for an LPI its enable bit cleared and the redistributor told. That
    /// goes through the ITS's command queue, which the interrupted thread may hold: then the
    /// thread tells the redistributor as it lets go of the queue, and until then the LPI may
    /// still be signalled.
    pub fn disable(&self, intid: u32) -> Result<(), GicError> {
        self.check(intid)?;
        if let (FIRST_LPI.., Some((lpis, rd))) = (intid, self.lpi_tables()) {
            return lpis.set_enabled(intid, false, rd);
        }
        match &self.cpu {
            _ if intid >= FIRST_SPI => self.distributor.disable_spi(intid)?,
            Cpu::V2 { .. } => crate::bits::write_bit(self.distributor.regs(), distributor::ICENABLER, intid)?,
            Cpu::V3 { redistributor, .. } => redistributor.disable_private(intid)?,
        }
        Ok(())
    }

    /// Takes the most urgent pending interrupt, if any (a special INTID says none is). GICv3
    /// INTIDs are 24 bits: LPIs (8192 and up) are taken like any other.
    pub fn acknowledge(&self) -> Option<Acknowledged> {
        let acknowledged = match &self.cpu {
            Cpu::V2 { interface, .. } => {
                // Bits 10-12 name the CPU that sent an SGI.
                let raw = interface.acknowledge().ok()?;
                Acknowledged { raw, intid: raw & 0x3ff }
            }
            Cpu::V3 { icc, .. } => {
                let raw = icc.read(IccRegister::Iar1) as u32 & 0xff_ffff;
                Acknowledged { raw, intid: raw }
            }
        };
        (!SPECIAL.contains(&acknowledged.intid)).then_some(acknowledged)
    }

    /// Ends an interrupt [`acknowledge`](Self::acknowledge) returned: its line may signal again.
    pub fn end_of_interrupt(&self, acknowledged: Acknowledged) {
        match &self.cpu {
            // The window holds GICC_EOIR (checked when the interface was brought up).
            Cpu::V2 { interface, .. } => {
                let _ = interface.end(acknowledged.raw);
            }
            Cpu::V3 { icc, .. } => icc.write(IccRegister::Eoir1, u64::from(acknowledged.raw)),
        }
    }
}
