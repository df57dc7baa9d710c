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
//! `map_mmio` rather than faulting. RAM past 2 GiB (`-m` above 2 GiB) is mapped uncached or not
//! at all here: only the kernel map below maps it as RAM, and only then does the heap use it.
//!
//! That is the boot map. Once the boot information is read (`ram.rs`), [`install_kernel_map`]
//! builds the kernel's own tables and loads CR3 with them:
//!
//! | physical range                 | mapped as                                                  |
//! |--------------------------------|------------------------------------------------------------|
//! | RAM the PVH memory map names   | write-back, never executable (NX), 2 MiB or 1 GiB pages    |
//! | the kernel image               | 4 KiB pages: text read-only and executable, read-only data |
//! |                                | read-only, data and .bss read-write; NX but for the text   |
//! | the page below each stack      | not mapped: an overflow is a page fault, not corruption    |
//! | anything else below 1 TiB      | uncached, NX (device memory; 1 GiB pages above 4 GiB, if   |
//! |                                | the CPU has them)                                          |
//! | 0 .. 1 MiB                     | write-back, NX (BIOS data, EBDA, the PVH start info)       |
//!
//! Write protection holds at ring 0 because CR0.WP is set; NX needs EFER.NXE, set when the CPU
//! has it (CPUID 0x8000_0001 EDX bit 20; every x86-64 CPU QEMU models does).
//!
//! Uncached means PCD and PWT set: PAT entry 3, UC at reset, which wins over the MTRRs. Entries
//! are created with their accessed and dirty bits already set, so the CPU never writes to the
//! tables and they can live in read-only data.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::memory::Range;

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

/// Whether `start..end` lies wholly in memory mapped uncached, so it can be handed to a driver
/// as registers: in the kernel map, every page it touches is uncached; before it, the boot
/// map's rule (2 GiB up).
pub fn is_device_memory(start: u64, end: u64) -> bool {
    if start > end {
        return false;
    }
    if !INSTALLED.load(Ordering::Acquire) {
        let mapped_end = if has_1gib_pages() { HIGH_MAP_END } else { LOW_MAP_END };
        return DEVICE_MEMORY_START <= start && end <= mapped_end;
    }
    every_mapping(start, end, |entry| entry & CACHE_DISABLE != 0)
}

/// Whether `start..end` is readable write-back memory (RAM, firmware tables), so reading it has
/// no side effect: in the kernel map, every page it touches is mapped cached; before it, the
/// boot map's RAM (below 2 GiB).
pub fn is_write_back(start: u64, end: u64) -> bool {
    if start > end {
        return false;
    }
    if !INSTALLED.load(Ordering::Acquire) {
        return end <= DEVICE_MEMORY_START;
    }
    every_mapping(start, end, |entry| entry & CACHE_DISABLE == 0)
}

/// The question the entry code asked to choose the tables, asked again.
fn has_1gib_pages() -> bool {
    let cpuid = core::arch::x86_64::__cpuid(0x8000_0001);
    cpuid.edx & (1 << CPUID_1GIB_PAGES_BIT) != 0
}

// ---------------------------------------------------------------------------------------------
// The kernel's own map.

const PAGE_SIZE: u64 = 4096;
const MIB: u64 = 1 << 20;
const PAGE_2MIB: u64 = 2 * MIB;
const ENTRIES: usize = 512;
/// Page tables (4 KiB pages) for the kernel image: one per 2 MiB it touches, from 0 (the image
/// starts at 1 MiB), so it may end below 16 MiB (checked).
const IMAGE_TABLES: usize = 8;
/// Page directories for GiBs above 4 GiB that are part RAM, part not (or all RAM on a CPU
/// without 1 GiB pages); RAM in further such GiBs stays unmapped and out of the heap.
const HIGH_DIRECTORIES: usize = 8;

/// Execute disable (bit 63), with EFER.NXE.
const NO_EXECUTE: u64 = 1 << 63;
const EFER_NO_EXECUTE_ENABLE: u64 = 1 << 11;
const CR0_WRITE_PROTECT: u64 = 1 << 16;
/// CPUID 0x8000_0001 EDX bit that says the CPU has NX.
const CPUID_NX_BIT: u32 = 20;
const EFER_MSR: u32 = 0xc000_0080;

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

/// The address of a linker or assembly symbol (only the address is taken: safe with `&raw`).
macro_rules! symbol {
    ($name:ident) => {
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
struct Table([u64; ENTRIES]);

impl Table {
    const EMPTY: Table = Table([0; ENTRIES]);
}

/// The kernel map's tables, in .bss (read-write data of the image, mapped as such).
#[repr(C)]
struct KernelTables {
    pml4: Table,
    pointer_tables: [Table; 2],
    low_directories: [Table; 4],
    image_tables: [Table; IMAGE_TABLES],
    high_directories: [Table; HIGH_DIRECTORIES],
}

static mut KERNEL_TABLES: KernelTables = KernelTables {
    pml4: Table::EMPTY,
    pointer_tables: [const { Table::EMPTY }; 2],
    low_directories: [const { Table::EMPTY }; 4],
    image_tables: [const { Table::EMPTY }; IMAGE_TABLES],
    high_directories: [const { Table::EMPTY }; HIGH_DIRECTORIES],
};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The attributes of the kernel map, with NX where the CPU has it.
struct Attributes {
    no_execute: u64,
}

impl Attributes {
    fn ram(&self, large: bool) -> u64 {
        PRESENT | WRITABLE | ACCESSED | DIRTY | if large { LARGE_PAGE } else { 0 } | self.no_execute
    }

    fn device(&self, large: bool) -> u64 {
        self.ram(large) | WRITE_THROUGH | CACHE_DISABLE
    }

    /// A 4 KiB page of the image's 2 MiB pages.
    fn image_page(&self, page: u64, ram: &dyn Fn(Range) -> bool) -> u64 {
        let image = image();
        let base = PRESENT | ACCESSED | DIRTY;
        if guard_pages().iter().any(|(guard, _)| (guard.start..guard.end).contains(&page)) {
            0 // not mapped: the stack below ran off its end
        } else if (image.start..symbol!(__text_end)).contains(&page) {
            page | base
        } else if (symbol!(__text_end)..symbol!(__data_start)).contains(&page) {
            page | base | self.no_execute
        } else if page < MIB || image.overlaps(&Range::new(page, page + PAGE_SIZE)) || ram(Range::new(page, page + PAGE_SIZE)) {
            page | self.ram(false)
        } else {
            page | self.device(false)
        }
    }
}

/// Builds the kernel map for `ram` (the RAM the boot information names) and loads CR3 with it;
/// returns the RAM it maps write-back, for the heap.
pub fn install_kernel_map(ram: &[Range]) -> Result<Vec<Range>, String> {
    if INSTALLED.load(Ordering::Acquire) {
        return Err(String::from("the kernel map is installed already"));
    }
    let image = image();
    let image_windows = image.end.div_ceil(PAGE_2MIB) as usize;
    if image_windows > IMAGE_TABLES {
        return Err(format!("the kernel image ends at {:#x}, past the {} MiB mapped in 4 KiB pages", image.end, IMAGE_TABLES * 2));
    }
    let gib_pages = has_1gib_pages();
    let attributes = Attributes { no_execute: if enable_no_execute() { NO_EXECUTE } else { 0 } };
    let is_ram = |range: Range| ram.iter().any(|r| r.overlaps(&range));
    let within_ram = |range: Range| ram.iter().any(|r| r.start <= range.start && range.end <= r.end);
    let mut unmapped_ram = Vec::new();

    // SAFETY: the tables are used by nothing until CR3 is loaded below, and this runs once (the
    // INSTALLED check, on the only CPU, before anything else runs), so no other reference
    // to them exists.
    let tables = unsafe { &mut *(&raw mut KERNEL_TABLES) };
    for (window, table) in tables.image_tables[..image_windows].iter_mut().enumerate() {
        for (index, entry) in table.0.iter_mut().enumerate() {
            *entry = attributes.image_page(window as u64 * PAGE_2MIB + index as u64 * PAGE_SIZE, &is_ram);
        }
    }
    for (gib, directory) in tables.low_directories.iter_mut().enumerate() {
        for (index, entry) in directory.0.iter_mut().enumerate() {
            let address = gib as u64 * GIB + index as u64 * PAGE_2MIB;
            *entry = if (address / PAGE_2MIB) < image_windows as u64 {
                &raw const tables.image_tables[(address / PAGE_2MIB) as usize] as u64 | TABLE
            } else if is_ram(Range::new(address, address + PAGE_2MIB)) {
                address | attributes.ram(true)
            } else {
                address | attributes.device(true)
            };
        }
    }
    let mut spare_directories = tables.high_directories.iter_mut();
    for (half, pointer_table) in tables.pointer_tables.iter_mut().enumerate() {
        for (index, entry) in pointer_table.0.iter_mut().enumerate() {
            let address = (half * ENTRIES + index) as u64 * GIB;
            let gib = Range::new(address, address + GIB);
            *entry = if address < LOW_MAP_END {
                &raw const tables.low_directories[index] as u64 | TABLE
            } else if !is_ram(gib) {
                if gib_pages { address | attributes.device(true) } else { 0 }
            } else if gib_pages && within_ram(gib) {
                address | attributes.ram(true)
            } else if let Some(directory) = spare_directories.next() {
                for (index, entry) in directory.0.iter_mut().enumerate() {
                    let page = address + index as u64 * PAGE_2MIB;
                    let ram = is_ram(Range::new(page, page + PAGE_2MIB));
                    *entry = page | if ram { attributes.ram(true) } else { attributes.device(true) };
                }
                &raw const *directory as u64 | TABLE
            } else {
                unmapped_ram.push(gib);
                0
            };
        }
    }
    tables.pml4.0[0] = &raw const tables.pointer_tables[0] as u64 | TABLE;
    if gib_pages {
        tables.pml4.0[1] = &raw const tables.pointer_tables[1] as u64 | TABLE;
    }
    let mut mapped: Vec<Range> =
        ram.iter().filter(|r| r.start < HIGH_MAP_END).map(|r| Range::new(r.start, r.end.min(HIGH_MAP_END))).collect();
    for hole in &unmapped_ram {
        mapped = crate::memory::subtract(&mapped, hole);
    }
    // SAFETY: the new tables map everything the kernel uses (its image, stacks, the RAM, the
    // devices at their addresses) with the same memory types as the boot map; text stays
    // executable, so the code running now goes on. Setting CR0.WP only makes ring 0 honour
    // the read-only pages; loading CR3 flushes the TLB.
    unsafe {
        asm!(
            "mov {cr0}, cr0",
            "or {cr0}, {wp}",
            "mov cr0, {cr0}",
            "mov cr3, {pml4}",
            cr0 = out(reg) _,
            wp = in(reg) CR0_WRITE_PROTECT,
            pml4 = in(reg) &raw const tables.pml4 as u64,
            options(nostack, preserves_flags),
        );
    }
    INSTALLED.store(true, Ordering::Release);
    Ok(mapped)
}

/// Sets EFER.NXE if the CPU has NX; whether it does.
fn enable_no_execute() -> bool {
    let cpuid = core::arch::x86_64::__cpuid(0x8000_0001);
    if cpuid.edx & (1 << CPUID_NX_BIT) == 0 {
        return false;
    }
    // SAFETY: setting EFER.NXE on a CPU that has NX only makes bit 63 of paging entries mean
    // execute-disable; no entry in use sets it yet.
    unsafe {
        asm!(
            "rdmsr",
            "or eax, {nxe:e}",
            "wrmsr",
            in("ecx") EFER_MSR,
            nxe = in(reg) EFER_NO_EXECUTE_ENABLE as u32,
            out("eax") _,
            out("edx") _,
            options(nostack, preserves_flags),
        );
    }
    true
}

/// Whether every mapping `start..end` touches in the kernel map passes `test` (and exists).
fn every_mapping(start: u64, end: u64, test: impl Fn(u64) -> bool) -> bool {
    let mut address = start;
    loop {
        let Some((entry, size)) = lookup(address) else { return false };
        if !test(entry) {
            return false;
        }
        let next = (address & !(size - 1)) + size;
        if next >= end {
            return true;
        }
        address = next;
    }
}

/// The kernel map's entry for `address` and the size it maps, if mapped.
fn lookup(address: u64) -> Option<(u64, u64)> {
    const ADDRESS_BITS: u64 = 0x000f_ffff_ffff_f000;
    let index = |shift: u32| ((address >> shift) & 0x1ff) as usize;
    // SAFETY: after installation the tables are only read; they are statics, so every table
    // address an entry holds points at one of them (identity mapped).
    let table = |physical: u64| unsafe { &*((physical & ADDRESS_BITS) as *const Table) };
    if address >= HIGH_MAP_END {
        return None;
    }
    // SAFETY: as above.
    let pml4 = unsafe { &(*(&raw const KERNEL_TABLES)).pml4 };
    let pml4e = pml4.0[index(39)];
    if pml4e & PRESENT == 0 {
        return None;
    }
    let pdpte = table(pml4e).0[index(30)];
    if pdpte & PRESENT == 0 {
        return None;
    }
    if pdpte & LARGE_PAGE != 0 {
        return Some((pdpte, GIB));
    }
    let pde = table(pdpte).0[index(21)];
    if pde & PRESENT == 0 {
        return None;
    }
    if pde & LARGE_PAGE != 0 {
        return Some((pde, PAGE_2MIB));
    }
    let pte = table(pde).0[index(12)];
    (pte & PRESENT != 0).then_some((pte, PAGE_SIZE))
}
