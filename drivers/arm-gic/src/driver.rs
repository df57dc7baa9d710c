//! The registry driver: binds the GIC's device-tree node, brings the GIC up and makes it the
//! system's interrupt controller.

use alloc::format;

use registry::mmio::MmioWindow;
use registry::{DeviceIds, Match, MmioRegion, Platform, ProbeContext, ProbeError};
use spin::Once;

use crate::{Gic, GicError};

const GIC_V3: &str = "arm,gic-v3";

registry::register_driver!(ARM_GIC_DRIVER = registry::Driver {
    name: "arm-gic",
    matches: &[Match::Compatible(GIC_V3), Match::Compatible("arm,gic-400"), Match::Compatible("arm,cortex-a15-gic")],
    priority: 0,
    class: None,
    probe,
    // The system's interrupt controller stays for the kernel's life.
    remove: None,
});

static SYSTEM: Once<Gic> = Once::new();

/// The system's interrupt controller: the first GIC bound, once it is up.
pub fn system() -> Option<&'static Gic> {
    SYSTEM.get()
}

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    if let Some(gic) = system() {
        return Err(ProbeError::failed(format!("{} already is the system's interrupt controller", gic.path())));
    }
    // Distributor, then the CPU interface (GICv2) or the first redistributor region (GICv3).
    let [distributor, per_cpu, ..] = ctx.device.regions[..] else {
        return Err(ProbeError::failed("needs a distributor and a CPU interface or redistributor window (reg)"));
    };
    let is_v3 = matches!(&ctx.device.ids, DeviceIds::Compatible(list) if list.iter().any(|c| c == GIC_V3));
    let (gicd, per_cpu) = (map(ctx.platform, distributor)?, map(ctx.platform, per_cpu)?);
    let path = ctx.device.path.as_str();
    let gic = match is_v3 {
        true => bring_up_v3(path, gicd, per_cpu, ctx.platform),
        false => Gic::v2(path, gicd, per_cpu),
    };
    let gic = gic.map_err(ProbeError::failed)?;
    ctx.set_info("version", format!("GICv{}", gic.version()));
    ctx.set_info("interrupts", format!("{} INTIDs", gic.lines()));
    SYSTEM.call_once(|| gic);
    Ok(())
}

fn map(platform: &dyn Platform, region: MmioRegion) -> Result<MmioWindow, ProbeError> {
    MmioWindow::map(platform, region).map_err(ProbeError::failed)
}

#[cfg(target_arch = "aarch64")]
fn bring_up_v3(path: &str, gicd: MmioWindow, gicr: MmioWindow, platform: &dyn Platform) -> Result<Gic, GicError> {
    Gic::v3(path, gicd, gicr, crate::mpidr(), crate::system_registers(), platform)
}

#[cfg(not(target_arch = "aarch64"))]
fn bring_up_v3(_: &str, _: MmioWindow, _: MmioWindow, _: &dyn Platform) -> Result<Gic, GicError> {
    Err(GicError::NoSystemRegisters)
}
