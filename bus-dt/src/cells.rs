//! Property values as cells (big-endian u32s) and the cell-count properties that give
//! them meaning.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::tree::{NodeId, Tree};

/// More cells than any real binding uses (PCI addresses have 3, some GICs 4); larger
/// counts are treated as corrupt rather than risk huge entry sizes.
pub(crate) const MAX_CELLS: usize = 4;

/// The value's cells; trailing bytes that do not make a whole cell are left out.
pub(crate) fn cells(value: &[u8]) -> Vec<u32> {
    value
        .chunks_exact(4)
        .filter_map(|chunk| chunk.try_into().ok().map(u32::from_be_bytes))
        .collect()
}

/// The value of a property that must be exactly one cell (phandles, cell counts).
pub(crate) fn single_cell(value: &[u8]) -> Option<u32> {
    value.try_into().ok().map(u32::from_be_bytes)
}

/// A multi-cell number as u64. Only the low two cells count: for 3-cell PCI addresses
/// the first cell is the space code, not part of the address.
pub(crate) fn number(cells: &[u32]) -> u64 {
    let low = cells.len().saturating_sub(2);
    cells
        .get(low..)
        .unwrap_or_default()
        .iter()
        .fold(0, |n, &cell| n << 32 | u64::from(cell))
}

/// A multi-cell number on a bus whose every cell counts (not a PCI address): `None` when a
/// cell above the low two is set, i.e. the value does not fit in 64 bits.
pub(crate) fn wide_number(cells: &[u32]) -> Option<u64> {
    let low = cells.len().saturating_sub(2);
    cells[..low].iter().all(|&cell| cell == 0).then(|| number(cells))
}

/// How many cells the children of `bus` use for an address and a size in `reg`/`ranges`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CellCounts {
    pub address: usize,
    pub size: usize,
}

impl CellCounts {
    /// Reads `#address-cells` and `#size-cells` of `bus`, defaulting to 2 and 1 when
    /// absent (DT spec 0.4, 2.3.5: these are not inherited from further up).
    pub fn of(tree: &Tree, bus: NodeId) -> Result<Self, String> {
        Ok(CellCounts {
            address: count(tree, bus, "#address-cells", 2)?,
            size: count(tree, bus, "#size-cells", 1)?,
        })
    }
}

/// A cell-count property of `node` (`#address-cells`, `#interrupt-cells`, ...).
pub(crate) fn count(
    tree: &Tree,
    node: NodeId,
    name: &str,
    default: usize,
) -> Result<usize, String> {
    let Some(value) = tree.property(node, name) else {
        return Ok(default);
    };
    match single_cell(value) {
        Some(n) if n as usize <= MAX_CELLS => Ok(n as usize),
        Some(n) => Err(format!(
            "{} has {name} = {n}, more than {MAX_CELLS}",
            tree.path(node)
        )),
        None => Err(format!(
            "{} has a {}-byte {name}",
            tree.path(node),
            value.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_drop_a_partial_tail() {
        assert_eq!(cells(&[0, 0, 0, 1, 0, 0, 0, 2, 9]), [1, 2]);
    }

    #[test]
    fn number_takes_the_low_two_cells() {
        assert_eq!(number(&[]), 0);
        assert_eq!(number(&[0x1234]), 0x1234);
        assert_eq!(number(&[0x1, 0x2000]), 0x1_0000_2000);
        assert_eq!(number(&[0x0200_0000, 0x1, 0x2000]), 0x1_0000_2000);
        assert_eq!(wide_number(&[0, 0x1, 0x2000]), Some(0x1_0000_2000));
        assert_eq!(wide_number(&[0x1, 0x1, 0x2000]), None);
        assert_eq!(wide_number(&[0x1234]), Some(0x1234));
    }

    #[test]
    fn single_cell_needs_exactly_four_bytes() {
        assert_eq!(single_cell(&[0, 0, 0, 3]), Some(3));
        assert_eq!(single_cell(&[0, 0, 3]), None);
        assert_eq!(single_cell(&[0, 0, 0, 3, 0]), None);
    }
}
