//! `reg` entries to CPU-physical regions, through the `ranges` of every bus above.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use registry::MmioRegion;

use crate::cells::{cells, number, wide_number, CellCounts};
use crate::tree::{NodeId, Tree};

/// The node's `reg` as CPU-physical regions, plus a note for each entry that has none.
pub(crate) fn regions(tree: &Tree, node: NodeId) -> (Vec<MmioRegion>, Vec<String>) {
    let mut found = Vec::new();
    let mut notes = Vec::new();
    // The root's `reg`, if any, has no bus to give it meaning.
    let (Some(reg), Some(bus)) = (tree.property(node, "reg"), tree.parent(node)) else {
        return (found, notes);
    };
    let counts = match CellCounts::of(tree, bus) {
        Ok(counts) => counts,
        Err(note) => return (found, vec![note]),
    };
    if is_pci_bus(tree, bus) {
        let note = String::from("reg is PCI configuration space, not a CPU address");
        return (found, vec![note]);
    }
    if counts.size == 0 {
        let note = format!(
            "reg on {} is not memory-mapped (#size-cells = 0)",
            tree.path(bus)
        );
        return (found, vec![note]);
    }

    // Not zero: the size cells were just checked.
    let entry_cells = counts.address + counts.size;
    let reg = cells(reg);
    let mut entries = reg.chunks_exact(entry_cells);
    for entry in entries.by_ref() {
        let (address, size) = entry.split_at(counts.address);
        // Not a PCI bus (checked above): every cell is part of the value.
        let (Some(address), Some(size)) = (wide_number(address), wide_number(size)) else {
            let what = if wide_number(address).is_none() { "address" } else { "size" };
            notes.push(format!("reg entry's {what} does not fit in 64 bits"));
            continue;
        };
        match to_cpu_address(tree, bus, address) {
            Ok(base) => found.push(MmioRegion { base, size }),
            Err(note) => notes.push(note),
        }
    }
    if !entries.remainder().is_empty() {
        notes.push(format!(
            "reg ends with a partial entry of {} cells",
            entries.remainder().len()
        ));
    }
    (found, notes)
}

/// A PCI host bridge or bridge: its children's `reg` is a config-space address.
pub(crate) fn is_pci_bus(tree: &Tree, bus: NodeId) -> bool {
    matches!(
        tree.property(bus, "device_type"),
        Some(b"pci\0" | b"pciex\0")
    )
}

/// Translates `address`, an address on `bus`, up to the root's (CPU-physical) space.
pub(crate) fn to_cpu_address(tree: &Tree, bus: NodeId, address: u64) -> Result<u64, String> {
    let not_translatable = |why: String| format!("reg {address:#x} not translatable: {why}");
    let mut bus = bus;
    let mut translated = address;
    // Each step goes one level up, so this ends within the tree's depth.
    while let Some(parent) = tree.parent(bus) {
        match tree.property(bus, "ranges") {
            None => {
                return Err(not_translatable(format!(
                    "{} has no ranges",
                    tree.path(bus)
                )))
            }
            // Empty `ranges`: the bus's addresses are its parent's.
            Some([]) => {}
            Some(ranges) => {
                translated = through_ranges(tree, bus, parent, ranges, translated)
                    .map_err(not_translatable)?
            }
        }
        bus = parent;
    }
    Ok(translated)
}

/// Maps `address` on `bus` to `parent`'s address space through one `ranges` property:
/// (child address, parent address, length) triplets, in `bus`'s and `parent`'s cells.
fn through_ranges(
    tree: &Tree,
    bus: NodeId,
    parent: NodeId,
    ranges: &[u8],
    address: u64,
) -> Result<u64, String> {
    let child = CellCounts::of(tree, bus)?;
    let parent_address_cells = CellCounts::of(tree, parent)?.address;
    let entry_cells = child.address + parent_address_cells + child.size;
    let ranges = cells(ranges);
    if entry_cells == 0 || !ranges.len().is_multiple_of(entry_cells) {
        return Err(format!("{} has malformed ranges", tree.path(bus)));
    }
    // A PCI address's top cell is its space code; elsewhere every cell is part of the value.
    let value = |cells: &[u32], on: NodeId| if is_pci_bus(tree, on) { Some(number(cells)) } else { wide_number(cells) };
    for entry in ranges.chunks_exact(entry_cells) {
        let (child_base, rest) = entry.split_at(child.address);
        let (parent_base, length) = rest.split_at(parent_address_cells);
        let (Some(child_base), Some(parent_base), Some(length)) =
            (value(child_base, bus), value(parent_base, parent), wide_number(length))
        else {
            return Err(format!("{} has a ranges entry past 64 bits", tree.path(bus)));
        };
        let offset = address.checked_sub(child_base).filter(|&o| o < length);
        if let Some(offset) = offset {
            return parent_base
                .checked_add(offset)
                .ok_or_else(|| format!("{} maps it past 2^64", tree.path(bus)));
        }
    }
    Err(format!("outside the ranges of {}", tree.path(bus)))
}
