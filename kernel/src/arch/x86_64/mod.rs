//! x86-64 (QEMU q35 and pc): PVH entry into long mode, identity map, exception reporting,
//! interrupts (local APIC and I/O APIC), TSC timer, power off.

pub mod acpi;
mod apic;
mod boot;
mod exceptions;
pub mod interrupts;
mod ioapic;
mod paging;
mod port;
mod power;
mod ram;
mod timer;

pub use paging::is_device_memory;
pub use ram::setup as memory_from_boot_info;
pub use power::{exit_failure, poweroff};
pub use port::IO_SPACE;
pub use timer::now_ns;
