//! The registry driver: binds virtio GPUs on any transport and reports the display size.

use alloc::format;

use registry::{Match, ProbeContext, ProbeError};
use virtio::{Interrupt, VirtioDevice};

use crate::Gpu;

registry::register_driver!(VIRTIO_GPU_DRIVER = registry::Driver {
    name: "virtio-gpu",
    matches: &[Match::Virtio(virtio::ids::GPU)],
    priority: 0,
    probe,
    remove: None,
});

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let interrupt = Interrupt::request(ctx)?;
    let device =
        ctx.take_bus_data::<VirtioDevice>().ok_or_else(|| ProbeError::failed("no virtio transport from the bus"))?;
    let mut gpu = Gpu::new(*device, ctx.platform, interrupt).map_err(ProbeError::failed)?;
    gpu.report_failures_to(ctx.health());
    let mode = gpu.mode();
    ctx.set_info("display", format!("{}x{} on scanout {}", mode.width, mode.height, mode.scanout));
    // Dropping the data (when the device is removed) resets the GPU before freeing its memory.
    ctx.set_driver_data(gpu);
    Ok(())
}
