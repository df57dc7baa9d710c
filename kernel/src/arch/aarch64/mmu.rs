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
