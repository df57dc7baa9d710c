//! The virtio-mmio bus driver (virtio 1.2, section 4.2): binds `virtio,mmio` device-tree nodes,
//! checks the register window, and creates the child virtio device with a [`VirtioDevice`]
//! holding its [`MmioTransport`] as `bus_data`.

mod transport;

use alloc::boxed::Box;
use alloc::string::String;

use registry::mmio::MmioWindow;
use registry::{Match, ProbeContext, ProbeError};

use crate::{Transport, VirtioDevice};
pub use transport::{MmioTransport, MmioVersion};

registry::register_driver!(VIRTIO_MMIO_DRIVER = registry::Driver {
    name: "virtio-mmio",
    matches: &[Match::Compatible("virtio,mmio")],
    priority: 0,
    class: None,
    probe,
    remove: None,
});

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let region = *ctx.device.regions.first().ok_or_else(|| ProbeError::failed("no register window (reg)"))?;
    let window = MmioWindow::map(ctx.platform, region).map_err(ProbeError::failed)?;
    let transport = MmioTransport::new(window).map_err(ProbeError::failed)?;
    let device_id = transport.device_id();
    if device_id == 0 {
        // Device ID 0 marks an unused slot (virtio 1.2, 4.2.2): the usual case on QEMU virt.
        return Err(ProbeError::Empty(String::from("no device")));
    }
    ctx.set_info("transport", match transport.version() {
        MmioVersion::Legacy => "virtio-mmio v1 (legacy)",
        MmioVersion::Modern => "virtio-mmio v2",
    });

    // The virtio device raises its interrupts through the transport's line.
    let device = VirtioDevice { transport: Box::new(transport) };
    ctx.add_child(device.into_child(ctx.device.irqs.clone()));
    Ok(())
}
