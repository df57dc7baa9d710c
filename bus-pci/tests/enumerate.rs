//! Enumeration, BAR sizing and assignment, capabilities and INTx over a simulated config space.

use std::sync::Arc;

use bus_pci::assign::{assign, HostWindows, Window};
use bus_pci::bar::{Bar, BarKind};
use bus_pci::caps::{self, Capability, CapabilityError, CAP_MSIX, CAP_VENDOR};
use bus_pci::scan::scan;
use bus_pci::sim::{SimBar, SimBus, SimConfig, SimFunction};
use bus_pci::{Bdf, ConfigAccess};

const VIRTIO: u16 = 0x1af4;

fn bdf(bus: u8, device: u8, function: u8) -> Bdf {
    Bdf { bus, device, function }
}

/// Root bus: host bridge, a multi-function device, a single-function device, and a bridge
/// with an endpoint and a nested bridge (with one more endpoint) behind it.
fn topology() -> SimConfig {
    let deep = SimBus::new().with(SimFunction::endpoint(0, 0, VIRTIO, 0x1042, 0x01_00_00).bar(4, SimBar::memory64(0x4000, true)).interrupt(1, 0));
    let behind = SimBus::new()
        .with(SimFunction::endpoint(0, 0, VIRTIO, 0x1041, 0x02_00_00).bar(1, SimBar::memory32(0x1000)).bar(4, SimBar::memory64(0x4000, true)).interrupt(1, 0))
        .with(SimFunction::bridge(1, 0, deep));
    let root = SimBus::new()
        .with(SimFunction::endpoint(0, 0, 0x1b36, 0x0008, 0x06_00_00))
        .with(SimFunction::endpoint(2, 0, 0x8086, 0x1234, 0x02_00_00).multi_function().bar(0, SimBar::io(0x20)))
        .with(SimFunction::endpoint(2, 1, 0x8086, 0x1235, 0x02_00_00).bar(0, SimBar::memory32(0x2000)))
        .with(SimFunction::endpoint(3, 0, VIRTIO, 0x1050, 0x03_80_00).bar(0, SimBar::memory32(0x10_0000)))
        // A single-function device that (like many) answers on every function number.
        .with(SimFunction::endpoint(3, 1, 0xdead, 0xbeef, 0))
        .with(SimFunction::bridge(4, 0, behind));
    SimConfig::new(0, root)
}

#[test]
fn scan_finds_functions_through_bridges_and_numbers_buses() {
    let config = topology();
    let found = scan(&config, 0, 255);
    let bdfs: Vec<String> = found.functions.iter().map(|f| f.bdf.to_string()).collect();
    assert_eq!(bdfs, ["00:00.0", "00:02.0", "00:02.1", "00:03.0", "00:04.0", "01:00.0", "01:01.0", "02:00.0"]);
    assert!(found.notes.is_empty(), "{:?}", found.notes);
    // Bridges numbered depth first, subordinate closed to what was used.
    assert_eq!(config.with_function(bdf(0, 4, 0), |f| f.bridge_buses()), Some((1, 2)));
    assert_eq!(config.with_function(bdf(1, 1, 0), |f| f.bridge_buses()), Some((2, 2)));
    let bridge = found.functions.iter().position(|f| f.bdf == bdf(0, 4, 0)).unwrap();
    let nested = found.functions.iter().position(|f| f.bdf == bdf(1, 1, 0)).unwrap();
    assert_eq!(found.functions[5].upstream, Some(bridge));
    assert_eq!(found.functions[7].upstream, Some(nested));
    assert_eq!(found.functions[3].ids.class, 0x03_80_00);
    assert_eq!(found.functions[3].ids.revision, 1);
}

#[test]
fn firmware_bus_numbers_are_kept() {
    let behind = SimBus::new().with(SimFunction::endpoint(0, 0, VIRTIO, 0x1041, 0x02_00_00));
    // Firmware numbered the bridge's bus 5..=5.
    let bridge = SimFunction::bridge(1, 0, behind).word(0x18, 5 << 16 | 5 << 8);
    let config = SimConfig::new(0, SimBus::new().with(bridge));
    let found = scan(&config, 0, 255);
    assert_eq!(found.functions.last().unwrap().bdf, bdf(5, 0, 0));
    assert_eq!(config.with_function(bdf(0, 1, 0), |f| f.bridge_buses()), Some((5, 5)));
}

#[test]
fn bars_are_sized_with_decode_off_and_restored() {
    let function = SimFunction::endpoint(1, 0, VIRTIO, 0x1041, 0x02_00_00)
        .bar(0, SimBar::io(0x20))
        .bar(1, SimBar::memory32(0x1000))
        .bar(2, SimBar::memory64(0x1_0000_0000, true))
        .word(0x04, 0x0007);
    let config = SimConfig::new(0, SimBus::new().with(function));
    let bars = bus_pci::bar::probe(&config, bdf(0, 1, 0), 6);
    assert_eq!(
        bars,
        [
            Bar { index: 0, kind: BarKind::Io, prefetchable: false, address: 0, size: 0x20 },
            Bar { index: 1, kind: BarKind::Memory32, prefetchable: false, address: 0, size: 0x1000 },
            Bar { index: 2, kind: BarKind::Memory64, prefetchable: true, address: 0, size: 0x1_0000_0000 },
        ]
    );
    assert_eq!(config.read16(bdf(0, 1, 0), 0x04), 0x0007, "command register restored");
}

fn windows() -> HostWindows {
    HostWindows {
        io: Some(Window { pci_base: 0, cpu_base: 0x3eff_0000, size: 0x1_0000 }),
        memory32: Some(Window { pci_base: 0x1000_0000, cpu_base: 0x1000_0000, size: 0x2eff_0000 }),
        memory64: Some(Window { pci_base: 0x80_0000_0000, cpu_base: 0x80_0000_0000, size: 0x80_0000_0000 }),
    }
}

#[test]
fn assignment_places_every_bar_in_a_window_without_overlap_and_opens_bridges() {
    let config = topology();
    let mut found = scan(&config, 0, 255);
    assert!(!windows().all_assigned(&found));
    let notes = assign(&config, &mut found, 0, &windows());
    assert!(notes.is_empty(), "{notes:?}");
    assert!(windows().all_assigned(&found));

    let mut ranges: Vec<(u64, u64, Bdf)> = Vec::new();
    for f in &found.functions {
        for bar in &f.bars {
            assert_eq!(bar.address % bar.size, 0, "{} BAR{} aligned", f.bdf, bar.index);
            // What the device decodes is what the scan recorded.
            let again = bus_pci::bar::probe(&config, f.bdf, 6).into_iter().find(|b| b.index == bar.index).unwrap();
            assert_eq!(again.address, bar.address);
            ranges.push((bar.address, bar.address + bar.size, f.bdf));
        }
    }
    ranges.sort();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlap: {pair:?}");
    }
    // The bridge at 00:04.0 forwards a memory window covering both endpoints behind it.
    let memory = config.with_function(bdf(0, 4, 0), |f| f.register(0x20)).unwrap();
    let (base, limit) = (u64::from(memory & 0xfff0) << 16, (u64::from(memory >> 20) << 20) | 0xf_ffff);
    for child in [bdf(1, 0, 0), bdf(2, 0, 0)] {
        let f = found.functions.iter().find(|f| f.bdf == child).unwrap();
        for bar in &f.bars {
            assert!(base <= bar.address && bar.address + bar.size - 1 <= limit, "{child} outside {base:#x}-{limit:#x}");
        }
    }
    let command = config.read16(bdf(0, 4, 0), 0x04);
    assert_eq!(command & 0x7, 0x7, "bridge forwards memory, I/O and bus mastering");
}

#[test]
fn capability_lists_are_walked_and_bad_ones_refused() {
    let good = SimFunction::endpoint(1, 0, VIRTIO, 0x1041, 0x02_00_00).capabilities(&[(CAP_MSIX, &[0; 10]), (CAP_VENDOR, &[14, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]);
    // A list whose second entry points back at the first.
    let looping = SimFunction::endpoint(2, 0, VIRTIO, 0x1041, 0).word(0x04, 0x0010 << 16).word(0x34, 0x40).word(0x40, 0x4c11).word(0x4c, 0x4009);
    // A pointer into the standard header.
    let low = SimFunction::endpoint(3, 0, VIRTIO, 0x1041, 0).word(0x04, 0x0010 << 16).word(0x34, 0x40).word(0x40, 0x2011);
    let config = SimConfig::new(0, SimBus::new().with(good).with(looping).with(low));
    assert_eq!(
        caps::walk(&config, bdf(0, 1, 0)),
        Ok(vec![Capability { id: CAP_MSIX, offset: 0x40 }, Capability { id: CAP_VENDOR, offset: 0x4c }])
    );
    assert_eq!(caps::walk(&config, bdf(0, 2, 0)), Err(CapabilityError::Loop { at: 0x40 }));
    assert_eq!(caps::walk(&config, bdf(0, 3, 0)), Err(CapabilityError::OutOfRange { from: 0x41, pointer: 0x20 }));
}

#[test]
fn ecam_config_is_reachable_through_an_mmio_window() {
    use registry::mmio::MmioWindow;
    use registry::testing::HostPlatform;
    use registry::{MmioRegion, Platform};
    let platform = HostPlatform::leaked();
    // Two buses of ECAM; function 00:01.2's vendor/device word at its 4 KiB page.
    let memory: &'static mut [u32] = Box::leak(vec![u32::MAX; 2 << 18].into_boxed_slice());
    memory[(1 << 15 | 2 << 12) / 4] = 0x1041_1af4;
    platform.add_window(0x4010_0000_0000, memory);
    let region = MmioRegion { base: 0x4010_0000_0000, size: 2 << 20 };
    let ecam = bus_pci::Ecam::new(MmioWindow::map(platform as &dyn Platform, region).unwrap(), 0);
    assert_eq!(ecam.read32(bdf(0, 1, 2), 0), 0x1041_1af4);
    assert_eq!(ecam.read16(bdf(0, 1, 2), 2), 0x1041);
    assert_eq!(ecam.read32(bdf(2, 0, 0), 0), u32::MAX, "bus 2 is outside the window");
    assert_eq!(ecam.read32(bdf(0, 32, 0), 0), u32::MAX, "device 32 does not exist");
    let _ = Arc::new(ecam);
}

#[test]
fn a_window_near_2_64_gives_no_cpu_address_rather_than_a_wrapped_one() {
    let window = Window { pci_base: 0x1000_0000, cpu_base: u64::MAX - 0xffff, size: 0x2eff_0000 };
    assert_eq!(window.to_cpu(0x1000_0000, 0x1000), Some(u64::MAX - 0xffff));
    assert_eq!(window.to_cpu(0x1000_f000, 0x1000), None, "the BAR's CPU range would end at 2^64");
    assert_eq!(window.to_cpu(0x1001_0000, 0x1000), None, "its CPU address would wrap");
    let windows = HostWindows { memory32: Some(window), ..HostWindows::default() };
    assert_eq!(windows.to_cpu(BarKind::Memory64, 0x1100_0000, 0x1000), None);
    assert_eq!(Window { pci_base: u64::MAX, cpu_base: 0, size: 2 }.pci_range(), None);
}

#[test]
fn assignment_never_programs_a_32_bit_bar_or_bridge_window_past_4_gib() {
    // A 32-bit window that (wrongly) runs past 4 GiB: the second and third BARs would land
    // at 0x1_0000_0000 and above, which 32-bit registers cannot hold.
    let behind = SimBus::new().with(SimFunction::endpoint(0, 0, VIRTIO, 0x1041, 0x02_00_00).bar(0, SimBar::memory32(0x10_0000)));
    let root = SimBus::new()
        .with(SimFunction::endpoint(1, 0, VIRTIO, 0x1041, 0x02_00_00).bar(0, SimBar::memory32(0x8_0000)))
        .with(SimFunction::endpoint(2, 0, VIRTIO, 0x1041, 0x02_00_00).bar(0, SimBar::memory32(0x8_0000)))
        .with(SimFunction::bridge(3, 0, behind));
    let config = SimConfig::new(0, root);
    let windows = HostWindows { memory32: Some(Window { pci_base: 0xfff8_0000, cpu_base: 0xfff8_0000, size: 0x100_0000 }), ..HostWindows::default() };
    let mut found = scan(&config, 0, 255);
    let notes = assign(&config, &mut found, 0, &windows);
    for f in &found.functions {
        for bar in &f.bars {
            let again = bus_pci::bar::probe(&config, f.bdf, 6).into_iter().find(|b| b.index == bar.index).unwrap();
            assert_eq!(again.address, bar.address, "{} BAR{}: the device decodes what the scan recorded", f.bdf, bar.index);
            assert!(bar.address + bar.size <= 1 << 32, "{} BAR{} at {:#x}", f.bdf, bar.index, bar.address);
        }
    }
    let placed = found.functions.iter().flat_map(|f| &f.bars).filter(|b| b.address != 0).count();
    assert_eq!(placed, 1, "only the first BAR fits below 4 GiB");
    assert_eq!(notes.len(), 2, "{notes:?}");
    // The bridge's window stays closed (base above limit): nothing behind it was placed.
    let memory = config.with_function(bdf(0, 3, 0), |f| f.register(0x20)).unwrap();
    assert!(memory & 0xfff0 > (memory >> 16) & 0xfff0, "bridge window {memory:#x} opened");
}
