//! Architecture layer: boot entry, memory map, exception reporting,
//! timekeeping and power off.
//!
//! The boot code of each architecture sets the machine up and then calls
//! `crate::kernel_main(dtb_phys)`, the physical address of the device tree
//! blob the boot loader handed over (0 on x86, which has none).

#[cfg(target_arch = "aarch64")]
mod aarch64;

#[cfg(target_arch = "aarch64")]
pub use aarch64::{exit_failure, interrupts, is_device_memory, now_ns, poweroff};

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "x86_64")]
pub use x86_64::{acpi, exit_failure, interrupts, is_device_memory, now_ns, poweroff, IO_SPACE};
