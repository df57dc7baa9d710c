//! Architecture layer: boot entry, memory map, exception reporting,
//! timekeeping and power off.
//!
//! The boot code of each architecture sets the machine up and then calls
//! `crate::kernel_main(dtb_phys)`, the physical address of the device tree
//! blob the boot loader handed over (0 on x86, which has none).

#[cfg(target_arch = "aarch64")]
mod aarch64;

#[cfg(target_arch = "aarch64")]
pub use aarch64::{describe_entry, exit_failure, interrupts, is_device_memory, memory_from_device_tree, now_ns, poweroff};

/// The device-tree boards' RAM comes from the device tree (`memory_from_device_tree`).
#[cfg(target_arch = "aarch64")]
pub fn memory_from_boot_info() -> Result<alloc::string::String, alloc::string::String> {
    Err(alloc::string::String::from("this board's RAM is described by its device tree"))
}

#[cfg(target_arch = "x86_64")]
mod x86_64;

#[cfg(target_arch = "x86_64")]
pub use x86_64::{acpi, exit_failure, interrupts, is_device_memory, memory_from_boot_info, now_ns, poweroff, IO_SPACE};

/// No device tree on x86: the PVH boot information says where RAM is.
#[cfg(target_arch = "x86_64")]
pub fn memory_from_device_tree(_: &bus_dt::DtBus<'_>, _: &'static [u8]) -> Result<alloc::string::String, alloc::string::String> {
    Err(alloc::string::String::from("this board's RAM is described by the PVH boot information"))
}
