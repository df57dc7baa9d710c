//! Turns a flattened device tree blob (DTB) into `registry::DeviceSpec` trees.
//!
//! [`DtBus::new`] validates the whole blob first - header, every structure token, every
//! name and length - so malformed input is an [`DtError`], never a panic or an
//! out-of-bounds read. Enumeration then resolves what a driver needs: `reg` translated
//! through every bus's `ranges` to CPU-physical regions, and `interrupts` decoded
//! against their controller (GIC specifiers become INTIDs). Anything that cannot be
//! resolved becomes a note on the device rather than an error. A PCI host bridge's
//! windows and INTx routing are decoded into a [`PciHostInfo`] left as the device's
//! `bus_data` for its driver.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod bus;
mod bytes;
mod cells;
mod devices;
mod error;
mod gic;
mod header;
mod interrupts;
mod pci_host;
mod translate;
mod tree;

pub use bus::DtBus;
pub use error::DtError;
pub use header::blob_len;
pub use pci_host::{IntxRoute, MsiRoute, PciHostInfo, PciSpace, PciWindow};
