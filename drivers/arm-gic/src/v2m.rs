//! GICv2m (`arm,gic-v2m-frame`): an MSI frame beside a GICv2 that turns a device's write of
//! an SPI number to its doorbell (`MSI_SETSPI_NS`) into that SPI, edge-triggered. The frame's
//! `MSI_TYPER` says which SPIs it may raise; they are handed out one per message, the data of
//! each message being its INTID. Devices are not told apart: the device ID is ignored.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use registry::mmio::MmioWindow;
use registry::msi::VectorPool;
use registry::{Irq, IrqError, Match, MsiMessage, MsiVector, ProbeContext, ProbeError};

use crate::line::{FIRST_SPECIAL, FIRST_SPI};
use crate::msi::{self, MsiController};

const MSI_TYPER: usize = 0x008;
/// The doorbell: writing an SPI's INTID here raises it.
const MSI_SETSPI_NS: u64 = 0x040;
const TYPER_BASE_SHIFT: u32 = 16;
const TYPER_FIELD_MASK: u32 = 0x3ff;

registry::register_driver!(GIC_V2M_DRIVER = registry::Driver {
    name: "gic-v2m",
    matches: &[Match::Compatible("arm,gic-v2m-frame")],
    priority: 0,
    class: None,
    probe,
    // An MSI controller stays for the kernel's life.
    remove: None,
});

/// A GICv2m frame and the SPIs it has left.
pub struct V2mFrame {
    path: String,
    doorbell: u64,
    spis: VectorPool,
}

impl V2mFrame {
    /// The frame at `path` whose registers are `regs` at physical address `base`, with the SPI
    /// range its `MSI_TYPER` gives, checked to be SPIs.
    pub fn new(path: &str, regs: &MmioWindow, base: u64) -> Result<V2mFrame, String> {
        let typer = regs.read32(MSI_TYPER).map_err(|error| format!("{error}"))?;
        let first = (typer >> TYPER_BASE_SHIFT) & TYPER_FIELD_MASK;
        let count = typer & TYPER_FIELD_MASK;
        let end = first + count;
        if count == 0 || first < FIRST_SPI || end > FIRST_SPECIAL {
            return Err(format!("MSI_TYPER {typer:#x}: SPIs {first}..{end} are no usable range"));
        }
        Ok(V2mFrame { path: path.into(), doorbell: base + MSI_SETSPI_NS, spis: VectorPool::new(first..end) })
    }

    /// The INTIDs the frame raises.
    pub fn spis(&self) -> core::ops::Range<u32> {
        self.spis.numbers()
    }
}

impl MsiController for V2mFrame {
    fn path(&self) -> &str {
        &self.path
    }

    fn allocate(&self, _device_id: u32, count: usize) -> Result<Vec<MsiVector>, IrqError> {
        let spis = self.spis.take(count).ok_or_else(|| IrqError::Invalid(format!("{}: fewer than {count} SPIs free", self.path)))?;
        Ok(spis
            .into_iter()
            .map(|intid| MsiVector {
                irq: Irq {
                    controller: self.path.clone(),
                    cells: alloc::vec![intid],
                    number: Some(intid),
                    label: format!("MSI {intid}"),
                },
                message: MsiMessage { address: self.doorbell, data: intid },
            })
            .collect())
    }

    fn free(&self, _device_id: u32, irq: &Irq) {
        if let Some(intid) = irq.number {
            self.spis.give_back(intid);
        }
    }

    fn owns(&self, intid: u32) -> bool {
        self.spis.numbers().contains(&intid)
    }
}

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let region = *ctx.device.regions.first().ok_or_else(|| ProbeError::failed("no frame registers (reg)"))?;
    let regs = MmioWindow::map(ctx.platform, region).map_err(ProbeError::failed)?;
    let frame = V2mFrame::new(&ctx.device.path, &regs, region.base).map_err(ProbeError::failed)?;
    let spis = frame.spis();
    ctx.set_info("interrupts", format!("INTIDs {}-{} (SPIs) for MSIs", spis.start, spis.end - 1));
    msi::register(Box::leak(Box::new(frame)));
    Ok(())
}
