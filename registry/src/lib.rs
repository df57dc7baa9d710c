//! The driver core: a bus-agnostic device registry.
//!
//! Drivers register themselves with [`register_driver!`] (a linker-collected list, so there is no
//! central table to edit), each with a match table of DT `compatible` strings, PCI IDs or classes,
//! or virtio device IDs. Buses ([`Bus`]) enumerate devices as [`DeviceSpec`] trees; [`probe_all`]
//! matches every device against the drivers through hash indexes, probes it, lets bus drivers add
//! child devices, retries deferred probes, and records the outcome of every device. [`lsdev`]
//! renders the result as a tree or JSON. The kernel integrator supplies memory, DMA, time and
//! interrupt hookup through the [`Platform`] trait.
#![no_std]
extern crate alloc;

pub mod barrier;
pub mod device;
pub mod driver;
pub mod health;
mod index;
pub mod irq;
pub mod json;
pub mod lsdev;
pub mod mmio;
pub mod msi;
pub mod platform;
mod probe;
mod tree;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod wait;

pub use device::*;
pub use driver::{Driver, Match, ProbeContext, ProbeError, DRIVERS};
pub use health::DeviceHealth;
pub use irq::{IrqError, IrqHandler, IrqReturn, IrqStats, LineGuard, LineState, Masked};
pub use msi::{MsiMessage, MsiSource, MsiVector};
pub use platform::{DmaBuffer, DmaDirection, IoPorts, Platform, PlatformError};
pub use probe::{plan, probe_all, probe_with};
pub use tree::{DeviceId, DeviceNode, DeviceState, Registry};

#[doc(hidden)]
pub use linkme;
