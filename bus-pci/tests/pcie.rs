//! The PCI Express rules that follow from a port's type: one device on a link, and the
//! requester ID bridges put on the messages of the functions behind them.

use bus_pci::pcie::{requester_id_upstream, PortType};
use bus_pci::scan::scan;
use bus_pci::sim::{SimBus, SimConfig, SimFunction};
use bus_pci::Bdf;

const VIRTIO: u16 = 0x1af4;
const ROOT_PORT: u8 = 4;
const UPSTREAM_PORT: u8 = 5;
const DOWNSTREAM_PORT: u8 = 6;
const PCIE_TO_PCI_BRIDGE: u8 = 7;
const PCI_TO_PCIE_BRIDGE: u8 = 8;

fn endpoint(device: u8) -> SimFunction {
    SimFunction::endpoint(device, 0, VIRTIO, 0x1042, 0x01_00_00)
}

fn bdfs(config: &SimConfig) -> Vec<String> {
    scan(config, 0, 255).functions.iter().map(|f| f.bdf.to_string()).collect()
}

#[test]
fn below_a_root_port_or_downstream_port_only_device_0_is_scanned() {
    // A device that ignores the device number answers as all 32 on the links below ports.
    let switch_bus = SimBus::new()
        .with(SimFunction::bridge(0, 0, SimBus::new().with(endpoint(0).on_every_device())).pcie(DOWNSTREAM_PORT))
        .with(SimFunction::bridge(1, 0, SimBus::new().with(endpoint(0).on_every_device())).pcie(DOWNSTREAM_PORT));
    let upstream = SimFunction::bridge(0, 0, switch_bus).pcie(UPSTREAM_PORT);
    let root = SimBus::new()
        .with(SimFunction::bridge(1, 0, SimBus::new().with(endpoint(0).on_every_device())).pcie(ROOT_PORT))
        .with(SimFunction::bridge(2, 0, SimBus::new().with(upstream)).pcie(ROOT_PORT));
    let found = bdfs(&SimConfig::new(0, root));
    assert_eq!(
        found,
        // The switch's internal bus (behind its upstream port) is no link: both downstream
        // ports on it are found.
        ["00:01.0", "01:00.0", "00:02.0", "02:00.0", "03:00.0", "04:00.0", "03:01.0", "05:00.0"]
    );
}

#[test]
fn a_pci_to_pcie_bridge_has_a_link_below_and_a_conventional_bridge_a_bus() {
    let root = SimBus::new()
        .with(SimFunction::bridge(1, 0, SimBus::new().with(endpoint(0).on_every_device())).pcie(PCI_TO_PCIE_BRIDGE))
        .with(SimFunction::bridge(2, 0, SimBus::new().with(endpoint(0).on_every_device())).pcie(PCIE_TO_PCI_BRIDGE))
        .with(SimFunction::bridge(3, 0, SimBus::new().with(endpoint(0).on_every_device())));
    let found = bdfs(&SimConfig::new(0, root));
    assert_eq!(found.iter().filter(|bdf| bdf.starts_with("01:")).count(), 1, "{found:?}");
    // A conventional bus has 32 device numbers: the phantoms are indistinguishable from devices.
    assert_eq!(found.iter().filter(|bdf| bdf.starts_with("02:")).count(), 32, "{found:?}");
    assert_eq!(found.iter().filter(|bdf| bdf.starts_with("03:")).count(), 32, "{found:?}");
}

#[test]
fn the_port_type_comes_from_the_pcie_capability() {
    let root = SimBus::new()
        .with(SimFunction::bridge(1, 0, SimBus::new()).pcie(ROOT_PORT))
        .with(SimFunction::bridge(2, 0, SimBus::new()))
        .with(endpoint(3).pcie(0));
    let found = scan(&SimConfig::new(0, root), 0, 255);
    let types: Vec<Option<PortType>> = found.functions.iter().map(|f| f.port_type).collect();
    assert_eq!(types, [Some(PortType::RootPort), None, Some(PortType::Endpoint)]);
}

fn rid(bus: u8, device: u8, function: u8) -> u32 {
    Bdf { bus, device, function }.requester_id()
}

#[test]
fn messages_carry_the_requester_id_the_bridges_above_present() {
    let root = SimBus::new()
        // Root port: the function's own ID.
        .with(SimFunction::bridge(1, 0, SimBus::new().with(endpoint(0))).pcie(ROOT_PORT))
        // Conventional PCI-to-PCI bridge (QEMU pci-bridge): the bridge's ID, for every function.
        .with(SimFunction::bridge(2, 0, SimBus::new().with(endpoint(3)).with(endpoint(4))))
        // PCIe-to-PCI bridge (QEMU pcie-pci-bridge): secondary bus, device 0, function 0.
        .with(SimFunction::bridge(3, 0, SimBus::new().with(endpoint(1))).pcie(PCIE_TO_PCI_BRIDGE))
        // Root port, PCIe-to-PCI bridge, conventional bridge: the last alias on the way up.
        .with(
            SimFunction::bridge(
                4,
                0,
                SimBus::new().with(SimFunction::bridge(0, 0, SimBus::new().with(SimFunction::bridge(2, 0, SimBus::new().with(endpoint(1))))).pcie(PCIE_TO_PCI_BRIDGE)),
            )
            .pcie(ROOT_PORT),
        )
        // PCI-to-PCIe bridge: its own ID.
        .with(SimFunction::bridge(5, 0, SimBus::new().with(endpoint(0))).pcie(PCI_TO_PCIE_BRIDGE))
        // On the root bus: the function's own ID.
        .with(endpoint(6));
    let found = scan(&SimConfig::new(0, root), 0, 255);
    let ids: Vec<(String, u32)> = found
        .functions
        .iter()
        .filter(|f| !f.is_bridge())
        .map(|f| (f.bdf.to_string(), requester_id_upstream(&found, f)))
        .collect();
    let expected = [
        ("01:00.0", rid(1, 0, 0)),
        ("02:03.0", rid(0, 2, 0)),
        ("02:04.0", rid(0, 2, 0)),
        ("03:01.0", rid(3, 0, 0)),
        ("06:01.0", rid(5, 0, 0)),
        ("07:00.0", rid(0, 5, 0)),
        ("00:06.0", rid(0, 6, 0)),
    ];
    let expected: Vec<(String, u32)> = expected.iter().map(|&(bdf, id)| (bdf.to_string(), id)).collect();
    assert_eq!(ids, expected);
}
