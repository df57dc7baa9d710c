//! LPIs (locality-specific peripheral interrupts, INTIDs from 8192): the interrupts an ITS turns
//! device messages into. Their state is in memory the boot CPU's redistributor reads: the
//! configuration table (`GICR_PROPBASER`: a byte per LPI, priority and enable) and the pending
//! table (`GICR_PENDBASER`: a bit per INTID). Set up once, by the first ITS's probe; the
//! redistributor may cache configuration bytes, so a change is followed by an invalidation:
//! `GICR_INVLPIR` where the redistributor has DirectLPI, else an INV command through the ITS.

use alloc::format;
use core::ops::Range;
use core::sync::atomic::Ordering;

use registry::msi::VectorPool;
use registry::Platform;
use spin::Once;

use crate::bits::{read64, wait_register, write64};
use crate::distributor::{Distributor, PRIORITY};
use crate::dma::GicMemory;
use crate::its::{Its, QueueAccess};
use crate::v3::Redistributor;
use crate::GicError;

/// The first LPI's INTID.
pub const FIRST_LPI: u32 = 8192;
/// INTID bits the tables cover: 14, the fewest that reach LPIs (8192..16384), which makes the
/// configuration table 8 KiB and the pending table 2 KiB.
const ID_BITS: u32 = 14;
/// LPIs handed out: 8192..9216, 32 events for each of 32 devices. The ITS keeps 8 bytes per
/// LPI for invalidations from interrupt handlers, so not all 8192 the tables cover.
pub(crate) const HANDED_OUT: u32 = 1024;
const CONFIG_BYTES: usize = (1 << ID_BITS) - FIRST_LPI as usize;
const PENDING_BYTES: usize = (1 << ID_BITS) / 8;
const CONFIG_ALIGN: usize = 4096;
const PENDING_ALIGN: usize = 0x1_0000;

/// Configuration byte: priority in bits 7:2 (as for SPIs), bit 1 RES1, bit 0 enable.
const CONFIG_DISABLED: u8 = PRIORITY | 0b10;
const CONFIG_ENABLE: u8 = 0b1;

/// RD_base registers.
const CTLR: usize = 0x00;
const TYPER: usize = 0x08;
const PROPBASER: usize = 0x70;
const PENDBASER: usize = 0x78;
const INVLPIR: usize = 0xa0;
const SYNCR: usize = 0xc0;
const CTLR_ENABLE_LPIS: u32 = 1;
const TYPER_PLPIS: u64 = 1;
const TYPER_DIRECT_LPI: u64 = 1 << 3;
const SYNCR_BUSY: u32 = 1;

/// How the GIC reads its tables, the same fields in PROPBASER, PENDBASER, GITS_BASER and
/// GITS_CBASER (at different places): inner shareable, normal memory, inner write-back with
/// read and write allocation, outer as inner (0): how the kernel maps RAM.
pub(crate) const INNER_SHAREABLE: u64 = 0b01;
pub(crate) const WRITE_BACK: u64 = 0b111;
const ATTRIBUTES: u64 = INNER_SHAREABLE << 10 | WRITE_BACK << 7;
const PROPBASER_ADDRESS: u64 = 0x000f_ffff_ffff_f000;
const PENDBASER_ADDRESS: u64 = 0x000f_ffff_ffff_0000;
/// PENDBASER: the pending table is zero, the redistributor need not read it.
const PENDBASER_PTZ: u64 = 1 << 62;

pub(crate) struct Lpis {
    config: GicMemory,
    /// Never read by the CPU; kept for the redistributor, which owns it from now on.
    _pending: GicMemory,
    pool: VectorPool,
    /// The redistributor takes invalidations itself (`GICR_TYPER.DirectLPI`).
    direct: bool,
    platform: &'static dyn Platform,
    /// The ITS that maps events to these LPIs, once up; invalidations go through it.
    its: Once<&'static Its>,
}

impl Lpis {
    /// Checks that the GIC and the redistributor `rd` support LPIs, gives the redistributor its
    /// tables (every LPI disabled) and turns LPIs on there.
    pub(crate) fn set_up(distributor: &Distributor, rd: &Redistributor, platform: &'static dyn Platform) -> Result<Lpis, GicError> {
        let no_lpis = |reason: &str| GicError::NoLpis(reason.into());
        let id_bits = distributor.lpi_id_bits()?.ok_or_else(|| no_lpis("the distributor does not support them (GICD_TYPER.LPIS is 0)"))?;
        if id_bits < ID_BITS {
            return Err(GicError::NoLpis(format!("the distributor takes {id_bits}-bit INTIDs, too few to reach 8192")));
        }
        let (regs, base) = rd.rd_base();
        let typer = read64(regs, base + TYPER)?;
        if typer & TYPER_PLPIS == 0 {
            return Err(no_lpis("the redistributor does not support physical LPIs (GICR_TYPER.PLPIS is 0)"));
        }
        let ctlr = regs.read32(base + CTLR)?;
        if ctlr & CTLR_ENABLE_LPIS != 0 {
            // Its tables may then not be replaced (and EnableLPIs may not clear).
            return Err(no_lpis("an earlier boot stage left them enabled at the redistributor"));
        }
        let config = GicMemory::new(platform, CONFIG_BYTES, CONFIG_ALIGN)?;
        (0..CONFIG_BYTES).for_each(|offset| config.byte(offset).store(CONFIG_DISABLED, Ordering::Relaxed));
        config.clean(0, CONFIG_BYTES);
        let pending = GicMemory::new(platform, PENDING_BYTES, PENDING_ALIGN)?;

        let propbaser = config.phys() & PROPBASER_ADDRESS | ATTRIBUTES | u64::from(ID_BITS - 1);
        write64(regs, base + PROPBASER, propbaser)?;
        write64(regs, base + PENDBASER, PENDBASER_PTZ | pending.phys() & PENDBASER_ADDRESS | ATTRIBUTES)?;
        let taken = read64(regs, base + PROPBASER)? & PROPBASER_ADDRESS == config.phys()
            && read64(regs, base + PENDBASER)? & PENDBASER_ADDRESS == pending.phys();
        if !taken {
            return Err(no_lpis("the redistributor did not take the addresses of the LPI tables"));
        }
        regs.write32(base + CTLR, ctlr | CTLR_ENABLE_LPIS)?;
        let pool = VectorPool::new(FIRST_LPI..FIRST_LPI + HANDED_OUT);
        Ok(Lpis { config, _pending: pending, pool, direct: typer & TYPER_DIRECT_LPI != 0, platform, its: Once::new() })
    }

    /// The LPIs handed out.
    pub(crate) fn handed_out(&self) -> Range<u32> {
        self.pool.numbers()
    }

    pub(crate) fn pool(&self) -> &VectorPool {
        &self.pool
    }

    /// The ITS serving these LPIs, if one is up.
    pub(crate) fn its(&self) -> Option<&'static Its> {
        self.its.get().copied()
    }

    /// Makes `its` the one that invalidates configuration changes (the first to call wins).
    pub(crate) fn attach(&self, its: &'static Its) {
        self.its.call_once(|| its);
    }

    /// Sets or clears LPI `intid`'s enable bit and makes the redistributor see it. Enabling
    /// waits for the ITS's command queue; disabling, which interrupt handlers do, never waits
    /// for it (see [`Its::invalidate`]).
    pub(crate) fn set_enabled(&self, intid: u32, enabled: bool, rd: &Redistributor) -> Result<(), GicError> {
        let offset = self.offset(intid);
        match enabled {
            true => self.config.byte(offset).fetch_or(CONFIG_ENABLE, Ordering::Relaxed),
            false => self.config.byte(offset).fetch_and(!CONFIG_ENABLE, Ordering::Relaxed),
        };
        // Before the redistributor is told to look: a GIC that does not snoop caches reads it
        // from memory (QEMU's is coherent, so there this costs one cache maintenance op).
        self.config.clean(offset, 1);
        if self.direct {
            return self.invalidate_directly(intid, rd);
        }
        match self.its() {
            Some(its) => its.invalidate(intid, if enabled { QueueAccess::Wait } else { QueueAccess::IfFree }),
            // Without an ITS no event maps to the LPI: nothing can raise it, nothing is cached.
            None => Ok(()),
        }
    }

    /// Puts LPI `intid`'s configuration back to disabled without telling the redistributor:
    /// for an LPI no event maps to any more, which nothing can raise until it is mapped and
    /// enabled again (which invalidates).
    pub(crate) fn reset(&self, intid: u32) {
        let offset = self.offset(intid);
        self.config.byte(offset).store(CONFIG_DISABLED, Ordering::Relaxed);
        self.config.clean(offset, 1);
    }

    /// Where LPI `intid`'s byte is in the configuration table.
    fn offset(&self, intid: u32) -> usize {
        (intid - FIRST_LPI) as usize
    }

    /// `GICR_INVLPIR`, one invalidation at a time: an interrupt handler's may come between the
    /// thread's write and its wait, so each first waits for the one before it. No lock, so an
    /// interrupt handler can do it too.
    fn invalidate_directly(&self, intid: u32, rd: &Redistributor) -> Result<(), GicError> {
        let (regs, base) = rd.rd_base();
        let what = "the redistributor to invalidate an LPI's configuration";
        wait_register(regs, base + SYNCR, self.platform, what, |syncr| syncr & SYNCR_BUSY == 0)?;
        write64(regs, base + INVLPIR, u64::from(intid))?;
        wait_register(regs, base + SYNCR, self.platform, what, |syncr| syncr & SYNCR_BUSY == 0).map(drop)
    }
}
