//! The identity map of the PC physical address space that the entry code (`boot.rs`) turns
//! paging on with. Long mode cannot run without paging; the map never changes afterwards.
//!
//! Four-level paging, virtual address = physical address:
//!
//! | physical range   | what is there on q35 and pc                                 | mapped as                  |
//! |------------------|-------------------------------------------------------------|----------------------------|
//! | 0 .. 2 GiB       | RAM (512 MiB on the boards), legacy VGA and BIOS areas      | write-back, 2 MiB pages    |
//! | 2 GiB .. 4 GiB   | the 32-bit PCI window: ECAM (q35, 0xb000_0000), the BARs    | uncached, 2 MiB pages      |
//! |                  | firmware assigns, IOAPIC, HPET, local APIC, BIOS flash      |                            |
//! | 4 GiB .. 1 TiB   | the 64-bit PCI window, if firmware opens one                | uncached, 1 GiB pages, if  |
//! |                  |                                                             | the CPU has them           |
//!
//! Firmware (SeaBIOS) assigns every BAR below 4 GiB while they fit there, as the default devices
//! do; when they do not, it moves the 64-bit BARs to just below 2^phys-bits, 1 TiB for QEMU's
//! CPU models (measured: 0xfe_0000_0000 for a 4 GiB BAR). Covering that in 2 MiB pages would
//! take 2 MiB of tables, so the range is mapped only when the CPU has 1 GiB pages (CPUID
//! 0x8000_0001 EDX bit 26: the boards ask QEMU for them); without, those BARs are refused by
//! `map_mmio` rather than faulting. RAM past 2 GiB (`-m` above 2 GiB) would be mapped uncached
//! or not at all: the kernel does not use it (its heap is in its image).
//!
//! Uncached means PCD and PWT set: PAT entry 3, UC at reset, which wins over the MTRRs. Entries
//! are created with their accessed and dirty bits already set, so the CPU never writes to the
//! tables and they can live in read-only data.

use core::arch::global_asm;

const GIB: u64 = 1 << 30;
/// Where device memory starts: the lowest base of the 32-bit PCI window on q35 and pc.
const DEVICE_MEMORY_START: u64 = 2 * GIB;
/// The end of what 2 MiB pages map.
const LOW_MAP_END: u64 = 4 * GIB;
/// The end of the device memory mapped with 1 GiB pages.
const HIGH_MAP_END: u64 = 1 << 40;

// Page table entry bits (Intel SDM vol. 3, 4.5).
const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
/// In a page directory (pointer) entry: maps a 2 MiB (1 GiB) page rather than a table.
const LARGE_PAGE: u64 = 1 << 7;

const TABLE: u64 = PRESENT | WRITABLE | ACCESSED;
const RAM_PAGE: u64 = PRESENT | WRITABLE | ACCESSED | DIRTY | LARGE_PAGE;
const DEVICE_PAGE: u64 = RAM_PAGE | WRITE_THROUGH | CACHE_DISABLE;

/// CPUID 0x8000_0001 EDX bit that says the CPU has 1 GiB pages.
pub(super) const CPUID_1GIB_PAGES_BIT: u32 = 26;

// The tables. The entry code loads CR3 with `boot_pml4_1tib` when the CPU has 1 GiB pages and
// with `boot_pml4_4gib` otherwise.
global_asm!(
    r#"
    .section .rodata.boot_page_tables, "a"
    .balign 4096
    // 0 .. 4 GiB: four page directories of 2 MiB pages.
.Llow_directories:
    .set .Laddress, 0
    .rept {low_map_end} / 0x200000
    .if .Laddress < {device_start}
    .quad .Laddress + {ram_page}
    .else
    .quad .Laddress + {device_page}
    .endif
    .set .Laddress, .Laddress + 0x200000
    .endr

    // 0 .. 512 GiB: the directories, then 1 GiB pages.
.Lpointer_table_0_with_1gib_pages:
    .quad .Llow_directories + {table}
    .quad .Llow_directories + 0x1000 + {table}
    .quad .Llow_directories + 0x2000 + {table}
    .quad .Llow_directories + 0x3000 + {table}
    .set .Laddress, {low_map_end}
    .rept 512 - 4
    .quad .Laddress + {device_page}
    .set .Laddress, .Laddress + {gib}
    .endr

    // 512 GiB .. 1 TiB in 1 GiB pages.
.Lpointer_table_1:
    .set .Laddress, 512 * {gib}
    .rept 512
    .quad .Laddress + {device_page}
    .set .Laddress, .Laddress + {gib}
    .endr
    .if .Laddress != {high_map_end}
    .error "the 1 GiB pages do not end at HIGH_MAP_END"
    .endif

    // 0 .. 4 GiB only.
.Lpointer_table_0_without_1gib_pages:
    .quad .Llow_directories + {table}
    .quad .Llow_directories + 0x1000 + {table}
    .quad .Llow_directories + 0x2000 + {table}
    .quad .Llow_directories + 0x3000 + {table}
    .fill 512 - 4, 8, 0

    .global boot_pml4_1tib
boot_pml4_1tib:
    .quad .Lpointer_table_0_with_1gib_pages + {table}
    .quad .Lpointer_table_1 + {table}
    .fill 512 - 2, 8, 0

    .global boot_pml4_4gib
boot_pml4_4gib:
    .quad .Lpointer_table_0_without_1gib_pages + {table}
    .fill 512 - 1, 8, 0
"#,
    low_map_end = const LOW_MAP_END,
    device_start = const DEVICE_MEMORY_START,
    high_map_end = const HIGH_MAP_END,
    gib = const GIB,
    table = const TABLE,
    ram_page = const RAM_PAGE,
    device_page = const DEVICE_PAGE,
);

/// Whether `start..end` lies wholly in memory the boot map maps uncached, so it can be handed
/// to a driver as registers.
pub fn is_device_memory(start: u64, end: u64) -> bool {
    let mapped_end = if has_1gib_pages() { HIGH_MAP_END } else { LOW_MAP_END };
    DEVICE_MEMORY_START <= start && start <= end && end <= mapped_end
}

/// The question the entry code asked to choose the tables, asked again.
fn has_1gib_pages() -> bool {
    let cpuid = core::arch::x86_64::__cpuid(0x8000_0001);
    cpuid.edx & (1 << CPUID_1GIB_PAGES_BIT) != 0
}
