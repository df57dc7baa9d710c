//! Board files: one small file per supported machine, saying what the machine is (console,
//! where its device description comes from, which buses to scan) and how QEMU emulates it.
//!
//! The test kernel reads the kernel-side facts; `cargo xtask` reads the QEMU side. Adding a
//! board is adding one file beside `qemu_virt.rs` and one line to [`ALL`].
#![no_std]

pub mod qemu_pc;
pub mod qemu_q35;
pub mod qemu_virt;

/// Every board, for `cargo xtask --board NAME`.
pub const ALL: &[&Board] = &[&qemu_virt::BOARD, &qemu_q35::BOARD, &qemu_pc::BOARD];

/// Looks a board up by its name.
pub fn by_name(name: &str) -> Option<&'static Board> {
    ALL.iter().copied().find(|b| b.name == name)
}

/// A machine the framework runs on.
#[derive(Debug)]
pub struct Board {
    /// Used on the command line (`--board qemu-virt`).
    pub name: &'static str,
    pub description: &'static str,
    /// The Rust target the kernel is built for.
    pub target: &'static str,
    /// The test kernel's cargo feature that selects this board, where the target alone does not
    /// (several x86-64 boards, none with a device tree to tell them apart at run time).
    pub kernel_feature: Option<&'static str>,
    /// Where the kernel prints before any driver is bound.
    pub early_console: Console,
    /// Where the device description comes from, and so which buses `probe_all` scans.
    pub devices: DeviceSource,
    pub qemu: Qemu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// An ARM PL011 UART at this physical address.
    Pl011 { base: u64 },
    /// A 16550-compatible UART at this x86 I/O port, interrupting on this ISA IRQ (COM1: 0x3f8,
    /// IRQ 4).
    Uart16550 { port: u16, irq: u8 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSource {
    /// A flattened device tree whose physical address the boot loader passes (arm64: x0).
    DeviceTreeFromBootLoader,
    /// No device tree: a fixed PC platform whose devices are found by scanning its PCI host
    /// bridge, reached as this says.
    Pci(PciConfig),
}

/// How the CPU reaches PCI configuration space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciConfig {
    /// Memory-mapped (PCIe ECAM): 4 KiB per function, 1 MiB per bus, from `base` for the buses
    /// `start_bus..=end_bus`.
    Ecam { base: u64, start_bus: u8, end_bus: u8 },
    /// Memory-mapped (PCIe ECAM) where the firmware's ACPI MCFG table says (segment 0).
    EcamFromAcpi,
    /// The legacy PC mechanism: address to I/O port 0xcf8, data through 0xcfc.
    PortIo,
}

/// How QEMU emulates the board.
#[derive(Debug)]
pub struct Qemu {
    pub binary: &'static str,
    /// `-M` value.
    pub machine: &'static str,
    pub cpu: &'static str,
    pub memory_mib: u32,
    /// `-accel` values in the order QEMU tries them (empty: QEMU's default, TCG). Dropped when
    /// the extra arguments of a run name an accelerator themselves.
    pub accelerators: &'static [&'static str],
    /// How virtio devices attach by default.
    pub virtio_transport: VirtioTransport,
    /// What `-kernel` is given: a raw arm64 Image or the ELF itself.
    pub kernel_format: KernelFormat,
    /// Extra arguments every boot needs (exit devices and the like).
    pub extra_args: &'static [&'static str],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtioTransport {
    /// `virtio-*-device` on the board's virtio-mmio slots.
    Mmio,
    /// `virtio-*-pci`.
    Pci,
}

impl VirtioTransport {
    /// QEMU's device names are `virtio-<kind>-<suffix>`, e.g. `virtio-blk-device`.
    pub fn qemu_suffix(self) -> &'static str {
        match self {
            VirtioTransport::Mmio => "device",
            VirtioTransport::Pci => "pci",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    /// A raw binary with the arm64 Linux Image header, so the loader passes the DTB in x0.
    Arm64Image,
    /// The ELF itself, with a Xen PVH entry note: QEMU's x86 `-kernel` loads its segments and
    /// enters the note's 32-bit entry point (the x86/HVM direct boot ABI).
    ElfPvh,
}
