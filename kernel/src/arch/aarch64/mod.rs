//! aarch64 (QEMU virt): entry, MMU, exception vectors and interrupts, timer, power off.

mod boot;
mod exceptions;
pub mod interrupts;
mod mmu;
mod power;
mod timer;

pub use boot::describe_entry;
pub use power::{exit_failure, poweroff};
pub use mmu::is_device_memory;
pub use timer::now_ns;
