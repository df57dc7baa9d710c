//! The ITS's own tables in memory, one per implemented `GITS_BASER<n>`: the device table
//! (DeviceID -> the device's interrupt translation table) and the collection table
//! (collection -> redistributor). Their entry format is the ITS's business; the driver gives
//! each the memory it asks for: flat (one level), 4 KiB pages, zeroed.

use alloc::format;
use alloc::vec::Vec;

use registry::mmio::MmioWindow;
use registry::Platform;

use super::ItsTyper;
use crate::bits::{read64, write64};
use crate::dma::GicMemory;
use crate::lpi::{INNER_SHAREABLE, WRITE_BACK};
use crate::GicError;

const BASER: usize = 0x100;
const BASERS: usize = 8;
const PAGE: usize = 4096;
/// A flat table with 4 KiB pages: at most 256 pages (the Size field is 8 bits).
const MAX_TABLE_BYTES: usize = 256 * PAGE;
/// DeviceIDs the device table covers at most: 16 bits, a PCI requester ID.
const MAX_DEVICE_BITS: u32 = 16;

/// BASER fields. Type and Entry_Size are read-only and written back as read.
const VALID: u64 = 1 << 63;
const INDIRECT: u64 = 1 << 62;
const TYPE_SHIFT: u32 = 56;
const ENTRY_SIZE_SHIFT: u32 = 48;
const ADDRESS: u64 = 0x0000_ffff_ffff_f000;
const PAGE_SIZE: u64 = 0b11 << 8;
const READ_ONLY: u64 = 0b111 << TYPE_SHIFT | 0x1f << ENTRY_SIZE_SHIFT;
const ATTRIBUTES: u64 = WRITE_BACK << 59 | INNER_SHAREABLE << 10;
/// Table types.
const DEVICES: u64 = 1;
const COLLECTIONS: u64 = 4;

/// The tables given to the ITS, and the DeviceIDs its device table covers.
pub(crate) struct Tables {
    /// The ITS owns this memory while it is enabled; never read by the CPU.
    pub(crate) memory: Vec<GicMemory>,
    pub(crate) device_ids: u32,
}

/// Gives every table the ITS implements its memory (the ITS must be disabled).
pub(crate) fn set_up(regs: &MmioWindow, platform: &'static dyn Platform, typer: &ItsTyper) -> Result<Tables, GicError> {
    let mut tables = Tables { memory: Vec::new(), device_ids: 0 };
    for index in 0..BASERS {
        let offset = BASER + 8 * index;
        let baser = read64(regs, offset)?;
        let entry_bytes = (baser >> ENTRY_SIZE_SHIFT & 0x1f) as usize + 1;
        let (kind, bytes) = match baser >> TYPE_SHIFT & 0b111 {
            DEVICES => {
                let wanted = 1usize << typer.device_bits.min(MAX_DEVICE_BITS);
                let entries = wanted.min(MAX_TABLE_BYTES / entry_bytes);
                tables.device_ids = entries as u32;
                ("device", entries * entry_bytes)
            }
            // Collections below HCC live in the ITS; collection 0 then needs no memory.
            COLLECTIONS if typer.collections_in_its == 0 => ("collection", entry_bytes),
            // Unimplemented (0), vPEs (GICv4, unused here), or collections the ITS holds.
            _ => continue,
        };
        let memory = GicMemory::new(platform, bytes.next_multiple_of(PAGE), PAGE)?;
        let pages = (memory.len() / PAGE) as u64;
        // 4 KiB pages (Page_Size 0), flat (Indirect 0).
        let value = VALID | ATTRIBUTES | baser & READ_ONLY | memory.phys() & ADDRESS | (pages - 1);
        write64(regs, offset, value)?;
        let taken = read64(regs, offset)?;
        if taken & (PAGE_SIZE | INDIRECT) != 0 {
            return Err(GicError::Its(format!("GITS_BASER{index} ({kind} table) does not take flat tables of 4 KiB pages")));
        }
        if taken & ADDRESS != memory.phys() & ADDRESS || taken & VALID == 0 {
            return Err(GicError::Its(format!("GITS_BASER{index} ({kind} table) did not take its table")));
        }
        tables.memory.push(memory);
    }
    if tables.device_ids == 0 {
        return Err(GicError::Its("no GITS_BASER describes a device table".into()));
    }
    Ok(tables)
}
