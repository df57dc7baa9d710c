//! The registry driver: binds virtio block devices on any transport and reports the disk to
//! `lsdev`.

use alloc::string::ToString;

use registry::{Match, ProbeContext, ProbeError};
use virtio::{Interrupt, VirtioDevice};

use crate::BlockDevice;

registry::register_driver!(VIRTIO_BLK_DRIVER = registry::Driver {
    name: "virtio-blk",
    matches: &[Match::Virtio(virtio::ids::BLOCK)],
    priority: 0,
    probe,
    // Dropping the BlockDevice resets the device before its memory is freed.
    remove: None,
});

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let interrupt = Interrupt::request(ctx)?;
    let device = ctx.take_bus_data::<VirtioDevice>().ok_or_else(|| ProbeError::failed("no virtio transport from the bus"))?;
    let mut disk = BlockDevice::new(device.transport, ctx.platform, interrupt).map_err(ProbeError::failed)?;
    disk.report_failures_to(ctx.health());
    let info = disk.info();
    ctx.set_info("capacity", info.capacity_label());
    ctx.set_info("block size", info.block_size.to_string());
    ctx.set_info("id", info.id.as_deref().unwrap_or("-"));
    ctx.set_info("read-only", yes_no(info.read_only));
    ctx.set_info("flush", yes_no(info.flush));
    ctx.set_driver_data(disk);
    Ok(())
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}
