//! A minimal block driver for transport and interrupt tests: binds virtio-blk, hooks its
//! interrupt, brings the device up with one queue and keeps the transport, so a test can read
//! back what the transport programmed and wait for completions.

use registry::{Driver, Match, ProbeContext, ProbeError};
use virtio::{Interrupt, Transport, VirtQueue, VirtioDevice};

use super::F_FLUSH;

pub const QUEUE_SIZE: u16 = 128;

/// Register it in a test binary with `registry::register_driver!(TEST_BLK = common::test_blk::DRIVER);`.
pub const DRIVER: Driver = Driver {
    name: "test-blk",
    matches: &[Match::Virtio(virtio::ids::BLOCK)],
    priority: 0,
    class: None,
    probe,
    remove: None,
};

/// What the test driver keeps: the transport, its one queue, and its interrupt.
pub struct Bound {
    pub transport: Box<dyn Transport>,
    pub queue: VirtQueue,
    pub interrupt: Interrupt,
}

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let interrupt = Interrupt::request(ctx)?;
    let device = ctx.take_bus_data::<VirtioDevice>().ok_or_else(|| ProbeError::failed("no VirtioDevice"))?;
    let mut transport = device.transport;
    let negotiated = virtio::init_device(transport.as_mut(), F_FLUSH, ctx.platform).map_err(ProbeError::failed)?;
    let queue = VirtQueue::new(transport.as_mut(), ctx.platform, &negotiated, 0, QUEUE_SIZE).map_err(|error| {
        virtio::fail_device(transport.as_mut());
        ProbeError::failed(error)
    })?;
    virtio::finish_init(transport.as_mut()).map_err(ProbeError::failed)?;
    ctx.set_info("features", format!("{:#x}", negotiated.features));
    ctx.set_driver_data(Bound { transport, queue, interrupt });
    Ok(())
}
