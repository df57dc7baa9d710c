//! The PCI host bridge of QEMU virt: windows from `ranges`, INTx routing from `interrupt-map`.

use bus_dt::{MsiRoute, PciHostInfo, PciSpace, PciWindow};
use registry::MsiSource;

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

#[test]
fn qemu_virt_sends_every_function_s_messages_to_the_gicv2m_frame() {
    let info = host_info();
    let source = info.route_msi(0x0108).expect("msi-map covers every requester ID");
    assert_eq!(source, MsiSource { controller: Some("/intc@8000000/v2m@8020000".into()), device_id: 0x0108 });
    assert_eq!(info.route_msi(0xffff).map(|s| s.device_id), Some(0xffff));
}

#[test]
fn qemu_virt_gicv3_sends_them_to_the_its() {
    let root = root_device(&fixture("qemu-virt-gicv3.dtb"));
    let host = device(&root, "/pcie@10000000");
    let info = host.bus_data.as_ref().and_then(|d| d.downcast_ref::<PciHostInfo>()).expect("PciHostInfo attached");
    let source = info.route_msi(0x0010).expect("msi-map covers every requester ID");
    assert_eq!(source.controller.as_deref(), Some("/intc@8000000/its@8080000"));
}

#[test]
fn msi_map_entries_offset_mask_and_bound_the_requester_ids() {
    let route = |rid_base, msi_base, length| MsiRoute { rid_base, controller: "/its".into(), msi_base, length };
    let info = PciHostInfo {
        msi_mask: 0xff,
        msi_routes: vec![route(0x10, 0x1000, 0x10), route(0x40, u32::MAX, 2)],
        ..PciHostInfo::default()
    };
    assert_eq!(info.route_msi(0x13).map(|s| s.device_id), Some(0x1003));
    assert_eq!(info.route_msi(0x0313).map(|s| s.device_id), Some(0x1003), "the mask drops the bus bits");
    assert_eq!(info.route_msi(0x20), None, "past the first entry's length");
    assert_eq!(info.route_msi(0x0f), None, "below every entry");
    assert_eq!(info.route_msi(0x40).map(|s| s.device_id), Some(u32::MAX));
    assert_eq!(info.route_msi(0x41), None, "a device ID past 32 bits is no route, not a wrap");
}
