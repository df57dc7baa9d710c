//! A simulated virtio device for host tests (feature `testing`).
//!
//! The device runs in host memory and is step-driven: it acts only when the driver calls it or
//! reads the platform's clock, so nothing happens behind the driver's back.
//! A [`SimTransport`] implements [`Transport`](crate::Transport) directly (no register block)
//! and reacts to each call as a device would: status and feature negotiation, queue setup, and
//! on a queue notify, fetching the new chains from the real ring memory the driver's
//! [`VirtQueue`](crate::VirtQueue) wrote, serving them with a [`DeviceModel`], and writing the
//! used ring. Tests hold a [`SimDevice`] handle to the same device to steer it: hold completions
//! and release them in any order or after a latency, turn hostile ([`Misbehaviour`]), change
//! its config, inspect the status writes and features it saw.
//!
//! Each device has an interrupt line on the [`SimPlatform`] ([`SimDevice::irq`]), up while the
//! device has interrupt causes pending; handlers hooked to it run when the driver idles.
//!
//! A [`SimLegacyPci`] puts a legacy device's registers on the platform's I/O port space as the
//! legacy virtio-pci interface lays them out (I/O BAR 0), for tests of that transport.
//!
//! DMA goes through a [`SimPlatform`], whose bus addresses differ from CPU addresses and which
//! lets the device touch live allocations only. Driver mistakes (bad chains, protocol order)
//! panic with the reason.
//!
//! ```
//! use virtio::sim::{BlockModel, Interface, SimDevice, SimPlatform};
//! # fn main() -> Result<(), virtio::VirtioError> {
//! let platform = SimPlatform::leaked();
//! let device = SimDevice::new(platform, Interface::Modern, BlockModel::new(64));
//! let mut transport = device.transport();
//! let negotiated = virtio::init_device(&mut transport, 0, platform)?;
//! let queue = virtio::VirtQueue::new(&mut transport, platform, &negotiated, 0, 128)?;
//! virtio::finish_init(&mut transport)?;
//! assert!(!negotiated.is_legacy());
//! assert_eq!((queue.size(), device.status()), (128, 0x0f));
//! # Ok(())
//! # }
//! ```

mod block;
mod bus;
mod device;
pub mod gpu;
mod handle;
mod interrupts;
mod legacy_pci;
pub mod net;
mod platform;
mod ring;
mod transport;

use alloc::vec::Vec;

pub use block::{BlockDisk, BlockFault, BlockModel, STATUS_IOERR, STATUS_UNSUPP};
pub use bus::SimBus;
pub use device::{CompletionOrder, Interface, Misbehaviour};
pub use handle::SimDevice;
pub use legacy_pci::{SimLegacyPci, NO_VECTOR};
pub use platform::{PortDevice, SimPlatform, SyncCall, DEFAULT_DMA_BASE};
pub use transport::SimTransport;

/// What sits behind the simulated transport: one kind of virtio device.
pub trait DeviceModel: Send {
    fn device_id(&self) -> u32;
    /// Device-specific feature bits offered (the simulator adds VERSION_1 on a modern
    /// interface).
    fn features(&self) -> u64;
    /// The maximum size of each of the device's queues.
    fn queue_sizes(&self) -> Vec<u16>;
    /// The device-specific configuration space at reset.
    fn config_space(&self) -> Vec<u8>;
    /// Serves one chain from `queue`: `request` holds the bytes of its device-readable buffers,
    /// `reply` the current contents of its device-writable ones, which the model updates.
    /// Returns the used length: how many bytes of `reply` it wrote.
    fn serve(&mut self, queue: u16, request: &[u8], reply: &mut [u8]) -> u32;
    /// The used-ring element `(id, len)` for the chain just served: its head and the length
    /// `serve` returned, unless the model answers otherwise (the fuzz targets' device puts
    /// whatever its input says there). A [`Misbehaviour`] set on the device takes precedence.
    fn used_element(&mut self, _queue: u16, head: u32, written: u32) -> (u32, u32) {
        (head, written)
    }
}
