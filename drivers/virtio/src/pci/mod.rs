//! The virtio-pci bus driver (virtio 1.2, section 4.1): binds PCI functions 1af4:1000-107f,
//! finds the modern interface through the vendor capabilities, turns MSI-X on when the
//! platform has an MSI controller for the function, and creates the child virtio device with a
//! [`VirtioDevice`] holding its [`PciTransport`] as `bus_data`. The child raises the
//! function's MSI-X vectors (configuration changes, then queues), else its INTx.

mod capabilities;
mod msix;
mod transport;

use alloc::boxed::Box;
use alloc::format;
use core::any::Any;

use bus_pci::msix::MsixTable;
use bus_pci::PciFunction;
use registry::{DeviceNode, Match, ProbeContext, ProbeError};

use crate::VirtioDevice;
pub use transport::{MsixRouting, PciTransport};

/// Red Hat's vendor ID, under which every virtio device is registered.
const VIRTIO_VENDOR: u16 = 0x1af4;
/// Modern-only devices are 0x1040 + the virtio device ID.
const MODERN_DEVICE_BASE: u16 = 0x1040;

registry::register_driver!(VIRTIO_PCI_DRIVER = registry::Driver {
    name: "virtio-pci",
    matches: &[Match::PciIdRange { vendor: VIRTIO_VENDOR, first: 0x1000, last: 0x107f }],
    priority: 0,
    probe,
    remove: Some(remove),
});

/// What the driver keeps of a function on MSI-X, to turn it off when it lets go.
struct MsixOn {
    table: MsixTable,
    function: Box<PciFunction>,
}

/// Runs after the virtio device's driver stopped the device: MSI-X goes off before the
/// registry gives the vectors back.
fn remove(_: &DeviceNode, data: Box<dyn Any + Send>) {
    if let Ok(on) = data.downcast::<MsixOn>() {
        on.table.disable(&on.function);
    }
}

/// The virtio device ID of a virtio PCI function: from the PCI device ID for modern devices,
/// from the subsystem ID for transitional ones (0x1000-0x103f; spec 4.1.2.1).
fn virtio_device_id(function: &PciFunction) -> u32 {
    match function.ids.device.checked_sub(MODERN_DEVICE_BASE) {
        Some(id) => u32::from(id),
        None => u32::from(function.ids.subsystem),
    }
}

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let platform = ctx.platform;
    let function = ctx.bus_data::<PciFunction>().ok_or_else(|| ProbeError::failed("no PCI function handle from the PCI bus"))?;
    let device_id = virtio_device_id(function);
    if device_id == 0 {
        return Err(ProbeError::failed("virtio device ID 0 (reserved)"));
    }
    let mut transport = PciTransport::new(function, device_id, platform).map_err(ProbeError::failed)?;
    // Memory decoding for the capability BARs (and the MSI-X table), bus mastering for the
    // rings (and the messages).
    function.enable(true);
    let vectors = msix::allocate(ctx, &transport)?;
    let function = ctx.take_bus_data::<PciFunction>().ok_or_else(|| ProbeError::failed("no PCI function handle"))?;
    let irqs = match vectors {
        msix::Vectors::Messages { table, vectors, queues } => {
            let irqs = msix::enable(&function, &mut transport, &table, vectors, queues)?;
            ctx.set_info("interrupts", format!("MSI-X, {} vectors", irqs.len()));
            ctx.set_driver_data(MsixOn { table, function });
            irqs
        }
        msix::Vectors::Line(why) => {
            ctx.set_info("interrupts", format!("INTx ({why})"));
            ctx.device.irqs.clone()
        }
    };
    ctx.set_info("transport", format!("virtio-pci modern, notify multiplier {}", transport.notify_multiplier()));
    let device = VirtioDevice { transport: Box::new(transport) };
    ctx.add_child(device.into_child(irqs));
    Ok(())
}
