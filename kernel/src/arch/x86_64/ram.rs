//! The RAM a PC has, from the PVH start info's memory map (Xen's `hvm_start_info`, version 1:
//! `memmap_paddr`, `memmap_entries`; QEMU's PVH loader fills it from fw_cfg's `etc/e820`), less
//! what is in use at boot: the first MiB (BIOS data, EBDA, the loader's start info and map,
//! the BIOS), the kernel image with its stacks, and the ACPI tables. The kernel map
//! (`paging.rs`) covers it, then it becomes the heap and DMA pool (`memory.rs`).
//!
//! The map comes from QEMU, not from SeaBIOS, which ran before and keeps the ACPI tables in a
//! zone at the top of low RAM that only its own E820 reserves: so the kernel reserves from the
//! lowest ACPI table to the end of the RAM range holding it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{acpi, paging};
use crate::memory::{self, BootMemory, Range};

/// `hvm_start_info` fields (Xen's `public/arch-x86/hvm/start_info.h`).
const START_INFO_MAGIC: u32 = 0x336e_c578;
const START_INFO_VERSION: usize = 4;
const START_INFO_MEMMAP: usize = 40;
const START_INFO_MEMMAP_ENTRIES: usize = 48;
/// A memory map entry: address, size, type, reserved.
const MEMMAP_ENTRY_SIZE: usize = 24;
const MEMMAP_TYPE_RAM: u32 = 1;
/// More entries than any firmware writes; a map claiming more is not believed past them.
const MAX_MEMMAP_ENTRIES: usize = 128;
const MIB: u64 = 1 << 20;
/// Where the ACPI zone's reservation starts: the lowest table, rounded down to this.
const ACPI_ZONE_ALIGN: u64 = 64 * 1024;

/// Maps the boot information's RAM, protects the kernel image and gives the free RAM to the
/// heap; returns the boot log line.
pub fn setup() -> Result<String, String> {
    let ram = memory_map()?;
    let mapped = paging::install_kernel_map(&ram)?;
    let mut in_use = alloc::vec![Range::new(0, MIB), paging::image()];
    // Read through the kernel map, which covers all the RAM write-back (the boot map only the
    // first 2 GiB, and a PC with more than 2.75 GiB keeps its tables near 3 GiB): the tables
    // are read once and kept, so they must be read where they can be.
    in_use.extend(acpi_zone(&ram));
    let boot = BootMemory { ram: mapped, source: "the PVH memory map", in_use };
    // SAFETY: `install_kernel_map` maps `boot.ram` write-back, read-write; `in_use` names the
    // first MiB, the image (stacks and page tables included) and the ACPI zone, which is all
    // of RAM in use when the kernel runs (the loader's data sits in the first MiB).
    Ok(unsafe { memory::give_to_heap(&boot) })
}

/// The RAM entries of the PVH start info's memory map.
fn memory_map() -> Result<Vec<Range>, String> {
    let info = acpi::start_info();
    let mut head = [0u8; 56];
    read(info, &mut head).ok_or_else(|| format!("no readable PVH start info at {info:#x}"))?;
    let u32_at = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let u64_at = |at: usize| u64::from(u32_at(at)) | u64::from(u32_at(at + 4)) << 32;
    if u32_at(0) != START_INFO_MAGIC {
        return Err(format!("no PVH start info at {info:#x} (magic {:#x})", u32_at(0)));
    }
    if u32_at(START_INFO_VERSION) < 1 || u32_at(START_INFO_MEMMAP_ENTRIES) == 0 {
        return Err(String::from("the PVH start info has no memory map (version 0)"));
    }
    let (map, entries) = (u64_at(START_INFO_MEMMAP), (u32_at(START_INFO_MEMMAP_ENTRIES) as usize).min(MAX_MEMMAP_ENTRIES));
    let mut ram = Vec::new();
    for index in 0..entries {
        let mut entry = [0u8; MEMMAP_ENTRY_SIZE];
        let at = map.checked_add((index * MEMMAP_ENTRY_SIZE) as u64).ok_or("the memory map wraps around")?;
        read(at, &mut entry).ok_or_else(|| format!("memory map entry {index} at {at:#x} is not readable"))?;
        let field = |at: usize| u64::from_le_bytes(entry[at..at + 8].try_into().unwrap_or_default());
        let kind = u32::from_le_bytes(entry[16..20].try_into().unwrap_or_default());
        if kind == MEMMAP_TYPE_RAM {
            ram.extend(Range::sized(field(0), field(8)).filter(|r| r.len() > 0));
        }
    }
    if ram.is_empty() {
        return Err(String::from("the PVH memory map names no RAM"));
    }
    Ok(ram)
}

/// From the lowest ACPI table to the end of the RAM range that holds it (none without tables).
fn acpi_zone(ram: &[Range]) -> Option<Range> {
    let firmware = acpi::firmware().ok()?;
    let root = match firmware.rsdp.xsdt {
        0 => u64::from(firmware.rsdp.rsdt),
        xsdt => xsdt,
    };
    let lowest = firmware.tables.tables.iter().map(|t| t.address).chain([root]).filter(|&a| a >= MIB).min()?;
    let holder = ram.iter().find(|r| (r.start..r.end).contains(&lowest))?;
    Some(Range::new((lowest & !(ACPI_ZONE_ALIGN - 1)).max(holder.start), holder.end))
}

/// Copies physical memory at `address` into `buf`, if it is write-back memory the current map
/// covers (the loader's data is in low RAM).
fn read(address: u64, buf: &mut [u8]) -> Option<()> {
    let end = address.checked_add(buf.len() as u64)?;
    if address == 0 || !paging::is_write_back(address, end) {
        return None;
    }
    // SAFETY: `address..end` is non-null, mapped write-back memory (checked above): reading it
    // has no side effect; `buf` is the caller's own.
    unsafe { core::ptr::copy_nonoverlapping(address as *const u8, buf.as_mut_ptr(), buf.len()) };
    Some(())
}
