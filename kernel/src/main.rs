//! The test kernel: boots a board, runs `registry::probe_all` over the board's buses, prints
//! the probe log and `lsdev`, then serves a small serial shell so tests can drive devices.
#![no_std]
#![no_main]

extern crate alloc;

#[macro_use]
mod console;
mod arch;
mod heap;
mod panic;
mod platform;
mod shell;

// Drivers register themselves; naming the crates is all it takes to link them in.
use pl011 as _;
use virtio as _;

use boards::{Board, Console, DeviceSource};

#[cfg(target_arch = "aarch64")]
const BOARD: &Board = &boards::qemu_virt::BOARD;

/// Called by the architecture's entry code with the MMU on and a stack, with the boot loader's
/// device-tree address (0 when there is none).
fn kernel_main(dtb_phys: usize) -> ! {
    match BOARD.early_console {
        // SAFETY: the board file names the UART its machine has at that address, and the boot
        // identity map covers it as device memory.
        Console::Pl011 { base } => unsafe { console::init(base as usize, log::LevelFilter::Info) },
    }
    heap::init();
    println!("test-kernel: {} ({})", BOARD.name, BOARD.description);

    let buses = match BOARD.devices {
        DeviceSource::DeviceTreeFromBootLoader => {
            // SAFETY: the boot protocol hands over a DTB at `dtb_phys` in RAM, which the
            // identity map covers; the kernel never writes to it.
            let blob = unsafe { platform::boot_dtb(dtb_phys) };
            match blob.and_then(|b| bus_dt::DtBus::new(b).map_err(|e| alloc::format!("{e}"))) {
                Ok(bus) => bus,
                Err(e) => {
                    println!("test-kernel: no usable device tree at {dtb_phys:#x}: {e}");
                    arch::exit_failure(2)
                }
            }
        }
    };
    if let Some(model) = buses.model() {
        println!("device tree: {model}, console {}", buses.chosen_stdout_path().unwrap_or("?"));
    }

    let start = arch::now_ns();
    let mut registry = registry::probe_all(&platform::PLATFORM, &[&buses]);
    let elapsed_us = (arch::now_ns() - start) / 1000;
    println!("probe_all took {elapsed_us} us");
    print!("{}", registry::lsdev::text(&registry));
    shell::run(&mut registry)
}
