//! What a PCI host bridge node (`device_type = "pci"`) tells its driver: the address windows
//! from `ranges`, `bus-range`, the legacy INTx routing from `interrupt-map` (IEEE 1275 PCI bus
//! binding; Linux `pci-host-generic` / `pci.txt`), and which MSI controller takes each
//! function's messages from `msi-map` or `msi-parent` (Linux `pci-msi.txt`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use registry::{Irq, MsiSource};

use crate::cells::{cells, count, number, CellCounts};
use crate::interrupts::decode_one;
use crate::translate::{is_pci_bus, to_cpu_address};
use crate::tree::{NodeId, Tree};

/// Which PCI address space a window maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciSpace {
    Io,
    Memory32,
    Memory64,
}

/// One `ranges` entry of a host bridge: PCI addresses `pci_base..+size` appear to the CPU at
/// `cpu_base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciWindow {
    pub space: PciSpace,
    pub prefetchable: bool,
    pub pci_base: u64,
    pub cpu_base: u64,
    pub size: u64,
}

/// One `interrupt-map` entry: the INTx pin of the device at `address_hi` (masked as the map's
/// mask says) raises `irq` at the parent controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntxRoute {
    pub address_hi: u32,
    /// 1 = INTA .. 4 = INTD.
    pub pin: u32,
    pub irq: Irq,
}

/// One `msi-map` entry: requester IDs `rid_base..rid_base + length` are device IDs from
/// `msi_base` on at the MSI controller `controller` (its path).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsiRoute {
    pub rid_base: u32,
    pub controller: String,
    pub msi_base: u32,
    pub length: u32,
}

/// Everything the DT says about a PCI host bridge beyond its `reg` (the ECAM window).
/// Attached as `bus_data` to the host bridge's `DeviceSpec`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PciHostInfo {
    pub first_bus: u8,
    pub last_bus: u8,
    pub windows: Vec<PciWindow>,
    /// `interrupt-map-mask`: the address-high cell mask and the pin mask.
    pub intx_mask: (u32, u32),
    pub intx_routes: Vec<IntxRoute>,
    /// `msi-map-mask`, applied to a requester ID before `msi_routes` (all ones without one).
    pub msi_mask: u32,
    /// `msi-map`, or one entry for every requester ID from `msi-parent`.
    pub msi_routes: Vec<MsiRoute>,
}

impl PciHostInfo {
    /// The parent interrupt for `pin` (1..=4) of the function at bus/device/function, as the
    /// host bridge's `interrupt-map` routes it (after the caller applied bridge swizzling).
    pub fn route_intx(&self, bus: u8, device: u8, function: u8, pin: u32) -> Option<&Irq> {
        let address_hi = u32::from(bus) << 16 | u32::from(device) << 11 | u32::from(function) << 8;
        let (address_mask, pin_mask) = self.intx_mask;
        self.intx_routes
            .iter()
            .find(|r| r.address_hi == address_hi & address_mask && r.pin == pin & pin_mask)
            .map(|r| &r.irq)
    }

    /// Where the function with requester ID `rid` (bus << 8 | device << 3 | function) sends
    /// its messages; `None` when the host names no MSI controller for it.
    pub fn route_msi(&self, rid: u32) -> Option<MsiSource> {
        let rid = rid & self.msi_mask;
        let route = self.msi_routes.iter().find(|r| rid.checked_sub(r.rid_base).is_some_and(|offset| offset < r.length))?;
        let device_id = route.msi_base.checked_add(rid - route.rid_base)?;
        Some(MsiSource { controller: Some(route.controller.clone()), device_id })
    }
}

/// Decodes `node` if it is a PCI host bridge (a PCI bus whose parent is not one), with notes
/// for what could not be decoded.
pub(crate) fn host_info(tree: &Tree, node: NodeId) -> Option<(PciHostInfo, Vec<String>)> {
    let parent = tree.parent(node)?;
    if !is_pci_bus(tree, node) || is_pci_bus(tree, parent) {
        return None;
    }
    let mut notes = Vec::new();
    let mut info = PciHostInfo { first_bus: 0, last_bus: 255, msi_mask: u32::MAX, ..PciHostInfo::default() };
    if let Some(range) = tree.property(node, "bus-range") {
        match cells(range).as_slice() {
            [first, last] if first <= last && *last <= 255 => (info.first_bus, info.last_bus) = (*first as u8, *last as u8),
            _ => notes.push(String::from("malformed bus-range: using 0-255")),
        }
    }
    match windows(tree, node, parent, &mut notes) {
        Ok(windows) => info.windows = windows,
        Err(note) => notes.push(note),
    }
    if let Err(note) = intx_map(tree, node, &mut info) {
        notes.push(note);
    }
    if let Err(note) = msi_map(tree, node, &mut info) {
        info.msi_routes.clear();
        notes.push(format!("{note}: MSIs not used"));
    }
    Some((info, notes))
}

/// Number of cells of a PCI address: phys.hi (space code), phys.mid, phys.lo.
const PCI_ADDRESS_CELLS: usize = 3;

/// The windows of `ranges`; an entry that maps nothing (size 0), or whose PCI or CPU range ends
/// at or past 2^64 or is not contiguous through the parents' `ranges`, is left out with a note.
fn windows(tree: &Tree, node: NodeId, parent: NodeId, notes: &mut Vec<String>) -> Result<Vec<PciWindow>, String> {
    let path = tree.path(node);
    let counts = CellCounts::of(tree, node)?;
    let parent_cells = CellCounts::of(tree, parent)?.address;
    if counts.address != PCI_ADDRESS_CELLS {
        return Err(format!("{path} has #address-cells = {}, not 3", counts.address));
    }
    let entry_cells = PCI_ADDRESS_CELLS + parent_cells + counts.size;
    let ranges = cells(tree.property(node, "ranges").unwrap_or_default());
    if !ranges.len().is_multiple_of(entry_cells) {
        return Err(format!("{path} has malformed ranges"));
    }
    let mut windows = Vec::new();
    for entry in ranges.chunks_exact(entry_cells) {
        let (pci, rest) = entry.split_at(PCI_ADDRESS_CELLS);
        let (cpu, size) = rest.split_at(parent_cells);
        let [space_code, pci_high, pci_low] = *pci else { continue };
        let space = match (space_code >> 24) & 0b11 {
            0b01 => PciSpace::Io,
            0b10 => PciSpace::Memory32,
            0b11 => PciSpace::Memory64,
            _ => continue, // configuration space windows are not used with ECAM
        };
        let (pci_base, parent_base, size) = (number(&[pci_high, pci_low]), number(cpu), number(size));
        let cpu_base = to_cpu_address(tree, parent, parent_base)?;
        let left_out = |why: &str| format!("{path}: ranges entry for PCI {pci_base:#x}+{size:#x} at {parent_base:#x} left out: {why}");
        let Some(last) = size.checked_sub(1) else {
            notes.push(left_out("size 0"));
            continue;
        };
        // Users keep a window's end (base + size) in 64 bits.
        let (Some(_), Some(_), Some(cpu_end)) = (pci_base.checked_add(size), parent_base.checked_add(size), cpu_base.checked_add(size)) else {
            notes.push(left_out("ends at or past 2^64"));
            continue;
        };
        let (parent_last, cpu_last) = (parent_base + last, cpu_end - 1);
        // The last byte must translate to where the first one says: one window, not split by
        // (or past the end of) a parent's `ranges`.
        if to_cpu_address(tree, parent, parent_last).ok() != Some(cpu_last) {
            notes.push(left_out("not contiguous in CPU addresses"));
            continue;
        }
        windows.push(PciWindow { space, prefetchable: space_code & (1 << 30) != 0, pci_base, cpu_base, size });
    }
    Ok(windows)
}

/// Reads `interrupt-map-mask` and every `interrupt-map` entry: child unit address (3 cells),
/// child pin (the bridge's `#interrupt-cells`, 1), parent phandle, parent unit address (the
/// parent's `#address-cells`), parent specifier (the parent's `#interrupt-cells`).
fn intx_map(tree: &Tree, node: NodeId, info: &mut PciHostInfo) -> Result<(), String> {
    let Some(map) = tree.property(node, "interrupt-map") else { return Ok(()) };
    let path = tree.path(node);
    if count(tree, node, "#interrupt-cells", 1)? != 1 {
        return Err(format!("{path}: #interrupt-cells is not 1, interrupt-map not followed"));
    }
    match tree.property(node, "interrupt-map-mask").map(cells).as_deref() {
        Some([hi, _, _, pin]) => info.intx_mask = (*hi, *pin),
        _ => return Err(format!("{path}: interrupt-map without a 4-cell interrupt-map-mask")),
    }
    let map = cells(map);
    let mut rest = map.as_slice();
    while !rest.is_empty() {
        let [address_hi, _, _, pin, phandle, tail @ ..] = rest else {
            return Err(format!("{path}: interrupt-map ends inside an entry"));
        };
        let controller = tree.by_phandle(*phandle).ok_or_else(|| format!("{path}: interrupt-map names phandle {phandle:#x}, which no node has"))?;
        let unit_cells = count(tree, controller, "#address-cells", 0)?;
        let specifier = tail.get(unit_cells..).ok_or_else(|| format!("{path}: interrupt-map ends inside an entry"))?;
        let (irq, used) = decode_one(tree, controller, specifier)?;
        info.intx_routes.push(IntxRoute { address_hi: *address_hi, pin: *pin, irq });
        rest = specifier.get(used..).unwrap_or_default();
    }
    Ok(())
}

/// Every requester ID `msi-parent` covers: all 16 bits.
const ALL_REQUESTER_IDS: u32 = 1 << 16;

/// Reads `msi-map` (entries of requester ID base, controller phandle, device ID base, length),
/// else `msi-parent` (one controller for every requester ID, device ID = requester ID).
fn msi_map(tree: &Tree, node: NodeId, info: &mut PciHostInfo) -> Result<(), String> {
    let path = tree.path(node);
    let controller_path = |phandle: u32| {
        tree.by_phandle(phandle).map(|c| tree.path(c)).ok_or_else(|| format!("{path}: MSI controller phandle {phandle:#x} names no node"))
    };
    if let Some(map) = tree.property(node, "msi-map") {
        let map = cells(map);
        if map.is_empty() || !map.len().is_multiple_of(4) {
            return Err(format!("{path}: msi-map is not a list of 4-cell entries"));
        }
        if let Some(mask) = tree.property(node, "msi-map-mask") {
            let [mask] = cells(mask)[..] else { return Err(format!("{path}: msi-map-mask is not one cell")) };
            info.msi_mask = mask;
        }
        for entry in map.chunks_exact(4) {
            let &[rid_base, phandle, msi_base, length] = entry else { continue };
            info.msi_routes.push(MsiRoute { rid_base, controller: controller_path(phandle)?, msi_base, length });
        }
    } else if let Some(parent) = tree.property(node, "msi-parent") {
        // The first cell is the phandle; a controller with #msi-cells adds a specifier after it.
        let &[phandle, ..] = cells(parent).as_slice() else { return Err(format!("{path}: empty msi-parent")) };
        let controller = controller_path(phandle)?;
        info.msi_routes.push(MsiRoute { rid_base: 0, controller, msi_base: 0, length: ALL_REQUESTER_IDS });
    }
    Ok(())
}
