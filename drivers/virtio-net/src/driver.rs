//! The registry driver: binds virtio device ID 1 on any transport and keeps the [`VirtioNet`]
//! as the device's driver data.

use alloc::format;
use alloc::string::ToString;

use registry::{Match, ProbeContext, ProbeError};
use virtio::{Interrupt, VirtioDevice};

use crate::VirtioNet;

registry::register_driver!(VIRTIO_NET_DRIVER = registry::Driver {
    name: "virtio-net",
    matches: &[Match::Virtio(virtio::ids::NET)],
    priority: 0,
    probe,
    // Dropping the NIC resets the device before its memory is freed.
    remove: None,
});

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let interrupt = Interrupt::request(ctx)?;
    let device = ctx.take_bus_data::<VirtioDevice>().ok_or_else(|| ProbeError::failed("no virtio transport"))?;
    let mut nic = VirtioNet::new(device.transport, ctx.platform, interrupt).map_err(ProbeError::failed)?;
    nic.report_failures_to(ctx.health());
    ctx.set_info("mac", nic.mac().to_string());
    ctx.set_info("link", nic.link_label());
    let (rx, tx) = nic.queue_sizes();
    ctx.set_info("queues", format!("rx {rx}, tx {tx}"));
    ctx.set_driver_data(nic);
    Ok(())
}
