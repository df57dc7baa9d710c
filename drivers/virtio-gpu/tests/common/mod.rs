//! Shared by the integration tests: a simulated GPU and the driver brought up on it.
#![allow(dead_code)] // each test binary uses its own part of this module

use virtio::sim::gpu::{GpuModel, GpuView};
use virtio::sim::{Interface, SimDevice, SimPlatform};
use virtio::{Interrupt, VirtioDevice};
use virtio_gpu::{Gpu, GpuError};

pub const WIDTH: u32 = 64;
pub const HEIGHT: u32 = 48;
pub const BOTH: [Interface; 2] = [Interface::Legacy, Interface::Modern];

/// A simulated GPU with one enabled scanout of `width` x `height`, not yet brought up.
pub struct Rig {
    pub platform: &'static SimPlatform,
    pub device: SimDevice,
    pub view: GpuView,
}

impl Rig {
    pub fn new(interface: Interface, width: u32, height: u32) -> Self {
        let platform = SimPlatform::leaked();
        let model = GpuModel::new(platform, width, height);
        let view = model.view();
        Rig { platform, device: SimDevice::new(platform, interface, model), view }
    }

    /// The driver's bring-up on this device.
    pub fn bring_up(&self) -> Result<Gpu, GpuError> {
        Gpu::new(VirtioDevice { transport: Box::new(self.device.transport()) }, self.platform, Interrupt::polled())
    }

    /// DMA allocations still live.
    pub fn dma_live(&self) -> usize {
        self.platform.host().dma_live()
    }
}

/// A B8G8R8X8 pixel as the screen holds it.
pub fn pixel(rgb: u32) -> u32 {
    rgb & 0x00ff_ffff
}
