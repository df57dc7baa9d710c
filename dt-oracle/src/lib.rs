//! What a device tree blob says about each device, read without bus-dt: the nodes and
//! properties come from the `dtoolkit` crate, and the walks on top (`reg` translated through
//! every `ranges` above, the interrupt parent found as Linux's `of_irq_find_parent` does,
//! interrupt specifiers split and GIC specifiers numbered) are written here from the
//! Devicetree Specification (v0.4, 2.3.8 `ranges`, 2.4 interrupts) and the Arm GIC binding,
//! not from bus-dt's code. bus-dt's tests and the boot tests compare bus-dt's and the
//! kernel's reading with this one, so a bug in bus-dt's parser shows as a difference instead
//! of being repeated by its own prediction.
//!
//! Where bus-dt deliberately gives no answer (an `interrupt-map` nexus is not followed, a
//! `reg` under a PCI bus is configuration space), this gives none either; where the blob makes
//! no sense it gives none rather than a guess.

use std::collections::BTreeMap;

use dtoolkit::error::FdtErrorKind;
use dtoolkit::fdt::{Fdt, FdtNode};
use dtoolkit::{Node as _, Property as _};

/// A node with a `compatible` property (and the root), as a kernel would see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub path: String,
    pub compatible: Vec<String>,
    /// `status` absent, `"okay"` or `"ok"`.
    pub enabled: bool,
    /// The `reg` entries that translate to CPU-physical addresses, in order.
    pub regions: Vec<Region>,
    pub interrupts: Vec<Interrupt>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interrupt {
    /// The path of the controller the specifier belongs to.
    pub controller: String,
    pub cells: Vec<u32>,
    /// The GIC INTID for a GIC's specifier in range, else `None`.
    pub intid: Option<u32>,
}

/// Every device of `blob`, depth first (the root first). `Err` when dtoolkit rejects the blob.
pub fn devices(blob: &[u8]) -> Result<Vec<Device>, String> {
    let tree = Tree::read(blob)?;
    let devices = (0..tree.nodes.len())
        .filter(|&n| n == 0 || tree.nodes[n].props.contains_key("compatible"))
        .map(|n| tree.device(n))
        .collect();
    Ok(devices)
}

struct Node {
    path: String,
    parent: Option<usize>,
    /// The first property of each name.
    props: BTreeMap<String, Vec<u8>>,
}

/// The blob's nodes in depth-first order (index 0 the root), copied out of dtoolkit's view.
struct Tree {
    nodes: Vec<Node>,
    phandles: BTreeMap<u32, usize>,
}

impl Tree {
    fn read(blob: &[u8]) -> Result<Tree, String> {
        // A blob may sit in a larger buffer (QEMU's dumps are padded): dtoolkit wants it exact.
        let total = blob.get(4..8).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let blob = match total {
            Some(total) if total <= blob.len() => &blob[..total],
            _ => blob,
        };
        let fdt = match Fdt::new(blob) {
            Ok(fdt) => fdt,
            // dtoolkit holds names to the specification's 31 characters; Linux's own blobs
            // have longer ones (`simple-audio-card,bitclock-inversion`). Such a blob is read
            // unchecked, and a panic of dtoolkit's on it is an error like a rejection.
            Err(e) if matches!(e.kind, FdtErrorKind::InvalidPropertyName | FdtErrorKind::InvalidNodeName) => {
                Fdt::new_unchecked(blob)
            }
            Err(e) => return Err(format!("dtoolkit rejects the blob: {e}")),
        };
        let mut tree = Tree { nodes: Vec::new(), phandles: BTreeMap::new() };
        let walk = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tree.add(fdt.root(), None)));
        walk.map_err(|_| "dtoolkit could not walk the blob".to_string())?;
        for (index, node) in tree.nodes.iter().enumerate() {
            for name in ["phandle", "linux,phandle"] {
                if let Some(&[phandle]) = node.props.get(name).map(|v| cells(v)).as_deref() {
                    tree.phandles.entry(phandle).or_insert(index);
                }
            }
        }
        Ok(tree)
    }

    fn add(&mut self, node: FdtNode<'_>, parent: Option<usize>) {
        let path = match parent {
            None => "/".to_string(),
            Some(0) => format!("/{}", node.name()),
            Some(p) => format!("{}/{}", self.nodes[p].path, node.name()),
        };
        let mut props = BTreeMap::new();
        for property in node.properties() {
            props.entry(property.name().to_string()).or_insert_with(|| property.value().to_vec());
        }
        let index = self.nodes.len();
        self.nodes.push(Node { path, parent, props });
        for child in node.children() {
            self.add(child, Some(index));
        }
    }

    fn prop(&self, node: usize, name: &str) -> Option<&[u8]> {
        self.nodes[node].props.get(name).map(Vec::as_slice)
    }

    fn device(&self, node: usize) -> Device {
        let compatible = self.prop(node, "compatible").unwrap_or_default();
        let compatible = compatible.split(|&b| b == 0).filter(|s| !s.is_empty());
        let status = self.prop(node, "status").map(|s| s.split(|&b| b == 0).next().unwrap_or_default());
        Device {
            path: self.nodes[node].path.clone(),
            compatible: compatible.map(|s| String::from_utf8_lossy(s).into_owned()).collect(),
            enabled: matches!(status, None | Some(b"okay" | b"ok")),
            regions: self.regions(node),
            interrupts: self.interrupts(node),
        }
    }

    /// A cell-count property of `node` with the specification's default when absent; `None`
    /// when it is not one cell or more than four (more than a u128 holds).
    fn cell_count(&self, node: usize, name: &str, default: usize) -> Option<usize> {
        match self.prop(node, name) {
            None => Some(default),
            Some(value) => match cells(value)[..] {
                [n] if value.len() == 4 && n <= 4 => Some(n as usize),
                _ => None,
            },
        }
    }

    fn is_pci(&self, node: usize) -> bool {
        matches!(self.prop(node, "device_type"), Some(b"pci\0" | b"pciex\0"))
    }

    /// `reg` (DT spec 2.3.6): (address, size) pairs in the parent's `#address-cells` and
    /// `#size-cells`, each address translated up to the root.
    fn regions(&self, node: usize) -> Vec<Region> {
        let (Some(reg), Some(bus)) = (self.prop(node, "reg"), self.nodes[node].parent) else {
            return Vec::new();
        };
        let (Some(address_cells), Some(size_cells)) = (self.cell_count(bus, "#address-cells", 2), self.cell_count(bus, "#size-cells", 1)) else {
            return Vec::new();
        };
        // Under a PCI bus `reg` is a configuration-space address; without size cells, an
        // identifier (CPU numbers), not a window.
        if self.is_pci(bus) || size_cells == 0 {
            return Vec::new();
        }
        let reg = cells(reg);
        reg.chunks_exact(address_cells + size_cells)
            .filter_map(|entry| {
                let (address, size) = entry.split_at(address_cells);
                let base = self.to_root(bus, address.to_vec())?;
                Some(Region { base: u64::try_from(base).ok()?, size: u64::try_from(value(size)).ok()? })
            })
            .collect()
    }

    /// Translates `address` (cells in `bus`'s address space) to the root's: through each
    /// bus's `ranges` (DT spec 2.3.8: absent, no translation; empty, identity), one level at a
    /// time.
    fn to_root(&self, mut bus: usize, mut address: Vec<u32>) -> Option<u128> {
        while let Some(parent) = self.nodes[bus].parent {
            let ranges = self.prop(bus, "ranges")?;
            let parent_cells = self.cell_count(parent, "#address-cells", 2)?;
            if ranges.is_empty() {
                // Same addresses, now in the parent's cells.
                address = fit(value(&address), parent_cells)?;
            } else {
                let child_cells = self.cell_count(bus, "#address-cells", 2)?;
                let size_cells = self.cell_count(bus, "#size-cells", 1)?;
                let ranges = cells(ranges);
                let entry_len = child_cells + parent_cells + size_cells;
                if entry_len == 0 || !ranges.len().is_multiple_of(entry_len) {
                    return None;
                }
                let pci = self.is_pci(bus);
                let translated = ranges.chunks_exact(entry_len).find_map(|entry| {
                    let (child, rest) = entry.split_at(child_cells);
                    let (parent_base, length) = rest.split_at(parent_cells);
                    let offset = within(&address, child, value(length), pci)?;
                    fit(value(parent_base).checked_add(offset)?, parent_cells)
                });
                address = translated?;
            }
            bus = parent;
        }
        Some(value(&address))
    }

    /// The node's interrupts: `interrupts-extended` if present, else `interrupts` against the
    /// interrupt parent.
    fn interrupts(&self, node: usize) -> Vec<Interrupt> {
        let mut found = Vec::new();
        if let Some(extended) = self.prop(node, "interrupts-extended") {
            let mut rest = &cells(extended)[..];
            while let Some((&phandle, tail)) = rest.split_first() {
                let Some(&controller) = self.phandles.get(&phandle) else { break };
                let Some(count) = self.interrupt_cells(controller) else { break };
                let Some((specifier, tail)) = tail.split_at_checked(count) else { break };
                found.extend(self.specifiers(controller, specifier, count));
                rest = tail;
            }
        } else if let Some(interrupts) = self.prop(node, "interrupts") {
            if let Some(controller) = self.interrupt_parent(node) {
                if let Some(count) = self.interrupt_cells(controller) {
                    found.extend(self.specifiers(controller, &cells(interrupts), count));
                }
            }
        }
        found
    }

    /// `#interrupt-cells` of `node`, if it has a sound one.
    fn interrupt_cells(&self, node: usize) -> Option<usize> {
        let value = self.prop(node, "#interrupt-cells")?;
        match cells(value)[..] {
            [n] if value.len() == 4 && n <= 4 => Some(n as usize),
            _ => None,
        }
    }

    /// Linux's `of_irq_find_parent`: follow `interrupt-parent` where a node has one, else
    /// go to the node's parent, until a node with `#interrupt-cells`. Bounded by the node
    /// count, so a loop of phandles ends.
    fn interrupt_parent(&self, node: usize) -> Option<usize> {
        let mut current = node;
        for _ in 0..self.nodes.len() {
            let next = match self.prop(current, "interrupt-parent") {
                Some(value) => match cells(value)[..] {
                    [phandle] if value.len() == 4 => *self.phandles.get(&phandle)?,
                    _ => return None,
                },
                None => self.nodes[current].parent?,
            };
            if self.prop(next, "#interrupt-cells").is_some() {
                return Some(next);
            }
            current = next;
        }
        None
    }

    /// `specifiers` split into `count`-cell groups of `controller` (a trailing part dropped).
    /// A nexus (`interrupt-map`, not a controller) is not followed: nothing.
    fn specifiers(&self, controller: usize, specifiers: &[u32], count: usize) -> Vec<Interrupt> {
        let is_nexus = self.prop(controller, "interrupt-map").is_some() && self.prop(controller, "interrupt-controller").is_none();
        if is_nexus {
            return Vec::new();
        }
        let interrupt = |cells: &[u32]| Interrupt {
            controller: self.nodes[controller].path.clone(),
            cells: cells.to_vec(),
            intid: if self.is_gic(controller) { gic_intid(cells) } else { None },
        };
        if count == 0 {
            // One line, implied.
            return vec![interrupt(&[])];
        }
        specifiers.chunks_exact(count).map(interrupt).collect()
    }

    /// Whether `node` is an Arm GIC whose specifiers follow the binding (Linux
    /// `arm,gic.yaml`, `arm,gic-v3.yaml`).
    fn is_gic(&self, node: usize) -> bool {
        const GICS: &[&[u8]] = &[
            b"arm,arm11mp-gic",
            b"arm,cortex-a15-gic",
            b"arm,cortex-a5-gic",
            b"arm,cortex-a7-gic",
            b"arm,cortex-a9-gic",
            b"arm,gic-400",
            b"arm,pl390",
            b"arm,gic-v3",
        ];
        let compatible = self.prop(node, "compatible").unwrap_or_default();
        compatible.split(|&b| b == 0).any(|entry| GICS.contains(&entry))
    }
}

/// The INTID of a GIC specifier `<type number flags>`: SPIs from 32 (988 of them), PPIs from
/// 16 (16), extended SPIs from 4096 (1024), extended PPIs from 1056 (64).
fn gic_intid(specifier: &[u32]) -> Option<u32> {
    let [kind, number, _flags, ..] = *specifier else { return None };
    let (first, count) = match kind {
        0 => (32, 988),
        1 => (16, 16),
        2 => (4096, 1024),
        3 => (1056, 64),
        _ => return None,
    };
    (number < count).then(|| first + number)
}

/// Big-endian cells; a trailing partial cell is dropped.
fn cells(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The number the cells spell (at most four cells: checked by the cell counts).
fn value(cells: &[u32]) -> u128 {
    cells.iter().fold(0, |n, &c| n << 32 | u128::from(c))
}

/// `n` as `count` cells, if it fits.
fn fit(n: u128, count: usize) -> Option<Vec<u32>> {
    if count < 4 && n >> (32 * count) != 0 {
        return None;
    }
    Some((0..count).rev().map(|i| (n >> (32 * i)) as u32).collect())
}

/// The offset of `address` into the child side of a `ranges` entry starting at `child` and
/// `length` long, if it is inside. On a PCI bus the first cell is `phys.hi`: its space code
/// (bits 24-25) must match, and the address is the other two cells (PCI bus binding, 2.2.1.1).
fn within(address: &[u32], child: &[u32], length: u128, pci: bool) -> Option<u128> {
    let (address, child) = match (pci, address, child) {
        (true, [a_hi, a @ ..], [c_hi, c @ ..]) => {
            if (a_hi >> 24) & 3 != (c_hi >> 24) & 3 {
                return None;
            }
            (value(a), value(c))
        }
        _ => (value(address), value(child)),
    };
    address.checked_sub(child).filter(|&offset| offset < length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gic_specifiers_number_by_type() {
        assert_eq!(gic_intid(&[0, 1, 4]), Some(33));
        assert_eq!(gic_intid(&[1, 14, 0xf08]), Some(30));
        assert_eq!(gic_intid(&[1, 16, 4]), None, "16 PPIs");
        assert_eq!(gic_intid(&[2, 0, 4]), Some(4096));
        assert_eq!(gic_intid(&[3, 63, 4]), Some(1119));
        assert_eq!(gic_intid(&[0, 988, 4]), None, "988 SPIs");
        assert_eq!(gic_intid(&[4, 0, 4]), None);
        assert_eq!(gic_intid(&[0, 1]), None);
    }

    #[test]
    fn addresses_fit_their_cells_or_not() {
        assert_eq!(fit(0x1_0000_0000, 1), None);
        assert_eq!(fit(0x1_0000_0000, 2), Some(vec![1, 0]));
        assert_eq!(fit(0xfe20_1000, 1), Some(vec![0xfe20_1000]));
        assert_eq!(value(&[0, 1, 0]), 1 << 32);
    }

    #[test]
    fn ranges_entries_hold_what_starts_inside_them() {
        assert_eq!(within(&[0x7e20_1000], &[0x7e00_0000], 0x180_0000, false), Some(0x20_1000));
        assert_eq!(within(&[0x7f80_0000], &[0x7e00_0000], 0x180_0000, false), None, "one past the end");
        assert_eq!(within(&[0x7dff_ffff], &[0x7e00_0000], 0x180_0000, false), None, "below");
        // PCI: 32-bit memory space (0b10 in bits 24-25) does not match I/O space (0b01), and
        // the prefetchable bit does not count.
        let memory = [0x0200_0000, 0, 0x1000];
        assert_eq!(within(&memory, &[0x4200_0000, 0, 0], 0x10_0000, true), Some(0x1000));
        assert_eq!(within(&memory, &[0x0100_0000, 0, 0], 0x10_0000, true), None);
    }
}
