//! The device-tree ECAM host path end to end, as the kernel runs it on QEMU virt: QEMU's DTB
//! (as dumped, or with hostile `ranges` patched in) through bus-dt to the host's description,
//! then [`DtEcamHost`] over a simulated configuration space: windows, bus scan through
//! bridges, BAR assignment, INTx swizzling, and the MSI controller and device ID of each
//! function from `msi-map` (through the requester ID its bridges present).

use std::sync::Arc;

use bus_dt::{DtBus, PciHostInfo, PciSpace, PciWindow};
use bus_pci::sim::{SimBar, SimBus, SimConfig, SimFunction};
use bus_pci::{ConfigAccess, DtEcamHost, HostFunctions, PciFunction};
use registry::{Bus, DeviceIds, DeviceSpec, MmioRegion, MsiSource};

const VIRTIO: u16 = 0x1af4;

/// QEMU virt's `ranges` (I/O, 32-bit memory, 64-bit memory), 7 cells each: space code,
/// PCI address (2 cells), CPU address (2), size (2).
const QEMU_RANGES: [[u32; 7]; 3] = [
    [0x0100_0000, 0, 0, 0, 0x3eff_0000, 0, 0x1_0000],
    [0x0200_0000, 0, 0x1000_0000, 0, 0x1000_0000, 0, 0x2eff_0000],
    [0x0300_0000, 0x80, 0, 0x80, 0, 0x80, 0],
];
const ECAM: MmioRegion = MmioRegion { base: 0x40_1000_0000, size: 0x1000_0000 };

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../tests/dtb/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn be_bytes(cells: impl IntoIterator<Item = u32>) -> Vec<u8> {
    cells.into_iter().flat_map(u32::to_be_bytes).collect()
}

/// QEMU's blob with its PCIe host's `ranges` replaced (same length, so nothing else moves).
fn with_ranges(blob: &[u8], ranges: [[u32; 7]; 3]) -> Vec<u8> {
    let original = be_bytes(QEMU_RANGES.into_iter().flatten());
    let at = blob.windows(original.len()).position(|w| w == original).expect("QEMU's ranges in the fixture");
    let mut patched = blob.to_vec();
    patched[at..at + original.len()].copy_from_slice(&be_bytes(ranges.into_iter().flatten()));
    patched
}

/// Every device of `spec` and below, depth first.
fn all(spec: &DeviceSpec) -> Vec<&DeviceSpec> {
    let mut found = vec![spec];
    for child in &spec.children {
        found.extend(all(child));
    }
    found
}

/// The PCIe host node's description, `reg` and notes, as bus-dt gives them to the driver.
fn dt_host(blob: &[u8]) -> (PciHostInfo, MmioRegion, Vec<String>) {
    let roots = DtBus::new(blob).expect("valid blob").enumerate().expect("enumerates");
    let host = roots
        .iter()
        .flat_map(all)
        .find(|d| matches!(&d.ids, DeviceIds::Compatible(c) if c.iter().any(|c| c == "pci-host-ecam-generic")))
        .expect("a pci-host-ecam-generic node");
    let info = host.bus_data.as_ref().and_then(|d| d.downcast_ref::<PciHostInfo>()).expect("PciHostInfo attached").clone();
    (info, host.regions[0], host.notes.clone())
}

/// QEMU-like functions: the host bridge, a NIC on the root bus, a disk behind a conventional
/// pci-bridge (00:02.0, bus 1), and one behind a pcie-pci-bridge (02:00.0, bus 3) below a
/// root port (00:04.0, bus 2). Every endpoint has an I/O, a 32-bit and a 64-bit memory BAR.
fn topology() -> SimConfig {
    let endpoint = |device: u8, id: u16, pin: u8| {
        SimFunction::endpoint(device, 0, VIRTIO, id, 0x01_00_00)
            .bar(0, SimBar::io(0x40))
            .bar(1, SimBar::memory32(0x1000))
            .bar(4, SimBar::memory64(0x4000, true))
            .interrupt(pin, 0)
    };
    let behind_pcie_pci = SimBus::new().with(endpoint(1, 0x1001, 2));
    let behind_root_port = SimBus::new().with(SimFunction::bridge(0, 0, behind_pcie_pci).pcie(7));
    let root = SimBus::new()
        .with(SimFunction::endpoint(0, 0, 0x1b36, 0x0008, 0x06_00_00))
        .with(endpoint(1, 0x1000, 1))
        .with(SimFunction::bridge(2, 0, SimBus::new().with(endpoint(3, 0x1001, 1))))
        .with(SimFunction::bridge(4, 0, behind_root_port).pcie(4));
    SimConfig::new(0, root)
}

fn enumerate(info: &PciHostInfo, reg: MmioRegion) -> (DtEcamHost, HostFunctions) {
    let host = DtEcamHost::new(info, reg).expect("a usable host");
    let config: Arc<dyn ConfigAccess> = Arc::new(topology());
    let found = host.enumerate(&config, info);
    (host, found)
}

fn functions(found: &HostFunctions) -> Vec<&DeviceSpec> {
    found.children.iter().flat_map(all).collect()
}

fn pci_function(spec: &DeviceSpec) -> &PciFunction {
    spec.bus_data.as_ref().and_then(|d| d.downcast_ref::<PciFunction>()).expect("PciFunction attached")
}

/// Every region of every function lies inside an accepted window's CPU range, whole.
fn assert_regions_inside_windows(host: &DtEcamHost, found: &HostFunctions) {
    let windows = [host.windows.io, host.windows.memory32, host.windows.memory64];
    for spec in functions(found) {
        for region in &spec.regions {
            let end = region.base.checked_add(region.size).unwrap_or_else(|| panic!("{}: region {region:?} wraps", spec.name));
            let inside = windows.iter().flatten().filter_map(|w| w.cpu_range()).any(|r| r.start <= region.base && end <= r.end);
            assert!(inside, "{}: region {region:?} outside every window {windows:?}", spec.name);
        }
    }
}

#[test]
fn qemu_virt_host_scans_assigns_routes_intx_and_msis() {
    let (info, reg, notes) = dt_host(&fixture("qemu-virt.dtb"));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(reg, ECAM);
    let (host, found) = enumerate(&info, reg);
    assert_eq!((host.first_bus, host.last_bus, host.ecam), (0, 255, ECAM));
    assert!(host.notes.is_empty() && found.notes.is_empty(), "{:?} {:?}", host.notes, found.notes);
    assert!(found.assigned);
    let names: Vec<&str> = functions(&found).iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["00:00.0", "00:01.0", "00:02.0", "01:03.0", "00:04.0", "02:00.0", "03:01.0"]);
    assert_regions_inside_windows(&host, &found);

    let by_name = |name: &str| *functions(&found).iter().find(|s| s.name == name).unwrap();
    // QEMU virt: INTx pin p of root-bus device d is SPI 3 + (d + p - 1) % 4 (INTID + 32).
    // 01:03.0 INTA -> INTD at the pci-bridge 00:02.0 -> SPI 4; 03:01.0 INTB -> INTC at the
    // pcie-pci-bridge 02:00.0 -> INTC at the root port 00:04.0 -> SPI 5.
    for (name, intid) in [("00:01.0", 36), ("01:03.0", 36), ("03:01.0", 37)] {
        let spec = by_name(name);
        assert_eq!(spec.irqs.iter().map(|irq| irq.number).collect::<Vec<_>>(), [Some(intid)], "{name}");
        // Two memory BARs each, at their CPU addresses, and the I/O BAR by port.
        assert_eq!(spec.regions.len(), 2, "{name}: {:?}", spec.regions);
        assert_eq!(spec.io_ports.len(), 1, "{name}: {:?}", spec.io_ports);
        assert_eq!(spec.io_ports[0].size, 0x40);
        assert!(host.windows.io.unwrap().to_cpu(spec.io_ports[0].base, 0x40).is_some(), "{name}: {:?}", spec.io_ports);
        assert!(spec.notes.iter().all(|n| !n.contains("unassigned")), "{name}: {:?}", spec.notes);
    }
    // Every function's messages go to the GICv2m frame (msi-map: device ID = requester ID),
    // tagged as its bridges present them.
    let v2m = |device_id| Some(MsiSource { controller: Some("/intc@8000000/v2m@8020000".into()), device_id });
    for (name, source) in [("00:01.0", v2m(0x0008)), ("01:03.0", v2m(0x0010)), ("03:01.0", v2m(0x0300))] {
        assert_eq!(pci_function(by_name(name)).msi, source, "{name}");
    }
    assert!(by_name("01:03.0").notes.contains(&"messages tagged 00:02.0 by the bridge above".to_string()));
    assert!(by_name("03:01.0").notes.contains(&"messages tagged 03:00.0 by the bridge above".to_string()));
}

#[test]
fn qemu_virt_gicv3_host_sends_each_function_s_alias_to_the_its() {
    let (info, reg, _) = dt_host(&fixture("qemu-virt-gicv3.dtb"));
    let (host, found) = enumerate(&info, reg);
    assert_regions_inside_windows(&host, &found);
    let ids: Vec<(String, Option<MsiSource>)> =
        functions(&found).iter().filter(|s| s.name.ends_with(":01.0") || s.name == "01:03.0").map(|s| (s.name.clone(), pci_function(s).msi.clone())).collect();
    let its = |device_id| Some(MsiSource { controller: Some("/intc@8000000/its@8080000".into()), device_id });
    assert_eq!(ids, [("00:01.0".into(), its(0x0008)), ("01:03.0".into(), its(0x0010)), ("03:01.0".into(), its(0x0300))]);
}

/// Runs a hostile `ranges` through the whole path: bus-dt leaves out what it must with a
/// note containing `dt_note` (if any), the host what it must with `host_note` (if any); no
/// panic, and every region the functions get lies inside a window that is left.
fn hostile(ranges: [[u32; 7]; 3], dt_note: Option<&str>, host_note: Option<&str>) -> (DtEcamHost, HostFunctions) {
    let (info, reg, notes) = dt_host(&with_ranges(&fixture("qemu-virt.dtb"), ranges));
    match dt_note {
        Some(note) => assert!(notes.iter().any(|n| n.contains(note)), "bus-dt notes {notes:?} lack {note:?}"),
        None => assert!(notes.is_empty(), "{notes:?}"),
    }
    let (host, found) = enumerate(&info, reg);
    match host_note {
        Some(note) => assert!(host.notes.iter().any(|n| n.contains(note)), "host notes {:?} lack {note:?}", host.notes),
        None => assert!(host.notes.is_empty(), "{:?}", host.notes),
    }
    assert_regions_inside_windows(&host, &found);
    (host, found)
}

#[test]
fn a_window_whose_cpu_range_runs_past_2_64_is_left_out() {
    let mut ranges = QEMU_RANGES;
    ranges[1] = [0x0200_0000, 0, 0x1000_0000, 0xffff_ffff, 0xfff0_0000, 0, 0x2eff_0000];
    let (host, found) = hostile(ranges, Some("ends at or past 2^64"), None);
    assert_eq!(host.windows.memory32, None);
    // 64-bit BARs on the root bus fall back to the 64-bit window; the rest has no room.
    let nic = functions(&found).into_iter().find(|s| s.name == "00:01.0").unwrap();
    assert_eq!(nic.regions.len(), 1, "{:?}", nic.regions);
    assert!(found.notes.iter().any(|n| n.contains("no room")), "{:?}", found.notes);
}

#[test]
fn a_window_whose_pci_range_runs_past_2_64_is_left_out() {
    let mut ranges = QEMU_RANGES;
    ranges[2] = [0x0300_0000, 0xffff_ffff, 0, 0x80, 0, 0x2, 0];
    let (host, _) = hostile(ranges, Some("ends at or past 2^64"), None);
    assert_eq!(host.windows.memory64, None);
    assert!(host.windows.memory32.is_some());
}

#[test]
fn an_empty_window_is_left_out() {
    let mut ranges = QEMU_RANGES;
    ranges[0][5..].copy_from_slice(&[0, 0]);
    let (host, found) = hostile(ranges, Some("size 0"), None);
    assert_eq!(host.windows.io, None);
    assert!(found.notes.iter().any(|n| n.contains("no room for BAR0 (0x40 bytes)")), "{:?}", found.notes);
}

#[test]
fn a_32_bit_window_past_4_gib_is_left_out() {
    let mut ranges = QEMU_RANGES;
    ranges[1] = [0x0200_0000, 0, 0xf000_0000, 0, 0x1000_0000, 0, 0x2eff_0000];
    let (host, _) = hostile(ranges, None, Some("runs past 4 GiB"));
    assert_eq!(host.windows.memory32, None);
}

#[test]
fn windows_overlapping_each_other_or_the_ecam_space_are_left_out() {
    let mut ranges = QEMU_RANGES;
    // The I/O window's CPU addresses are the ECAM space's; the 64-bit window's CPU addresses
    // are the 32-bit window's.
    ranges[0] = [0x0100_0000, 0, 0, 0x40, 0x1000_0000, 0, 0x1_0000];
    ranges[2] = [0x0300_0000, 0x80, 0, 0, 0x2000_0000, 0, 0x1000_0000];
    let (host, _) = hostile(ranges, None, Some("overlaps the ECAM space"));
    assert!(host.notes.iter().any(|n| n.contains("overlaps an earlier window")), "{:?}", host.notes);
    assert_eq!((host.windows.io, host.windows.memory64), (None, None));
    assert!(host.windows.memory32.is_some());
    // Two memory windows claiming the same PCI addresses.
    let mut ranges = QEMU_RANGES;
    ranges[2] = [0x0300_0000, 0, 0x2000_0000, 0x80, 0, 0, 0x1000_0000];
    let (host, _) = hostile(ranges, None, Some("overlaps an earlier window"));
    assert_eq!(host.windows.memory64, None);
}

#[test]
fn a_host_description_past_what_bus_dt_checks_is_refused_too() {
    // `PciHostInfo` is plain data: the host checks what it uses itself.
    let (mut info, reg, _) = dt_host(&fixture("qemu-virt.dtb"));
    info.windows[1] = PciWindow { space: PciSpace::Memory32, prefetchable: false, pci_base: 0x1000_0000, cpu_base: u64::MAX - 0xffff, size: 0x2eff_0000 };
    info.windows[2].size = 0;
    let (host, found) = enumerate(&info, reg);
    assert!(host.notes.iter().any(|n| n.contains("Memory32") && n.contains("ends at or past 2^64")), "{:?}", host.notes);
    assert!(host.notes.iter().any(|n| n.contains("Memory64") && n.contains("empty")), "{:?}", host.notes);
    assert_regions_inside_windows(&host, &found);

    let backwards = PciHostInfo { first_bus: 4, last_bus: 3, ..info.clone() };
    assert!(DtEcamHost::new(&backwards, reg).unwrap_err().contains("backwards"));
    let at_the_top = MmioRegion { base: u64::MAX - 0xf_ffff, size: 0x20_0000 };
    assert!(DtEcamHost::new(&info, at_the_top).unwrap_err().contains("ends at or past 2^64"));
    let tiny = MmioRegion { base: 0x40_1000_0000, size: 0x1000 };
    assert!(DtEcamHost::new(&info, tiny).unwrap_err().contains("holds no bus"));
    // A bus range of one bus and an ECAM window of 3: one bus is scanned.
    let one_bus = PciHostInfo { first_bus: 7, last_bus: 7, ..info };
    let host = DtEcamHost::new(&one_bus, MmioRegion { base: 0x40_1000_0000, size: 0x30_0000 }).unwrap();
    assert_eq!((host.first_bus, host.last_bus, host.ecam.size), (7, 7, 0x10_0000));
}
