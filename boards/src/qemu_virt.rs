//! QEMU `virt` (aarch64): everything is described by the device tree QEMU builds and passes in
//! x0; virtio devices sit on 32 virtio-mmio slots (and on the PCIe host bridge when asked for).

use crate::{Board, Console, DeviceSource, KernelFormat, Qemu, VirtioTransport};

pub const BOARD: Board = Board {
    name: "qemu-virt",
    description: "QEMU virt, aarch64 (Cortex-A72), device tree from the boot loader",
    target: "aarch64-unknown-none",
    kernel_feature: None,
    // Fixed by QEMU's virt memory map; the device tree's /chosen stdout-path names the same UART.
    early_console: Console::Pl011 { base: 0x0900_0000 },
    devices: DeviceSource::DeviceTreeFromBootLoader,
    qemu: Qemu {
        binary: "qemu-system-aarch64",
        machine: "virt",
        cpu: "cortex-a72",
        memory_mib: 512,
        accelerators: &[],
        virtio_transport: VirtioTransport::Mmio,
        kernel_format: KernelFormat::Arm64Image,
        // Semihosting lets the kernel exit QEMU with a failure code.
        extra_args: &["-semihosting"],
    },
};
