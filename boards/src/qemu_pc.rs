//! QEMU pc (x86-64, i440FX + PIIX): no device tree; the devices are on conventional PCI, whose
//! configuration space is reached through I/O ports 0xcf8/0xcfc. Virtio devices are
//! virtio-*-pci functions.

use crate::{Board, Console, DeviceSource, KernelFormat, PciConfig, Qemu, VirtioTransport};

pub const BOARD: Board = Board {
    name: "pc",
    description: "QEMU pc (i440FX), x86-64, PCI through I/O ports",
    target: "x86_64-unknown-none",
    kernel_feature: Some("board-pc"),
    early_console: Console::Uart16550 { port: 0x3f8, irq: 4 },
    devices: DeviceSource::Pci(PciConfig::PortIo),
    qemu: Qemu {
        binary: "qemu-system-x86_64",
        machine: "pc",
        // As on q35: see qemu_q35.rs.
        cpu: "qemu64,pdpe1gb=on",
        memory_mib: 512,
        // TCG, as on q35: see qemu_q35.rs.
        accelerators: &["tcg"],
        virtio_transport: VirtioTransport::Pci,
        kernel_format: KernelFormat::ElfPvh,
        extra_args: &["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"],
    },
};
