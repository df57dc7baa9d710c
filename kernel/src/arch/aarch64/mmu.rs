//! The identity map of the QEMU virt physical address space, and the system
//! register values that turn the MMU on with it (the entry code in `boot.rs`
//! writes them).
//!
//! The MMU must be on before any Rust code runs: with it off, every data
//! access is Device memory, where unaligned loads fault and exclusive
//! (atomic) accesses are not guaranteed to work.
//!
//! Translation uses the 4 KiB granule and 40-bit virtual addresses
//! (T0SZ = 24), so a walk starts at level 0 with two entries, each pointing at
//! a level-1 table of 512 one-GiB blocks. Virtual address = physical address:
//!
//! | physical range   | what is there on virt                            | mapped as          |
//! |------------------|--------------------------------------------------|--------------------|
//! | 0 .. 1 GiB       | flash, GIC, UART, RTC, virtio-mmio, PCIe windows | Device-nGnRE       |
//! | 1 GiB .. 5 GiB   | the first 4 GiB of RAM                           | Normal, write-back |
//! | 5 GiB .. 256 GiB | more RAM, if QEMU has more than 4 GiB (`-m`)     | not mapped         |
//! | 256 GiB .. 1 TiB | high GIC redistributors, PCIe ECAM and MMIO      | Device-nGnRE       |
//!
//! RAM past the first 4 GiB stays unmapped until the kernel learns the real
//! RAM size from the device tree; mapping absent RAM as Normal memory would
//! let the CPU speculate into it. Addresses from 1 TiB up fault.
//!
//! That map is the boot map: everything in RAM is writable and executable. Once
//! the device tree is read, [`install_kernel_map`] builds the kernel's own
//! tables and switches to them: RAM where the device tree says (in whole GiB
//! blocks, up to 256 GiB), never executable; the kernel image in 4 KiB pages,
//! its text read-only and executable, its read-only data read-only, the rest
//! (data, .bss) read-write; and below each stack a guard page that is not
//! mapped, so running off the end of a stack is a data abort, not corruption.

/// `MAIR_EL1` index of Device-nGnRE memory (MMIO).
const DEVICE_ATTRIBUTE_INDEX: u64 = 0;
/// `MAIR_EL1` index of Normal memory, write-back cacheable (RAM).
const NORMAL_ATTRIBUTE_INDEX: u64 = 1;

/// The memory attributes behind the two indices above: Device-nGnRE is
/// 0x04; Normal inner and outer write-back, read- and write-allocate is 0xff.
pub(super) const MAIR: u64 =
    0x04 << (8 * DEVICE_ATTRIBUTE_INDEX) | 0xff << (8 * NORMAL_ATTRIBUTE_INDEX);

/// Bits of virtual address translated through `TTBR0_EL1`: 1 TiB.
const VIRTUAL_ADDRESS_BITS: u64 = 40;

/// `TCR_EL1`, less the physical address size (IPS) that the entry code takes
/// from `ID_AA64MMFR0_EL1`:
/// T0SZ for 40-bit addresses; table walks are inner-shareable and
/// write-back cached like RAM (IRGN0, ORGN0, SH0); 4 KiB granule (TG0 = 0);
/// no walks through `TTBR1_EL1` (EPD1), since nothing lives in the upper
/// half of the address space.
pub(super) const TCR_WITHOUT_IPS: u64 = (64 - VIRTUAL_ADDRESS_BITS) // T0SZ
    | 0b01 << 8 // IRGN0: write-back, write-allocate
    | 0b01 << 10 // ORGN0: write-back, write-allocate
    | 0b11 << 12 // SH0: inner shareable
    | 1 << 23; // EPD1

/// Largest `TCR_EL1.IPS` value for 4 KiB pages without FEAT_LPA2: 48 bits.
/// `ID_AA64MMFR0_EL1.PARange` may say 52 (0b110) on `-cpu max`.
pub(super) const MAX_IPS: u64 = 0b101;

/// `SCTLR_EL1` bits that are RES1 in ARMv8.0 (bits 29, 28, 23, 22, 20, 11).
/// Written alone, the MMU and caches are off.
pub(super) const SCTLR_RESERVED_ONES: u64 = 0x30d0_0800;

/// `SCTLR_EL1` with the MMU (M), data cache (C), stack alignment check (SA)
/// and instruction cache (I) on. Alignment checking (A) stays off so that
/// unaligned loads, which device-tree parsing does, are allowed in RAM.
pub(super) const SCTLR_MMU_ON: u64 = SCTLR_RESERVED_ONES | 1 << 0 | 1 << 2 | 1 << 3 | 1 << 12;

/// Bits of a level-0 entry that make it point at a level-1 table.
pub(super) const TABLE_DESCRIPTOR: u64 = 0b11;

const GIB: u64 = 1 << 30;
/// Where RAM starts on QEMU virt.
const RAM_START: u64 = 0x4000_0000;
/// How much of RAM the boot map covers (see the module documentation).
const RAM_MAPPED_SIZE: u64 = 4 * GIB;
/// Where the high MMIO regions of QEMU virt (GIC redistributors, PCIe ECAM
/// and the 64-bit PCIe window) start.
const HIGH_MMIO_START: u64 = 256 * GIB;
/// Entries in a 4 KiB translation table.
const ENTRIES_PER_TABLE: usize = 512;

/// Level-1 block descriptor bits (ARM ARM D8.3).
const BLOCK_DESCRIPTOR: u64 = 0b01;
/// A level-3 entry that maps a 4 KiB page.
const PAGE_DESCRIPTOR: u64 = 0b11;
/// AP[2]: read-only (at EL1; AP[1] stays 0, so EL0 has no access).
const READ_ONLY: u64 = 1 << 7;
const SHAREABILITY_INNER: u64 = 0b11 << 8;
/// The access flag; without it the first access faults.
const ACCESSED: u64 = 1 << 10;
const PRIVILEGED_EXECUTE_NEVER: u64 = 1 << 53;
const UNPRIVILEGED_EXECUTE_NEVER: u64 = 1 << 54;
// Access permissions stay 0b00: read-write at EL1, no access from EL0.

/// MMIO: never executed, so the CPU never fetches instructions from devices.
const DEVICE_BLOCK: u64 = BLOCK_DESCRIPTOR
    | DEVICE_ATTRIBUTE_INDEX << 2
    | ACCESSED
    | PRIVILEGED_EXECUTE_NEVER
    | UNPRIVILEGED_EXECUTE_NEVER;
/// RAM: the kernel's code runs from it.
const RAM_BLOCK: u64 = BLOCK_DESCRIPTOR
    | NORMAL_ATTRIBUTE_INDEX << 2
    | SHAREABILITY_INNER
    | ACCESSED
    | UNPRIVILEGED_EXECUTE_NEVER;

/// Normal memory attributes without the descriptor type: RAM at any level.
const RAM_ATTRIBUTES: u64 =
    NORMAL_ATTRIBUTE_INDEX << 2 | SHAREABILITY_INNER | ACCESSED | UNPRIVILEGED_EXECUTE_NEVER;
/// RAM that is data, never code.
const DATA_ATTRIBUTES: u64 = RAM_ATTRIBUTES | PRIVILEGED_EXECUTE_NEVER;

/// A level-1 translation table: 512 entries of one GiB each.
#[repr(C, align(4096))]
pub(super) struct Level1Table([u64; ENTRIES_PER_TABLE]);

/// Virtual (and physical) addresses 0 .. 512 GiB.
pub(super) static LEVEL1_LOW: Level1Table = level1_table(0);
/// Virtual (and physical) addresses 512 GiB .. 1 TiB.
pub(super) static LEVEL1_HIGH: Level1Table = level1_table(ENTRIES_PER_TABLE as u64 * GIB);

/// The level-1 table whose first block starts at `start`, filled from the
/// map in the module documentation.
const fn level1_table(start: u64) -> Level1Table {
    let mut entries = [0; ENTRIES_PER_TABLE];
    let mut index = 0;
    while index < ENTRIES_PER_TABLE {
        let address = start + index as u64 * GIB;
        entries[index] = if address < RAM_START || address >= HIGH_MMIO_START {
            address | DEVICE_BLOCK
        } else if address < RAM_START + RAM_MAPPED_SIZE {
            address | RAM_BLOCK
        } else {
            0 // invalid: accesses fault
        };
        index += 1;
    }
    Level1Table(entries)
}

/// Whether `start..end` lies wholly in memory the boot map maps as device memory, so it can
/// be handed to a driver as registers.
pub fn is_device_memory(start: u64, end: u64) -> bool {
    const MAPPED_END: u64 = 1 << VIRTUAL_ADDRESS_BITS;
    start <= end && (end <= RAM_START || (start >= HIGH_MMIO_START && end <= MAPPED_END))
}

// ---------------------------------------------------------------------------------------------
// The kernel's own map.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::memory::Range;

const PAGE_SIZE: u64 = 4096;
const BLOCK_2MIB: u64 = 2 << 20;
/// Level-3 tables for the kernel image: one per 2 MiB the image touches, so the image may
/// span up to 16 MiB (checked).
const IMAGE_TABLES: usize = 8;

extern "C" {
    // From link.ld: page-aligned boundaries of the image's parts.
    static __image_start: u8;
    static __text_end: u8;
    static __data_start: u8;
    static __image_end: u8;
    // From boot.rs and exceptions.rs: the unmapped page below each stack.
    static __boot_stack_guard: u8;
    static __fatal_stack_guard: u8;
}

/// The address of a linker or assembly symbol.
macro_rules! symbol {
    ($name:ident) => {
        // Only the symbol's address is taken (safe with `&raw`); nothing is read through it.
        &raw const $name as u64
    };
}

/// The guard pages, each named by its stack.
fn guard_pages() -> [(Range, &'static str); 2] {
    [
        (Range::new(symbol!(__boot_stack_guard), symbol!(__boot_stack_guard) + PAGE_SIZE), "the boot stack"),
        (Range::new(symbol!(__fatal_stack_guard), symbol!(__fatal_stack_guard) + PAGE_SIZE), "the exception stack"),
    ]
}

/// The kernel image, stacks included.
pub fn image() -> Range {
    Range::new(symbol!(__image_start), symbol!(__image_end))
}

/// Whose guard page `address` is in, once the kernel map is installed (for fault reports).
pub fn guard_page_at(address: u64) -> Option<&'static str> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    guard_pages().into_iter().find(|(page, _)| (page.start..page.end).contains(&address)).map(|(_, name)| name)
}

#[repr(C, align(4096))]
struct Table([u64; ENTRIES_PER_TABLE]);

impl Table {
    const EMPTY: Table = Table([0; ENTRIES_PER_TABLE]);
}

/// The kernel map's tables, in .bss (read-write data of the image, mapped as such).
#[repr(C)]
struct KernelTables {
    level0: Table,
    level1: [Table; 2],
    /// The GiB that holds the image, in 2 MiB blocks.
    level2_image: Table,
    level3_image: [Table; IMAGE_TABLES],
}

static mut KERNEL_TABLES: KernelTables = KernelTables {
    level0: Table::EMPTY,
    level1: [Table::EMPTY, Table::EMPTY],
    level2_image: Table::EMPTY,
    level3_image: [const { Table::EMPTY }; IMAGE_TABLES],
};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// What a page of the image's 2 MiB blocks is mapped as.
fn image_page(page: u64) -> u64 {
    let image = image();
    if guard_pages().iter().any(|(guard, _)| (guard.start..guard.end).contains(&page)) {
        0 // not mapped: the stack below ran off its end
    } else if (image.start..symbol!(__text_end)).contains(&page) {
        page | PAGE_DESCRIPTOR | RAM_ATTRIBUTES | READ_ONLY
    } else if (symbol!(__text_end)..symbol!(__data_start)).contains(&page) {
        page | PAGE_DESCRIPTOR | DATA_ATTRIBUTES | READ_ONLY
    } else {
        page | PAGE_DESCRIPTOR | DATA_ATTRIBUTES
    }
}

/// The part of `ram` the kernel map can cover as RAM (1 GiB .. 256 GiB on virt), if any.
pub fn mappable_ram(ram: &Range) -> Option<Range> {
    let mappable = Range::new(RAM_START, HIGH_MMIO_START);
    ram.overlaps(&mappable).then(|| Range::new(ram.start.max(mappable.start), ram.end.min(mappable.end)))
}

/// Builds the kernel map for `ram` (the device tree's RAM, and the blob) and switches to it;
/// [`mappable_ram`] says what of the RAM it maps.
pub fn install_kernel_map(ram: &[Range]) -> Result<(), String> {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return Err(String::from("the kernel map is installed already"));
    }
    let image = image();
    let image_gib = image.start / GIB;
    if (image.end - 1) / GIB != image_gib {
        return Err(format!("the kernel image {:#x}-{:#x} crosses a GiB boundary", image.start, image.end));
    }
    let first_block = image.start / BLOCK_2MIB;
    let blocks = (image.end.div_ceil(BLOCK_2MIB) - first_block) as usize;
    if blocks > IMAGE_TABLES {
        return Err(format!("the kernel image spans {blocks} blocks of 2 MiB, more than the {IMAGE_TABLES} mapped in pages"));
    }
    let mapped_ram: Vec<Range> = ram.iter().filter_map(mappable_ram).collect();
    let is_ram = |range: Range| mapped_ram.iter().any(|r| r.overlaps(&range));

    // SAFETY: the tables are used by nothing until the switch below, and this runs once (the
    // swap above), on the only CPU, so no other reference to them exists.
    let tables = unsafe { &mut *(&raw mut KERNEL_TABLES) };
    for (index, table) in tables.level3_image[..blocks].iter_mut().enumerate() {
        let block = (first_block + index as u64) * BLOCK_2MIB;
        for (page, entry) in table.0.iter_mut().enumerate() {
            *entry = image_page(block + page as u64 * PAGE_SIZE);
        }
    }
    let gib_start = image_gib * GIB;
    for (index, entry) in tables.level2_image.0.iter_mut().enumerate() {
        let block = gib_start + index as u64 * BLOCK_2MIB;
        let image_table = (block / BLOCK_2MIB).checked_sub(first_block).filter(|&k| k < blocks as u64);
        *entry = match image_table {
            Some(k) => &raw const tables.level3_image[k as usize] as u64 | TABLE_DESCRIPTOR,
            None if is_ram(Range::new(block, block + BLOCK_2MIB)) => block | BLOCK_DESCRIPTOR | DATA_ATTRIBUTES,
            None => 0,
        };
    }
    let level2 = &raw const tables.level2_image as u64;
    for (half, table) in tables.level1.iter_mut().enumerate() {
        for (index, entry) in table.0.iter_mut().enumerate() {
            let address = (half * ENTRIES_PER_TABLE + index) as u64 * GIB;
            *entry = if address < RAM_START || address >= HIGH_MMIO_START {
                address | DEVICE_BLOCK
            } else if address == gib_start {
                level2 | TABLE_DESCRIPTOR
            } else if is_ram(Range::new(address, address + GIB)) {
                address | BLOCK_DESCRIPTOR | DATA_ATTRIBUTES
            } else {
                0
            };
        }
    }
    tables.level0.0[0] = &raw const tables.level1[0] as u64 | TABLE_DESCRIPTOR;
    tables.level0.0[1] = &raw const tables.level1[1] as u64 | TABLE_DESCRIPTOR;
    // SAFETY: the new tables map the code running now (and everything the kernel uses: its
    // image, stacks, heap RAM, devices) at the same addresses with the same memory types; the
    // switch runs with the MMU off, so no TLB ever holds entries of both maps.
    unsafe { mmu_switch_tables(&raw const tables.level0 as u64) };
    Ok(())
}

extern "C" {
    /// Loads `TTBR0_EL1` with `level0` (assembly below).
    fn mmu_switch_tables(level0: u64);
}

// Turns the MMU off, loads the new table base, drops every TLB entry, turns the MMU back on:
// break-before-make for the whole map at once (ARM ARM D8.16.1). The code runs identity
// mapped in both maps, so it continues at the same address; with the MMU off it touches no
// memory but its own instructions.
global_asm!(
    r#"
    .section .text.mmu_switch_tables, "ax"
    .global mmu_switch_tables
mmu_switch_tables:
    dsb     ish                         // the table writes reach the point of coherency for walks
    mrs     x1, sctlr_el1
    bic     x2, x1, #1                  // M
    msr     sctlr_el1, x2
    isb
    msr     ttbr0_el1, x0
    isb
    tlbi    vmalle1
    dsb     ish
    isb
    msr     sctlr_el1, x1
    isb
    ic      iallu
    dsb     ish
    isb
    ret
"#
);
