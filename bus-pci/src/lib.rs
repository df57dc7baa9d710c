//! PCI: configuration-space access (ECAM, and port I/O on the PC), enumeration of every bus
//! through bridges (numbering bridges firmware left alone), BAR sizing and assignment from
//! the host bridge's windows, bounded capability-list walks, and legacy INTx routing.
//!
//! Host bridges come two ways: the device tree's `pci-host-ecam-generic` node is bound by
//! this crate's registry driver, which adds the functions as its children; a PC (no device
//! tree) uses [`PcPciBus`] as one of the board's buses. Either way every function becomes a
//! registry device with PCI IDs, its memory BARs as regions, its INTx, and a
//! [`PciFunction`] as `bus_data` for its driver (virtio-pci reads capabilities through it).
#![no_std]
extern crate alloc;

pub mod assign;
pub mod bar;
pub mod caps;
pub mod config;
mod function;
mod host;
pub mod msix;
pub mod pcie;
mod regs;
pub mod scan;
#[cfg(any(test, feature = "testing"))]
pub mod sim;
mod tree;

pub use config::{Bdf, ConfigAccess, Ecam};
#[cfg(target_arch = "x86_64")]
pub use config::PortIo;
pub use function::{MappedBar, PciFunction};
pub use host::{DtEcamHost, HostFunctions, PcPciBus};
