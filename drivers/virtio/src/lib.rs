//! Shared virtio code (virtio 1.2) and the virtio-mmio and virtio-pci bus drivers.
//!
//! Virtio device drivers (net, blk, gpu, ...) are written once against the [`Transport`] trait
//! and never learn which transport they sit on:
//!
//! - A virtio bus driver (virtio-mmio for `virtio,mmio` DT nodes, virtio-pci for PCI functions
//!   1af4:1000-107f) creates one child device per
//!   virtio device, with a [`VirtioDevice`] as its `bus_data`. The device's driver takes it with
//!   `ctx.take_bus_data::<virtio::VirtioDevice>()`.
//! - The driver brings the device up with [`init_device`] (reset, ACKNOWLEDGE, DRIVER, feature
//!   negotiation, FEATURES_OK), creates its queues with [`VirtQueue::new`], then calls
//!   [`finish_init`] (DRIVER_OK). Every error is a [`VirtioError`]; after one, the driver calls
//!   [`fail_device`] (init_device and [`VirtQueue::wait_used`] do so themselves).
//! - The driver keeps the transport and the DMA memory the device knows about in a
//!   [`LiveDevice`], whose drop resets the device before freeing the memory.
//! - Requests go through [`VirtQueue::add`] (a descriptor chain), [`VirtQueue::notify`], and
//!   [`VirtQueue::pop_used`] / [`VirtQueue::wait_used`], which validate everything the device
//!   writes back.
//! - Before taking its bus data, the probe hooks the device's interrupt with
//!   [`Interrupt::request`]: the shared handler acknowledges the device from interrupt context,
//!   and [`Interrupt::wait`] sleeps until an interrupt (or polls, without one). A driver's
//!   every completion wait goes through it.
//!
//! Memory shared with the device comes from the platform ([`registry::DmaBuffer`]): the device is
//! given the buffer's `phys` address, the CPU uses its pointer; the core never assumes they are
//! equal.
//!
//! With the `testing` feature, the `sim` module provides a simulated device (and hostile variants
//! of it) for host tests of the core and of device drivers: add
//! `virtio = { workspace = true, features = ["testing"] }` to their dev-dependencies.
#![no_std]
extern crate alloc;
#[cfg(test)]
extern crate std;

// Legacy (pre-1.0) devices use the guest's byte order and modern ones little-endian; on a
// little-endian CPU both are the native order, which lets the core access rings and registers
// without conversions.
#[cfg(target_endian = "big")]
compile_error!("the virtio core supports little-endian targets only");

pub mod dma;
mod error;
pub mod features;
pub mod ids;
mod init;
mod interrupt;
mod live;
pub mod memory;
pub mod mmio;
pub mod pci;
mod queue;
#[cfg(any(test, feature = "testing"))]
pub mod sim;
pub mod status;
mod transport;

pub use error::VirtioError;
pub use init::{fail_device, finish_init, init_device, Negotiated};
pub use interrupt::{Interrupt, InterruptStatus, CONFIG_CHANGE, USED_BUFFER};
pub use live::LiveDevice;
pub use queue::{Buffer, Used, VirtQueue, MAX_QUEUE_SIZE};
pub use transport::{check_config_access, QueueAddresses, Transport, VirtioDevice, RESET_TIMEOUT_NS};
