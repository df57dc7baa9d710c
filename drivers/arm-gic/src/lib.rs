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
//! redistributor in the first redistributor region. Message-signalled interrupts come through
//! GICv2m frames ([`V2mFrame`]), bound from their own nodes and found through [`msi`].
#![no_std]
extern crate alloc;

mod bits;
mod distributor;
mod driver;
mod error;
mod gic;
mod line;
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
#[cfg(target_arch = "aarch64")]
pub use sysreg::{mpidr, system_registers};
pub use v2m::V2mFrame;
pub use v3::{IccAccess, IccRegister};
