//! QEMU q35 (x86-64, ICH9): no device tree; the devices are on PCI Express, whose configuration
//! space the firmware maps as ECAM. Virtio devices are virtio-*-pci functions.

use crate::{Board, Console, DeviceSource, KernelFormat, PciConfig, Qemu, VirtioTransport};

pub const BOARD: Board = Board {
    name: "q35",
    description: "QEMU q35, x86-64, PCI Express (ECAM)",
    target: "x86_64-unknown-none",
    kernel_feature: Some("board-q35"),
    early_console: Console::Uart16550 { port: 0x3f8, irq: 4 },
    // SeaBIOS (which QEMU runs before the PVH entry) sets the MCH's PCIEXBAR (0xb000_0000, 256
    // MiB, all buses) and QEMU's ACPI MCFG table reports it.
    devices: DeviceSource::Pci(PciConfig::EcamFromAcpi),
    qemu: Qemu {
        binary: "qemu-system-x86_64",
        machine: "q35",
        // Works under KVM and TCG alike (`max` does not under every KVM); 1 GiB pages let the
        // kernel map where firmware puts the 64-bit PCI window (see arch/x86_64/paging.rs).
        cpu: "qemu64,pdpe1gb=on",
        memory_mib: 512,
        // TCG, though /dev/kvm may be there: on a machine without hardware virtualization
        // (this project's are VMs whose CPUs have no vmx/svm) KVM still runs, but every device
        // access exits to a host that cannot virtualize it cheaply, so I/O is hundreds of times
        // slower than under TCG whatever the driver does (a 4 MiB disk write: 12.8 s under KVM,
        // 31 ms under TCG, 2026-12-03). `-- -accel kvm` picks KVM for one run.
        accelerators: &["tcg"],
        virtio_transport: VirtioTransport::Pci,
        kernel_format: KernelFormat::ElfPvh,
        // isa-debug-exit lets the kernel exit with a failure code; -no-reboot turns a triple
        // fault (a fault before the kernel's IDT is up) into the end of the run, not a reboot.
        extra_args: &["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"],
    },
};
