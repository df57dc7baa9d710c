//! Architecture layer: boot entry, memory map, exception reporting,
//! timekeeping and power off.
//!
//! The boot code of each architecture sets the machine up and then calls
//! `crate::kernel_main(dtb_phys)`, the physical address of the device tree
//! blob the boot loader handed over.

#[cfg(target_arch = "aarch64")]
mod aarch64;

#[cfg(target_arch = "aarch64")]
pub use aarch64::{exit_failure, is_device_memory, now_ns, poweroff};
