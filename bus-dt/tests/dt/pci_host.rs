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

/// QEMU virt's `ranges` (I/O, 32-bit memory, 64-bit memory), 7 cells each.
const QEMU_RANGES: [[u32; 7]; 3] = [
    [0x0100_0000, 0, 0, 0, 0x3eff_0000, 0, 0x1_0000],
    [0x0200_0000, 0, 0x1000_0000, 0, 0x1000_0000, 0, 0x2eff_0000],
    [0x0300_0000, 0x80, 0, 0x80, 0, 0x80, 0],
];

/// QEMU's host with its `ranges` replaced (same length): the windows and the host's notes.
fn with_ranges(ranges: [[u32; 7]; 3]) -> (Vec<PciWindow>, Vec<String>) {
    let bytes = |r: [[u32; 7]; 3]| -> Vec<u8> { r.into_iter().flatten().flat_map(u32::to_be_bytes).collect() };
    let (original, mut blob) = (bytes(QEMU_RANGES), fixture("qemu-virt.dtb"));
    let at = blob.windows(original.len()).position(|w| w == original).expect("QEMU's ranges");
    blob[at..at + original.len()].copy_from_slice(&bytes(ranges));
    let root = root_device(&blob);
    let host = device(&root, "/pcie@10000000");
    let info = host.bus_data.as_ref().and_then(|d| d.downcast_ref::<PciHostInfo>()).expect("PciHostInfo attached");
    (info.windows.clone(), host.notes.clone())
}

#[test]
fn windows_that_map_nothing_or_run_past_2_64_are_left_out_with_a_note() {
    let spaces = |windows: &[PciWindow]| windows.iter().map(|w| w.space).collect::<Vec<_>>();
    let mut ranges = QEMU_RANGES;
    ranges[0][5..].copy_from_slice(&[0, 0]);
    let (windows, notes) = with_ranges(ranges);
    assert_eq!(spaces(&windows), [PciSpace::Memory32, PciSpace::Memory64]);
    assert_eq!(notes, ["/pcie@10000000: ranges entry for PCI 0x0+0x0 at 0x3eff0000 left out: size 0"]);

    // CPU addresses from near 2^64 on.
    let mut ranges = QEMU_RANGES;
    ranges[1][3..5].copy_from_slice(&[0xffff_ffff, 0xfff0_0000]);
    let (windows, notes) = with_ranges(ranges);
    assert_eq!(spaces(&windows), [PciSpace::Io, PciSpace::Memory64]);
    assert!(notes.len() == 1 && notes[0].ends_with("left out: ends at or past 2^64"), "{notes:?}");

    // PCI addresses past 2^64 (from 0xffff_ffff_0000_0000, 8 GiB).
    let mut ranges = QEMU_RANGES;
    ranges[2] = [0x0300_0000, 0xffff_ffff, 0, 0x80, 0, 0x2, 0];
    let (windows, notes) = with_ranges(ranges);
    assert_eq!(spaces(&windows), [PciSpace::Io, PciSpace::Memory32]);
    assert!(notes.len() == 1 && notes[0].ends_with("left out: ends at or past 2^64"), "{notes:?}");

    // Ending 1 byte short of 2^64 is fine; at 2^64 is not (a window's end is kept in 64 bits).
    let mut ranges = QEMU_RANGES;
    ranges[2] = [0x0300_0000, 0xffff_ff00, 0, 0xffff_ff00, 0, 0xff, 0xffff_ffff];
    let (windows, notes) = with_ranges(ranges);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(windows[2].cpu_base.checked_add(windows[2].size), Some(u64::MAX));
    ranges[2][6] = 0;
    ranges[2][5] = 0x100;
    let (windows, notes) = with_ranges(ranges);
    assert_eq!(spaces(&windows), [PciSpace::Io, PciSpace::Memory32]);
    assert!(notes.len() == 1 && notes[0].ends_with("left out: ends at or past 2^64"), "{notes:?}");
}

#[test]
fn a_window_split_by_a_parent_s_ranges_is_left_out() {
    use super::builder::{Builder, END};
    let cells = |c: &[u32]| c.iter().flat_map(|c| c.to_be_bytes()).collect::<Vec<u8>>();
    // /soc maps its 0..0x4000_0000 at CPU 0x1_0000_0000; the host's first window lies
    // inside, the second runs past the end of the soc's range.
    let blob = Builder::default()
        .begin("")
        .prop_u32("#address-cells", &[2])
        .prop_u32("#size-cells", &[2])
        .begin("soc")
        .prop("compatible", b"simple-bus\0")
        .prop_u32("#address-cells", &[1])
        .prop_u32("#size-cells", &[1])
        .prop_u32("ranges", &[0, 0x1, 0, 0x4000_0000])
        .begin("pcie@3000000")
        .prop("compatible", b"pci-host-ecam-generic\0")
        .prop("device_type", b"pci\0")
        .prop_u32("#address-cells", &[3])
        .prop_u32("#size-cells", &[2])
        .prop_u32("reg", &[0x3000_0000, 0x100_0000])
        .prop("ranges", &cells(&[0x0200_0000, 0, 0x1000_0000, 0x1000_0000, 0, 0x1000_0000, 0x0200_0000, 0, 0x2000_0000, 0x3800_0000, 0, 0x1000_0000]))
        .end()
        .end()
        .end()
        .token(END)
        .build();
    let root = root_device(&blob);
    let host = device(&root, "/soc/pcie@3000000");
    let info = host.bus_data.as_ref().and_then(|d| d.downcast_ref::<PciHostInfo>()).expect("PciHostInfo attached");
    assert_eq!(info.windows, [PciWindow { space: PciSpace::Memory32, prefetchable: false, pci_base: 0x1000_0000, cpu_base: 0x1_1000_0000, size: 0x1000_0000 }]);
    assert_eq!(host.notes, ["/soc/pcie@3000000: ranges entry for PCI 0x20000000+0x10000000 at 0x38000000 left out: not contiguous in CPU addresses"]);
}
