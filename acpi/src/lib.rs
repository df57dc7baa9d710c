//! The static ACPI tables (ACPI 6.5, chapter 5.2) a PC's firmware leaves in memory, as far as a
//! kernel needs them to find its hardware without constants: the RSDP (found by scanning the
//! BIOS areas, or given by the boot loader), the RSDT or XSDT it points to, and two tables:
//! the MADT (interrupt controllers: the I/O APICs and where ISA IRQs arrive) and the MCFG (the
//! PCI Express ECAM windows).
//!
//! Firmware tables are input like any other: every pointer is read through [`Memory`], which
//! may refuse; every length is bounded and every checksum checked, and a broken table is an
//! [`AcpiError`] naming it, never a panic. No AML: the DSDT is not interpreted.
#![no_std]
extern crate alloc;

mod error;
mod madt;
mod mcfg;
mod memory;
mod rsdp;
mod sdt;

pub use error::AcpiError;
pub use madt::{IoApic, IsaOverride, Madt, Polarity, Trigger};
pub use mcfg::EcamWindow;
pub use memory::Memory;
pub use rsdp::{find_rsdp, Rsdp};
pub use sdt::{Tables, TableHeader};
