//! Board files: one small file per supported machine, saying what the machine is (console,
//! where its device description comes from, which buses to scan) and how QEMU emulates it.
//!
//! The test kernel reads the kernel-side facts; `cargo xtask` reads the QEMU side. Adding a
//! board is adding one file beside `qemu_virt.rs` and one line to [`ALL`].
#![no_std]

pub mod qemu_virt;

/// Every board, for `cargo xtask --board NAME`.
pub const ALL: &[&Board] = &[&qemu_virt::BOARD];

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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSource {
    /// A flattened device tree whose physical address the boot loader passes (arm64: x0).
    DeviceTreeFromBootLoader,
}

/// How QEMU emulates the board.
#[derive(Debug)]
pub struct Qemu {
    pub binary: &'static str,
    /// `-M` value.
    pub machine: &'static str,
    pub cpu: &'static str,
    pub memory_mib: u32,
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
}
