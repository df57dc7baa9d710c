//! What the PCI Express capability's device/port type (PCIe 6.0, 7.5.3.2) decides for the
//! functions around it: which device numbers the link below a port can carry, and which
//! requester ID a bridge puts on the transactions (messages included) it forwards upstream.

use crate::caps::{Capability, CAP_PCIE};
use crate::config::{Bdf, ConfigAccess};
use crate::scan::{Function, Scan};

/// The PCI Express Capabilities register, after the capability's ID and next pointer.
const CAPABILITIES_REGISTER: u16 = 2;

/// The device/port type field of the PCI Express Capabilities register (bits 7:4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortType {
    Endpoint,
    LegacyEndpoint,
    RootPort,
    /// Upstream port of a switch.
    UpstreamPort,
    /// Downstream port of a switch.
    DownstreamPort,
    /// PCI Express to PCI/PCI-X bridge: PCIe upstream, a conventional bus below.
    PcieToPciBridge,
    /// PCI/PCI-X to PCI Express bridge: a conventional bus upstream, a PCIe link below.
    PciToPcieBridge,
    IntegratedEndpoint,
    EventCollector,
    /// A value the specification reserves.
    Reserved(u8),
}

impl PortType {
    pub fn from_field(value: u8) -> Self {
        match value {
            0 => PortType::Endpoint,
            1 => PortType::LegacyEndpoint,
            4 => PortType::RootPort,
            5 => PortType::UpstreamPort,
            6 => PortType::DownstreamPort,
            7 => PortType::PcieToPciBridge,
            8 => PortType::PciToPcieBridge,
            9 => PortType::IntegratedEndpoint,
            10 => PortType::EventCollector,
            other => PortType::Reserved(other),
        }
    }

    /// The function's type, from its PCI Express capability; `None` for a conventional PCI
    /// function (no such capability).
    pub fn of(config: &dyn ConfigAccess, bdf: Bdf, capabilities: &[Capability]) -> Option<Self> {
        let capability = capabilities.iter().find(|c| c.id == CAP_PCIE)?;
        // Offsets from the capability walk are below 0x100; any other saturates past the
        // configuration space, which reads as all ones.
        let register = config.read16(bdf, capability.offset.saturating_add(CAPABILITIES_REGISTER));
        Some(PortType::from_field((register >> 4) as u8 & 0xf))
    }

    /// Whether the bus below is a PCIe link, which carries one device: device 0 (PCIe 6.0,
    /// 7.3.1; without ARI). A device that ignores the device number of configuration
    /// requests answers as all 32 on it; Linux scans only device 0 there (`only_one_child`
    /// in drivers/pci/probe.c, `pcie_downstream_port`).
    pub fn has_link_below(self) -> bool {
        matches!(self, PortType::RootPort | PortType::DownstreamPort | PortType::PciToPcieBridge)
    }
}

/// The requester ID the function's memory writes, and so its MSIs, carry when they reach the
/// host bridge: the ID an MSI controller such as a GICv3 ITS tells devices apart by (before
/// `msi-map`). Bridges on the way may replace it; as Linux's `pci_for_each_dma_alias`
/// (drivers/pci/search.c), the last replacement on the way up counts:
/// - PCIe root ports and switch ports forward the ID unchanged;
/// - a PCIe-to-PCI/PCI-X bridge takes ownership of the transactions from its conventional
///   bus and tags them with (secondary bus, device 0, function 0) (PCI Express to PCI/PCI-X
///   Bridge 1.0, 2.3);
/// - a conventional PCI-to-PCI bridge (no PCIe capability), and a PCI-to-PCIe bridge, present
///   their own ID;
/// - other PCIe types (none of them a bridge) leave it alone.
pub fn requester_id_upstream(scan: &Scan, function: &Function) -> u32 {
    let mut id = function.bdf.requester_id();
    let mut upstream = function.upstream;
    // The scan only records bridges before the functions behind them (upstream < index), so
    // the walk ends; the bound keeps it so for any `Scan`.
    for _ in 0..scan.functions.len() {
        let Some(bridge) = upstream.and_then(|index| scan.functions.get(index)) else { break };
        match bridge.port_type {
            Some(PortType::PcieToPciBridge) => {
                if let Some(secondary) = bridge.secondary_bus {
                    id = Bdf { bus: secondary, device: 0, function: 0 }.requester_id();
                }
            }
            None | Some(PortType::PciToPcieBridge) => id = bridge.bdf.requester_id(),
            Some(_) => {}
        }
        upstream = bridge.upstream;
    }
    id
}
