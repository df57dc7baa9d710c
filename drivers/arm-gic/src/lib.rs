//! The Arm Generic Interrupt Controller, GICv2 (`arm,cortex-a15-gic`, `arm,gic-400`) and GICv3
//! (`arm,gic-v3`): a registry driver that brings up the distributor, the boot CPU's
//! redistributor (GICv3) and its CPU interface, then serves as the system's interrupt
//! controller ([`system`]) for the kernel's platform code: device-tree interrupt specifiers
//! decoded into lines ([`Gic::line`]), lines enabled with their trigger, priority and target,
//! interrupts acknowledged and ended from the kernel's interrupt vector.
//!
//! Register programming goes through bounds-checked MMIO windows, so it is tested on the host
//! against memory. The GICv3 CPU interface is system registers, reached through [`IccAccess`]:
//! `system_registers()` on aarch64, a fake in tests.
//!
//! Only the boot CPU is served (the kernel runs on one CPU); GICv3 finds the boot CPU's
//! redistributor in the first redistributor region.
//!
//! Message-signalled interrupts go through [`msi`] controllers, bound from their own nodes:
//! GICv2m frames ([`V2mFrame`]), which raise SPIs, and on a GICv3 the ITS (`arm,gic-v3-its`,
//! [`its`]). The ITS's driver sets up LPIs at the boot CPU's redistributor (configuration and
//! pending tables), gives the ITS its device and collection tables and command queue, and maps
//! each device's events to LPIs (8192 and up) that it hands out with the doorbell message a
//! device must write; [`Gic::enable`] and [`Gic::disable`] turn LPIs on and off through their
//! configuration byte. One ITS per GIC is driven, every LPI goes to the boot CPU. The ITS's
//! memory (tables, queue, LPI tables) is reached through bounds-checked accessors and cleaned
//! to memory for a GIC that does not snoop caches.
#![no_std]
extern crate alloc;

mod bits;
mod cache;
mod distributor;
mod dma;
mod driver;
mod error;
mod gic;
pub mod its;
mod line;
mod lpi;
pub mod msi;
#[cfg(target_arch = "aarch64")]
mod sysreg;
mod v2;
mod v3;
mod v2m;

pub use driver::system;
pub use error::GicError;
pub use gic::{Acknowledged, Gic};
pub use line::{Line, Trigger};
pub use lpi::FIRST_LPI;
#[cfg(target_arch = "aarch64")]
pub use sysreg::{mpidr, system_registers};
pub use v2m::V2mFrame;
pub use v3::{IccAccess, IccRegister};
