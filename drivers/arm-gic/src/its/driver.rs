//! The registry driver: binds an ITS node (`arm,gic-v3-its`, a child of its GICv3's node) once
//! the system's GIC is up, and makes it an MSI controller.

use alloc::format;

use registry::mmio::MmioWindow;
use registry::{Match, ProbeContext, ProbeError};

use super::{Its, RdBase, FRAME_BYTES};
use crate::msi;

registry::register_driver!(ARM_GIC_ITS_DRIVER = registry::Driver {
    name: "arm-gic-its",
    matches: &[Match::Compatible("arm,gic-v3-its")],
    priority: 0,
    class: None,
    probe,
    // The ITS keeps using the memory it was given: it stays for the kernel's life.
    remove: None,
});

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let Some(&frame) = ctx.device.regions.first() else {
        return Err(ProbeError::failed("needs its register frame (reg)"));
    };
    if frame.size < FRAME_BYTES {
        let reason = format!("the register frame is {FRAME_BYTES:#x} bytes (control and translation pages); reg gives {:#x}", frame.size);
        return Err(ProbeError::failed(reason));
    }
    let Some(gic) = crate::system() else {
        return Err(ProbeError::Defer("waiting for the system's GICv3 to come up".into()));
    };
    if gic.version() != 3 {
        let reason = format!("an ITS needs a GICv3, and the system's interrupt controller {} is a GICv{}", gic.path(), gic.version());
        return Err(ProbeError::failed(reason));
    }
    let regs = MmioWindow::map(ctx.platform, frame).map_err(ProbeError::failed)?;
    let its = Its::bring_up(&ctx.device.path, regs, gic, ctx.platform).map_err(ProbeError::failed)?;
    msi::register(its);
    let lpis = gic.lpis().unwrap_or(0..0);
    ctx.set_info("lpis", format!("{}-{}", lpis.start, lpis.end.saturating_sub(1)));
    ctx.set_info("device ids", format!("{:#x}", its.device_ids()));
    ctx.set_info("events per device", format!("{}", its.events_per_device()));
    let target = match its.target() {
        RdBase::ProcessorNumber(number) => format!("redistributor of processor {number}"),
        RdBase::Physical(address) => format!("redistributor at {address:#x}"),
    };
    ctx.set_info("lpis to", target);
    Ok(())
}
