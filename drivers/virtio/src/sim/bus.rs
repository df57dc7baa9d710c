//! [`SimBus`]: simulated virtio devices straight on a registry bus, each with its interrupt
//! line and a [`VirtioDevice`](crate::VirtioDevice) as `bus_data`, as a virtio-mmio or
//! virtio-pci bus driver would add them.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use registry::{Bus, BusError, DeviceSpec};

use super::SimDevice;
use crate::VirtioDevice;

/// Devices named by type (`virtio-blk`), numbered (`virtio-gpu0`, `virtio-gpu1`) when there are
/// several, so their registry paths are `/virtio-blk` or `/virtio-gpu0`.
pub struct SimBus(pub Vec<SimDevice>);

impl Bus for SimBus {
    fn name(&self) -> &str {
        "sim"
    }

    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let numbered = self.0.len() > 1;
        let specs = self.0.iter().enumerate().map(|(index, device)| {
            let mut spec = VirtioDevice { transport: Box::new(device.transport()) }.into_child(alloc::vec![device.irq()]);
            if numbered {
                spec.name = format!("{}{index}", spec.name);
            }
            spec
        });
        Ok(specs.collect())
    }
}
