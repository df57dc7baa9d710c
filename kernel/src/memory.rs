//! RAM from the boot information, and what of it becomes the heap and DMA pool.
//!
//! The architecture reads the RAM ranges the boot information reports (the device tree's
//! `/memory` nodes on virt, the PVH start info's memory map on the PCs) and the ranges that
//! are in use already (the kernel image with its stacks, the device tree and its
//! `/memreserve/` entries, the ACPI tables, the BIOS areas). Whatever RAM is left, in whole
//! pages, goes to the heap (`heap.rs`), largest ranges first; DMA memory comes from the heap
//! (`platform.rs`), so `-m 8G` gives an 8 GiB pool and no array in the image limits it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::heap;

const PAGE: u64 = 4096;

/// A physical address range `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    pub fn new(start: u64, end: u64) -> Self {
        Range { start, end }
    }

    /// `start` and a size, `None` if it wraps around.
    pub fn sized(start: u64, size: u64) -> Option<Self> {
        Some(Range { start, end: start.checked_add(size)? })
    }

    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub fn overlaps(&self, other: &Range) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// What the boot information says: the RAM, where it was read from, and the parts in use.
pub struct BootMemory {
    pub ram: Vec<Range>,
    /// For the boot log: "the device tree", "the PVH memory map".
    pub source: &'static str,
    pub in_use: Vec<Range>,
}

/// `ranges` without `hole`.
pub fn subtract(ranges: &[Range], hole: &Range) -> Vec<Range> {
    let mut left = Vec::new();
    for range in ranges {
        if !range.overlaps(hole) {
            left.push(*range);
            continue;
        }
        if range.start < hole.start {
            left.push(Range::new(range.start, hole.start));
        }
        if hole.end < range.end {
            left.push(Range::new(hole.end, range.end));
        }
    }
    left
}

/// The free RAM: `ram` without `in_use`, each range shrunk to whole pages, largest first.
pub fn free_ranges(ram: &[Range], in_use: &[Range]) -> Vec<Range> {
    let mut free: Vec<Range> = ram.to_vec();
    for hole in in_use {
        free = subtract(&free, hole);
    }
    let mut pages: Vec<Range> = free
        .iter()
        .filter_map(|r| {
            let start = r.start.checked_add(PAGE - 1)? & !(PAGE - 1);
            let end = r.end & !(PAGE - 1);
            (start < end).then_some(Range::new(start, end))
        })
        .collect();
    pages.sort_by_key(|r| core::cmp::Reverse(r.len()));
    pages
}

/// Gives the free RAM to the heap; returns the boot log line.
///
/// # Safety
/// `boot.ram` must be RAM the identity map now covers read-write, and `boot.in_use` must name
/// everything in it that something else uses (the image, the boot stacks, firmware data).
pub unsafe fn give_to_heap(boot: &BootMemory) -> String {
    let total: u64 = boot.ram.iter().map(Range::len).sum();
    let mut taken = 0;
    for range in free_ranges(&boot.ram, &boot.in_use).into_iter().take(heap::MAX_RAM_REGIONS) {
        let (Ok(start), Ok(end)) = (usize::try_from(range.start), usize::try_from(range.end)) else { continue };
        // SAFETY: the caller guarantees the RAM is mapped and `in_use` names what is used; the
        // free ranges are disjoint from both and from each other.
        if unsafe { heap::add_ram(start, end) } {
            taken += 1;
        }
    }
    let ranges: Vec<String> = boot.ram.iter().map(|r| format!("{:#x}-{:#x}", r.start, r.end)).collect();
    format!(
        "memory: {} of RAM from {} ({}); heap and DMA pool: {} in {taken} range(s), plus the {} boot heap",
        mib(total),
        boot.source,
        ranges.join(", "),
        mib(heap::ram_bytes()),
        mib(heap::BOOT_HEAP_SIZE as u64),
    )
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}
