//! What a bus tells the registry about one device: identity, resources, place in the tree.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

/// Identities a driver can match on. A device has exactly one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceIds {
    /// A device-tree node: its `compatible` list, most specific first.
    Compatible(Vec<String>),
    /// A PCI function.
    Pci(PciIds),
    /// A virtio device sitting on some transport (virtio device ID, spec 1.2 section 5).
    Virtio { device_id: u32 },
    /// A device with nothing to match on (e.g. a DT node without `compatible` kept for the tree).
    None,
}

/// The identity registers of a PCI function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PciIds {
    pub vendor: u16,
    pub device: u16,
    /// Class code, sub-class and programming interface: `0xCCSSPP`.
    pub class: u32,
    pub revision: u8,
    pub subsystem_vendor: u16,
    pub subsystem: u16,
}

/// Where a device sits on its bus, as printed by `lsdev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusAddress {
    /// Device-tree node, by full path (e.g. `/soc/uart@9000000`).
    Dt { path: String },
    /// PCI segment:bus:device.function.
    Pci { segment: u16, bus: u8, device: u8, function: u8 },
    /// The virtio device behind a transport (one per transport).
    Virtio,
    /// Anything else, named by its bus.
    Other(String),
}

/// A CPU-physical memory-mapped region, after translation through every parent bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioRegion {
    pub base: u64,
    pub size: u64,
}

/// A range of I/O port addresses a device decodes (a PCI I/O BAR): the port numbers of the
/// PCI I/O space, which a PC reaches with `in`/`out` and other machines through a host
/// window; not a memory-mapped region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoPortRange {
    pub base: u64,
    pub size: u64,
}

/// One interrupt line of a device, as its bus described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Irq {
    /// The interrupt controller's path (DT) or name (e.g. `ioapic`).
    pub controller: String,
    /// The specifier cells, as given to the controller.
    pub cells: Vec<u32>,
    /// The controller-global interrupt number when the controller's binding is known
    /// (GIC: SPI n is INTID 32 + n, PPI n is INTID 16 + n).
    pub number: Option<u32>,
    /// Human form, e.g. `SPI 16 edge-rising` or `PPI 14 level-low`.
    pub label: String,
}

/// A device as a bus enumerates it, before the registry owns it.
pub struct DeviceSpec {
    /// Short name shown in the tree (DT node name, `virtio-net`, `00:02.0`).
    pub name: String,
    pub address: BusAddress,
    pub ids: DeviceIds,
    pub regions: Vec<MmioRegion>,
    /// I/O port ranges it decodes (PCI I/O BARs).
    pub io_ports: Vec<IoPortRange>,
    pub irqs: Vec<Irq>,
    /// False for DT `status = "disabled"` (or anything else that is not "okay"/"ok").
    pub enabled: bool,
    /// Extra facts the bus knows and `lsdev` shows (e.g. `status = "fail"`).
    pub notes: Vec<String>,
    /// Children enumerated with it (DT subnodes). Bus drivers add theirs while probing.
    pub children: Vec<DeviceSpec>,
    /// What the parent bus hands to the child's driver (e.g. a virtio transport).
    pub bus_data: Option<Box<dyn Any + Send>>,
}

impl DeviceSpec {
    pub fn new(name: impl Into<String>, address: BusAddress, ids: DeviceIds) -> Self {
        DeviceSpec {
            name: name.into(),
            address,
            ids,
            regions: Vec::new(),
            io_ports: Vec::new(),
            irqs: Vec::new(),
            enabled: true,
            notes: Vec::new(),
            children: Vec::new(),
            bus_data: None,
        }
    }
}

impl fmt::Debug for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceSpec")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("ids", &self.ids)
            .field("regions", &self.regions)
            .field("io_ports", &self.io_ports)
            .field("irqs", &self.irqs)
            .field("enabled", &self.enabled)
            .field("notes", &self.notes)
            .field("children", &self.children)
            .field("bus_data", &self.bus_data.is_some())
            .finish()
    }
}

/// A source of devices: the DT, a PCI host on a board without DT, ...
pub trait Bus {
    /// Short name for the probe log (`devicetree`, `pci0`).
    fn name(&self) -> &str;
    /// The root devices of this bus, with their subtrees.
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError>;
}

/// Why a bus could not be enumerated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusError(pub String);

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
