//! aarch64 (QEMU virt): entry, MMU, exception vectors and interrupts, timer, power off.

mod boot;
mod exceptions;
pub mod interrupts;
mod mmu;
mod power;
mod ram;
mod timer;

pub use boot::describe_entry;
pub use power::{exit_failure, poweroff};
pub use mmu::is_device_memory;
pub use ram::setup as memory_from_device_tree;
pub use timer::now_ns;
