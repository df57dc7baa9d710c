//! The RAM QEMU virt (or any device-tree board) has, from the device tree: the `/memory`
//! nodes, less what is in use at boot (the kernel image with its stacks, the device tree blob,
//! the blob's `/memreserve/` entries). The kernel map (`mmu.rs`) covers it, then it becomes
//! the heap and DMA pool (`memory.rs`).

use alloc::string::String;
use alloc::vec::Vec;

use bus_dt::DtBus;

use super::mmu;
use crate::memory::{self, BootMemory, Range};

/// The most `/memreserve/` entries read; a blob with more is not believed past them.
const MAX_RESERVATIONS: usize = 64;

/// Maps the device tree's RAM, protects the kernel image and gives the free RAM to the heap;
/// returns the boot log line.
pub fn setup(tree: &DtBus<'_>, blob: &'static [u8]) -> Result<String, String> {
    let ram: Vec<Range> = tree
        .memory_regions()
        .iter()
        .filter_map(|region| Range::sized(region.base, region.size))
        .filter(|range| range.len() > 0)
        .collect();
    let blob_start = blob.as_ptr() as u64;
    let blob_range = Range::new(blob_start, blob_start + blob.len() as u64);
    // The blob stays in use (the bus reads it at every probe): mapped even if no /memory node
    // covers it.
    let mut to_map = ram.clone();
    to_map.push(blob_range);
    mmu::install_kernel_map(&to_map)?;
    let mapped: Vec<Range> = ram.iter().filter_map(mmu::mappable_ram).collect();
    let mut in_use = alloc::vec![mmu::image(), blob_range];
    in_use.extend(reservations(blob));
    let boot = BootMemory { ram: mapped, source: "the device tree", in_use };
    // SAFETY: `install_kernel_map` maps `boot.ram` read-write; `in_use` names the image (its
    // stacks and page tables included), the blob and what the blob reserves, which is all the
    // kernel uses of RAM at boot on this board (QEMU puts nothing else there).
    Ok(unsafe { memory::give_to_heap(&boot) })
}

/// The blob's memory reservation block: (address, size) pairs of big-endian 64-bit words at
/// the header's `off_mem_rsvmap`, ended by a pair of zeros (devicetree specification 5.3).
fn reservations(blob: &[u8]) -> Vec<Range> {
    let word = |at: usize| -> Option<u64> { Some(u64::from_be_bytes(blob.get(at..at.checked_add(8)?)?.try_into().ok()?)) };
    let Some(offset) = blob.get(16..20).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for index in 0..MAX_RESERVATIONS {
        let at = offset + index * 16;
        match (word(at), word(at + 8)) {
            (Some(0), Some(0)) | (None, _) | (_, None) => break,
            (Some(address), Some(size)) => found.extend(Range::sized(address, size)),
        }
    }
    found
}
