//! The virtio-mmio bus driver (virtio 1.2, section 4.2): checks the register window and creates
//! the child virtio device with its transport attached.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use registry::mmio::MmioWindow;
use registry::{BusAddress, DeviceIds, DeviceSpec, Match, ProbeContext, ProbeError};

use crate::ids;

/// "virt" in little-endian ASCII.
const MAGIC: u32 = 0x7472_6976;
const REG_MAGIC: usize = 0x000;
const REG_VERSION: usize = 0x004;
const REG_DEVICE_ID: usize = 0x008;
const REG_VENDOR_ID: usize = 0x00c;
/// The register layout ends with the config generation at 0x0fc; device config follows at 0x100.
const MIN_WINDOW: u64 = 0x100;

/// Which register layout the device speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioVersion {
    /// Version 1: guest page size and queue PFN registers (QEMU's default).
    Legacy,
    /// Version 2: 64-bit queue addresses and QueueReady.
    Modern,
}

/// What a virtio-mmio slot hands to the virtio device driver bound below it.
#[derive(Debug)]
pub struct MmioTransport {
    pub window: MmioWindow,
    pub version: MmioVersion,
    pub device_id: u32,
    pub vendor_id: u32,
}

registry::register_driver!(VIRTIO_MMIO_DRIVER = registry::Driver {
    name: "virtio-mmio",
    matches: &[Match::Compatible("virtio,mmio")],
    priority: 0,
    probe: probe,
    remove: None,
});

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let region = *ctx.device.regions.first().ok_or_else(|| ProbeError::failed("no register window (reg)"))?;
    if region.size < MIN_WINDOW {
        return Err(ProbeError::failed(format!("register window of {:#x} bytes is too small", region.size)));
    }
    let window = MmioWindow::map(ctx.platform, region).map_err(ProbeError::failed)?;
    let magic = window.read32(REG_MAGIC).map_err(ProbeError::failed)?;
    if magic != MAGIC {
        return Err(ProbeError::failed(format!("bad magic {magic:#010x}, not a virtio-mmio device")));
    }
    let version = match window.read32(REG_VERSION).map_err(ProbeError::failed)? {
        1 => MmioVersion::Legacy,
        2 => MmioVersion::Modern,
        other => return Err(ProbeError::failed(format!("unsupported virtio-mmio version {other}"))),
    };
    let device_id = window.read32(REG_DEVICE_ID).map_err(ProbeError::failed)?;
    if device_id == 0 {
        // Device ID 0 marks an unused slot (virtio 1.2, 4.2.2): the usual case on QEMU virt.
        return Err(ProbeError::Empty(String::from("no device")));
    }
    let vendor_id = window.read32(REG_VENDOR_ID).map_err(ProbeError::failed)?;
    ctx.set_info("transport", match version {
        MmioVersion::Legacy => "virtio-mmio v1 (legacy)",
        MmioVersion::Modern => "virtio-mmio v2",
    });

    let mut child = DeviceSpec::new(ids::device_name(device_id), BusAddress::Virtio, DeviceIds::Virtio { device_id });
    // The virtio device raises its interrupts through the transport's line.
    child.irqs = ctx.device.irqs.clone();
    child.bus_data = Some(Box::new(MmioTransport { window, version, device_id, vendor_id }));
    ctx.add_child(child);
    Ok(())
}
