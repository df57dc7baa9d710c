//! The virtio-pci bus driver (virtio 1.2, section 4.1): binds PCI functions 1af4:1000-107f,
//! finds the modern interface through the vendor capabilities, or for a transitional device
//! without them (QEMU's `disable-modern=on`) the legacy registers in I/O BAR 0, turns MSI-X on
//! when the platform has an MSI controller for the function, and creates the child virtio
//! device with a [`VirtioDevice`] holding its [`PciTransport`] or [`LegacyPciTransport`] as
//! `bus_data`. The child raises the function's MSI-X vectors (configuration changes, then
//! queues), else its INTx.

mod capabilities;
mod io_bar;
mod legacy;
mod msix;
mod transport;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::any::Any;

use bus_pci::caps::CAP_VENDOR;
use bus_pci::msix::MsixTable;
use bus_pci::PciFunction;
use registry::{DeviceNode, Match, Platform, ProbeContext, ProbeError};

use crate::{Transport, VirtioDevice, VirtioError};
use io_bar::IoBar;
pub use legacy::LegacyPciTransport;
pub use transport::{MsixRouting, PciTransport};

/// Red Hat's vendor ID, under which every virtio device is registered.
const VIRTIO_VENDOR: u16 = 0x1af4;
/// Modern-only devices are 0x1040 + the virtio device ID.
const MODERN_DEVICE_BASE: u16 = 0x1040;
/// Transitional devices (spec 4.1.2.1): 0x1000-0x103f, the virtio device ID in the
/// subsystem ID. Only they may have the legacy interface.
const TRANSITIONAL_DEVICES: core::ops::RangeInclusive<u16> = 0x1000..=0x103f;
/// The legacy registers are in BAR 0 (spec 4.1.4.8).
const LEGACY_BAR: u8 = 0;

registry::register_driver!(VIRTIO_PCI_DRIVER = registry::Driver {
    name: "virtio-pci",
    matches: &[Match::PciIdRange { vendor: VIRTIO_VENDOR, first: 0x1000, last: 0x107f }],
    priority: 0,
    class: None,
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

/// The interface the driver uses: modern whenever the function has the modern capabilities
/// (a transitional device offers both), else legacy.
enum Interface {
    Modern(PciTransport),
    Legacy(LegacyPciTransport),
}

impl Interface {
    /// The modern interface if the function has a common configuration capability; the legacy
    /// one if it is a transitional device without it; else the modern interface's error.
    fn of(function: &PciFunction, device_id: u32, platform: &'static dyn Platform) -> Result<Self, VirtioError> {
        let has_common_cfg = function
            .capabilities
            .iter()
            .any(|cap| cap.id == CAP_VENDOR && function.read8(cap.offset + 3) == capabilities::COMMON_CFG);
        if has_common_cfg || !TRANSITIONAL_DEVICES.contains(&function.ids.device) {
            return Ok(Interface::Modern(PciTransport::new(function, device_id, platform)?));
        }
        let registers = IoBar::of(function, LEGACY_BAR, platform)?
            .ok_or(VirtioError::IoBarUnusable("missing: neither the modern capabilities nor the legacy registers"))?;
        Ok(Interface::Legacy(LegacyPciTransport::new(registers, device_id)?))
    }

    fn num_queues(&self) -> Result<u16, VirtioError> {
        match self {
            Interface::Modern(modern) => modern.num_queues(),
            Interface::Legacy(legacy) => legacy.num_queues(),
        }
    }

    fn use_msix(&mut self, routing: MsixRouting) -> Result<(), VirtioError> {
        match self {
            Interface::Modern(modern) => {
                modern.use_msix(routing);
                Ok(())
            }
            Interface::Legacy(legacy) => legacy.use_msix(routing),
        }
    }

    /// What `lsdev` shows as the function's transport.
    fn describe(&self) -> String {
        match self {
            Interface::Modern(modern) => format!("virtio-pci modern, notify multiplier {}", modern.notify_multiplier()),
            Interface::Legacy(legacy) => format!("virtio-pci legacy, BAR0 {}", legacy.registers()),
        }
    }

    fn into_transport(self) -> Box<dyn Transport> {
        match self {
            Interface::Modern(modern) => Box::new(modern),
            Interface::Legacy(legacy) => Box::new(legacy),
        }
    }
}

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let platform = ctx.platform;
    let function = ctx.bus_data::<PciFunction>().ok_or_else(|| ProbeError::failed("no PCI function handle from the PCI bus"))?;
    let device_id = virtio_device_id(function);
    if device_id == 0 {
        return Err(ProbeError::failed("virtio device ID 0 (reserved)"));
    }
    let mut transport = Interface::of(function, device_id, platform).map_err(ProbeError::failed)?;
    // Memory decoding for the capability BARs (and the MSI-X table), I/O decoding for a legacy
    // BAR 0, bus mastering for the rings (and the messages).
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
    ctx.set_info("transport", transport.describe());
    let device = VirtioDevice { transport: transport.into_transport() };
    ctx.add_child(device.into_child(irqs));
    Ok(())
}
