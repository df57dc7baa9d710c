//! Facts about QEMU's `virt` machine, checked on blobs QEMU itself dumped.

use bus_dt::DtBus;
use registry::{Bus, DeviceIds, Irq, MmioRegion};

use super::{all_devices, device, fixture, path_of, root_device};

const GIC: &str = "/intc@8000000";

fn spi(n: u32, flags: u32, label: &str) -> Irq {
    Irq {
        controller: GIC.into(),
        cells: vec![0, n, flags],
        number: Some(32 + n),
        label: label.into(),
    }
}

#[test]
fn bus_is_named_devicetree() {
    let blob = fixture("qemu-virt.dtb");
    assert_eq!(DtBus::new(&blob).unwrap().name(), "devicetree");
}

#[test]
fn root_is_the_board() {
    let root = root_device(&fixture("qemu-virt.dtb"));
    assert_eq!(root.name, "/");
    assert_eq!(path_of(&root), "/");
    assert_eq!(
        root.ids,
        DeviceIds::Compatible(vec!["linux,dummy-virt".into()])
    );
}

#[test]
fn pl011_has_its_registers_and_spi_1() {
    let root = root_device(&fixture("qemu-virt.dtb"));
    let uart = device(&root, "/pl011@9000000");
    assert_eq!(uart.name, "pl011@9000000");
    assert_eq!(
        uart.ids,
        DeviceIds::Compatible(vec!["arm,pl011".into(), "arm,primecell".into()])
    );
    assert_eq!(
        uart.regions,
        [MmioRegion {
            base: 0x900_0000,
            size: 0x1000
        }]
    );
    assert_eq!(uart.irqs, [spi(1, 4, "SPI 1 level-high")]);
    assert!(uart.enabled);
    assert!(uart.notes.is_empty(), "{:?}", uart.notes);
}

#[test]
fn thirty_two_virtio_mmio_transports_on_spis_16_up() {
    let root = root_device(&fixture("qemu-virt.dtb"));
    let virtio: Vec<_> = all_devices(&root)
        .into_iter()
        .filter(|d| d.ids == DeviceIds::Compatible(vec!["virtio,mmio".into()]))
        .collect();
    assert_eq!(virtio.len(), 32);
    for i in 0..32u32 {
        let base = 0xa00_0000 + 0x200 * u64::from(i);
        let transport = device(&root, &format!("/virtio_mmio@{base:x}"));
        assert_eq!(transport.regions, [MmioRegion { base, size: 0x200 }]);
        let label = format!("SPI {} edge-rising", 16 + i);
        assert_eq!(transport.irqs, [spi(16 + i, 1, &label)]);
        assert_eq!(transport.irqs[0].number, Some(48 + i));
    }
}

#[test]
fn timer_has_four_ppis() {
    let root = root_device(&fixture("qemu-virt.dtb"));
    let timer = device(&root, "/timer");
    let numbers: Vec<_> = timer.irqs.iter().map(|irq| irq.number).collect();
    assert_eq!(numbers, [Some(29), Some(30), Some(27), Some(26)]);
    assert_eq!(timer.irqs[0].label, "PPI 13 level-high");
}

#[test]
fn nodes_without_compatible_pass_their_devices_up() {
    let root = root_device(&fixture("qemu-virt.dtb"));
    // `/cpus` has no compatible, so cpu@0 is a child of the root device.
    let cpu = root
        .children
        .iter()
        .find(|d| d.name == "cpu@0")
        .expect("cpu@0 under /");
    assert_eq!(path_of(cpu), "/cpus/cpu@0");
    assert!(cpu.regions.is_empty());
    assert_eq!(
        cpu.notes,
        ["reg on /cpus is not memory-mapped (#size-cells = 0)"]
    );
    // Nodes without compatible are not devices themselves.
    assert!(all_devices(&root)
        .iter()
        .all(|d| !["/cpus", "/chosen", "/memory@40000000"].contains(&path_of(d))));
}

#[test]
fn children_of_a_device_stay_under_it() {
    let root = root_device(&fixture("qemu-virt.dtb"));
    let gic = device(&root, GIC);
    assert_eq!(
        gic.regions,
        [
            MmioRegion {
                base: 0x800_0000,
                size: 0x1_0000
            },
            MmioRegion {
                base: 0x801_0000,
                size: 0x1_0000
            },
        ]
    );
    let v2m = gic
        .children
        .iter()
        .find(|d| d.name == "v2m@8020000")
        .expect("v2m under the GIC");
    // Translated through the GIC's empty (identity) ranges.
    assert_eq!(
        v2m.regions,
        [MmioRegion {
            base: 0x802_0000,
            size: 0x1000
        }]
    );
}

#[test]
fn pcie_host_and_flash_regions() {
    let root = root_device(&fixture("qemu-virt-pci.dtb"));
    let pcie = device(&root, "/pcie@10000000");
    assert_eq!(
        pcie.regions,
        [MmioRegion {
            base: 0x40_1000_0000,
            size: 0x1000_0000
        }]
    );
    assert!(pcie.irqs.is_empty());
    let flash = device(&root, "/flash@0");
    assert_eq!(
        flash.regions,
        [
            MmioRegion {
                base: 0,
                size: 0x400_0000
            },
            MmioRegion {
                base: 0x400_0000,
                size: 0x400_0000
            },
        ]
    );
}

#[test]
fn only_cpus_have_notes() {
    for name in [
        "qemu-virt.dtb",
        "qemu-virt-gicv3.dtb",
        "qemu-virt-smp4.dtb",
        "qemu-virt-pci.dtb",
    ] {
        let root = root_device(&fixture(name));
        for device in all_devices(&root) {
            let is_cpu = path_of(device).starts_with("/cpus/");
            assert_eq!(
                device.notes.is_empty(),
                !is_cpu,
                "{name} {}: {:?}",
                path_of(device),
                device.notes
            );
            assert!(device.enabled);
        }
    }
}

#[test]
fn board_facts() {
    let blob = fixture("qemu-virt.dtb");
    let bus = DtBus::new(&blob).unwrap();
    assert_eq!(
        bus.memory_regions(),
        [MmioRegion {
            base: 0x4000_0000,
            size: 512 << 20
        }]
    );
    assert_eq!(bus.chosen_stdout_path(), Some("/pl011@9000000"));
    assert_eq!(bus.model(), Some("linux,dummy-virt"));
    assert_eq!(bus.compatible_root(), ["linux,dummy-virt"]);
}

#[test]
fn gicv3_controller_is_found() {
    let root = root_device(&fixture("qemu-virt-gicv3.dtb"));
    let gic = device(&root, GIC);
    assert_eq!(gic.ids, DeviceIds::Compatible(vec!["arm,gic-v3".into()]));
    assert_eq!(
        gic.regions,
        [
            MmioRegion {
                base: 0x800_0000,
                size: 0x1_0000
            },
            MmioRegion {
                base: 0x80a_0000,
                size: 0xf6_0000
            },
        ]
    );
    assert!(gic.children.iter().any(|d| d.name == "its@8080000"));
    assert_eq!(
        device(&root, "/pl011@9000000").irqs,
        [spi(1, 4, "SPI 1 level-high")]
    );
    let timer = device(&root, "/timer");
    assert_eq!(timer.irqs[0].label, "PPI 13 level-high");
    assert_eq!(timer.irqs[0].number, Some(29));
}

#[test]
fn smp4_has_four_cpus() {
    let root = root_device(&fixture("qemu-virt-smp4.dtb"));
    let cpus: Vec<_> = root
        .children
        .iter()
        .filter(|d| path_of(d).starts_with("/cpus/cpu@"))
        .collect();
    assert_eq!(cpus.len(), 4);
    for (i, cpu) in cpus.iter().enumerate() {
        assert_eq!(cpu.name, format!("cpu@{i}"));
        assert_eq!(
            cpu.ids,
            DeviceIds::Compatible(vec!["arm,cortex-a72".into()])
        );
    }
}
