//! The test kernel: boots a board, runs `registry::probe_all` over the board's buses, prints
//! the probe log and `lsdev`, then serves a small serial shell so tests can drive devices.
#![no_std]
#![no_main]

extern crate alloc;

#[macro_use]
mod console;
mod arch;
mod heap;
mod memory;
#[cfg(target_arch = "x86_64")]
mod isa;
mod panic;
mod platform;
mod shell;

// Drivers register themselves; naming the crates is all it takes to link them in.
use pl011 as _;
use arm_gic as _;
use virtio as _;
use virtio_gpu as _;
use virtio_blk as _;
use virtio_net as _;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use boards::{Board, DeviceSource, PciConfig};
use bus_pci::ConfigAccess;
use registry::Bus;

#[cfg(target_arch = "aarch64")]
const BOARD: &Board = &boards::qemu_virt::BOARD;
// x86 boards have no device tree to tell them apart at run time: the build picks one.
#[cfg(all(target_arch = "x86_64", feature = "board-q35", not(feature = "board-pc")))]
const BOARD: &Board = &boards::qemu_q35::BOARD;
#[cfg(all(target_arch = "x86_64", feature = "board-pc", not(feature = "board-q35")))]
const BOARD: &Board = &boards::qemu_pc::BOARD;
#[cfg(all(target_arch = "x86_64", feature = "board-q35", feature = "board-pc"))]
compile_error!("features board-q35 and board-pc both on: an x86-64 kernel is for one board");
#[cfg(all(target_arch = "x86_64", not(any(feature = "board-q35", feature = "board-pc"))))]
compile_error!("an x86-64 kernel needs a board feature (board-q35 or board-pc); cargo xtask build --board NAME passes it");

/// Called by the architecture's entry code with the MMU on and a stack, with the boot loader's
/// device-tree address (0 when there is none, as on x86).
fn kernel_main(dtb_phys: usize) -> ! {
    // SAFETY: the board file names the UART its machine has: a PL011 the boot identity map
    // covers as device memory, or a 16550 at its I/O ports.
    unsafe { console::init(BOARD.early_console, log::LevelFilter::Info) };
    heap::init();
    println!("test-kernel: {} ({})", BOARD.name, BOARD.description);
    #[cfg(target_arch = "aarch64")]
    println!("{}", arch::describe_entry());

    let buses: Vec<Box<dyn Bus>> = match BOARD.devices {
        DeviceSource::DeviceTreeFromBootLoader => alloc::vec![Box::new(boot_device_tree(dtb_phys))],
        DeviceSource::Pci(config) => {
            memory_ready(arch::memory_from_boot_info());
            pc_buses(config)
        }
    };
    let buses: Vec<&dyn Bus> = buses.iter().map(Box::as_ref).collect();

    let start = arch::now_ns();
    let mut registry = registry::probe_all(&platform::PLATFORM, &buses);
    let elapsed_us = (arch::now_ns() - start) / 1000;
    println!("probe_all took {elapsed_us} us");
    print!("{}", registry::lsdev::text(&registry));
    shell::run(&mut registry)
}

/// A PC's buses: its PCI host, and its ISA devices (the console's COM port).
#[cfg(target_arch = "x86_64")]
fn pc_buses(config: PciConfig) -> Vec<Box<dyn Bus>> {
    alloc::vec![Box::new(pci_host(config)), Box::new(isa::IsaBus { console: BOARD.early_console })]
}

#[cfg(not(target_arch = "x86_64"))]
fn pc_buses(config: PciConfig) -> Vec<Box<dyn Bus>> {
    alloc::vec![Box::new(pci_host(config))]
}

/// The PCI host of a board without a device tree, reached as its board file says.
fn pci_host(config: PciConfig) -> bus_pci::PcPciBus {
    /// One bus of ECAM space.
    const ECAM_BUS_SIZE: u64 = 1 << 20;
    let (base, start_bus, end_bus) = match config {
        PciConfig::Ecam { base, start_bus, end_bus } => (base, start_bus, end_bus),
        PciConfig::EcamFromAcpi => acpi_ecam(),
        PciConfig::PortIo => return bus_pci::PcPciBus::new(Arc::new(port_io_config()), "pci0", 0, 255),
    };
    let size = (u64::from(end_bus.saturating_sub(start_bus)) + 1) * ECAM_BUS_SIZE;
    let access: Arc<dyn ConfigAccess> = match registry::mmio::MmioWindow::map(&platform::PLATFORM, registry::MmioRegion { base, size }) {
        Ok(window) => Arc::new(bus_pci::Ecam::new(window, start_bus)),
        Err(e) => {
            println!("test-kernel: cannot map the ECAM window at {base:#x}: {e}");
            arch::exit_failure(2)
        }
    };
    bus_pci::PcPciBus::new(access, "pci0", start_bus, end_bus)
}

/// Segment 0's ECAM window from the ACPI MCFG: where its first bus starts, and its buses.
#[cfg(target_arch = "x86_64")]
fn acpi_ecam() -> (u64, u8, u8) {
    let firmware = arch::acpi::firmware().unwrap_or_else(|reason| {
        println!("test-kernel: the board's ECAM is in the ACPI tables: {reason}");
        arch::exit_failure(2)
    });
    let window = firmware.ecam.iter().find(|w| w.segment == 0);
    match window.and_then(|w| Some((w.first_bus_address()?, w.start_bus, w.end_bus))) {
        Some(ecam) => ecam,
        None => {
            println!("test-kernel: the ACPI MCFG has no ECAM window for PCI segment 0");
            arch::exit_failure(2)
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn acpi_ecam() -> (u64, u8, u8) {
    println!("test-kernel: ACPI tables are read on x86 only");
    arch::exit_failure(2)
}

#[cfg(target_arch = "x86_64")]
fn port_io_config() -> bus_pci::PortIo {
    // SAFETY: the board file says this PC has configuration mechanism #1, and nothing else in
    // the kernel uses ports 0xcf8/0xcfc.
    unsafe { bus_pci::PortIo::new() }
}

#[cfg(not(target_arch = "x86_64"))]
fn port_io_config() -> bus_pci::Ecam {
    println!("test-kernel: port I/O PCI configuration exists only on x86");
    arch::exit_failure(2)
}

/// The device tree the boot loader passed at `dtb_phys`, as a bus; the run ends if there is none.
fn boot_device_tree(dtb_phys: usize) -> bus_dt::DtBus<'static> {
    // SAFETY: the boot protocol hands over a DTB at `dtb_phys` in RAM, which the
    // identity map covers; the kernel never writes to it.
    let blob = unsafe { platform::boot_dtb(dtb_phys) };
    match blob.and_then(|b| Ok((b, bus_dt::DtBus::new(b).map_err(|e| alloc::format!("{e}"))?))) {
        Ok((blob, bus)) => {
            if let Some(model) = bus.model() {
                println!("device tree: {model}, console {}", bus.chosen_stdout_path().unwrap_or("?"));
            }
            memory_ready(arch::memory_from_device_tree(&bus, blob));
            bus
        }
        Err(e) => {
            println!("test-kernel: no usable device tree at {dtb_phys:#x}: {e}");
            arch::exit_failure(2)
        }
    }
}

/// Says what RAM the heap and DMA pool got (the architecture's memory set-up: the kernel map
/// installed, the free RAM given to the heap); the run ends if the set-up failed.
fn memory_ready(setup: Result<alloc::string::String, alloc::string::String>) {
    match setup {
        Ok(line) => println!("{line}"),
        Err(reason) => {
            println!("test-kernel: memory: {reason}");
            arch::exit_failure(2)
        }
    }
}
