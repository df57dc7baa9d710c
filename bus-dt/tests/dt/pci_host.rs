//! The PCI host bridge of QEMU virt: windows from `ranges`, INTx routing from `interrupt-map`.

use bus_dt::{PciHostInfo, PciSpace, PciWindow};

use super::{device, fixture, root_device};

fn host_info() -> PciHostInfo {
    let root = root_device(&fixture("qemu-virt.dtb"));
    let host = device(&root, "/pcie@10000000");
    let info = host.bus_data.as_ref().and_then(|d| d.downcast_ref::<PciHostInfo>()).expect("PciHostInfo attached");
    assert!(host.notes.is_empty(), "{:?}", host.notes);
    info.clone()
}

#[test]
fn qemu_virt_windows_and_bus_range() {
    let info = host_info();
    assert_eq!((info.first_bus, info.last_bus), (0, 255));
    assert_eq!(
        info.windows,
        [
            PciWindow { space: PciSpace::Io, prefetchable: false, pci_base: 0, cpu_base: 0x3eff_0000, size: 0x1_0000 },
            PciWindow { space: PciSpace::Memory32, prefetchable: false, pci_base: 0x1000_0000, cpu_base: 0x1000_0000, size: 0x2eff_0000 },
            PciWindow { space: PciSpace::Memory64, prefetchable: false, pci_base: 0x80_0000_0000, cpu_base: 0x80_0000_0000, size: 0x80_0000_0000 },
        ]
    );
}

#[test]
fn qemu_virt_intx_swizzles_over_four_spis() {
    let info = host_info();
    assert_eq!(info.intx_routes.len(), 16);
    // QEMU virt: device d, pin p (1-based) -> SPI 3 + (d + p - 1) % 4.
    for device in 0..8u8 {
        for pin in 1..=4u32 {
            let irq = info.route_intx(0, device, 0, pin).expect("every device and pin is routed");
            let spi = 3 + (u32::from(device) + pin - 1) % 4;
            assert_eq!(irq.number, Some(32 + spi), "device {device} pin {pin}");
            assert_eq!(irq.controller, "/intc@8000000");
        }
    }
    assert!(info.route_intx(0, 0, 0, 5).is_none(), "pin 5 does not exist");
}

#[test]
fn other_nodes_carry_no_bus_data() {
    let root = root_device(&fixture("qemu-virt.dtb"));
    assert!(device(&root, "/pl011@9000000").bus_data.is_none());
}
