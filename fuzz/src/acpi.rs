//! ACPI tables in a memory image built from the fuzzer's bytes, parsed as the kernel parses a
//! PC's firmware tables: RSDP, RSDT or XSDT, MADT, MCFG.
//!
//! Checksums would stop almost every mutation at the first table, so the image is laid out
//! from chunks and, when the first byte asks for it, the harness links and checksums them as
//! firmware would: the RSDP points at the root table, the root table at the others. The
//! parser then sees well-formed framing around hostile contents; without the flags it sees
//! the raw bytes.

use std::collections::BTreeMap;

use acpi_tables::{find_rsdp, AcpiError, Memory, Rsdp, Tables};

use crate::Bytes;

/// Where the harness puts the RSDP: in the BIOS area [`find_rsdp`] searches.
pub const RSDP_AT: u64 = 0xe_8000;
/// Where the root table goes, and the others after it, one per [`TABLE_STRIDE`].
pub const TABLES_AT: u64 = 0x10_0000;
pub const TABLE_STRIDE: u64 = 0x1_0000;

/// Fix the checksums (RSDP and every table's header byte 9).
pub const FIX_CHECKSUMS: u8 = 1;
/// Point the RSDP at the root table and the root table's entries at the tables.
pub const LINK: u8 = 2;
/// Search for the RSDP as the kernel does without a boot loader's pointer (slower).
pub const SEARCH: u8 = 4;
/// Link through the XSDT (8-byte entries, RSDP revision 2) rather than the RSDT.
pub const XSDT: u8 = 8;

/// Physical memory as regions of bytes; anything else is unreadable.
#[derive(Default)]
pub struct Image(BTreeMap<u64, Vec<u8>>);

impl Memory for Image {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<(), AcpiError> {
        let unreadable = AcpiError::Unreadable { address, len: buf.len() };
        let (&start, bytes) = self.0.range(..=address).next_back().ok_or(unreadable.clone())?;
        let from = usize::try_from(address - start).map_err(|_| unreadable.clone())?;
        let source = from.checked_add(buf.len()).and_then(|end| bytes.get(from..end)).ok_or(unreadable)?;
        buf.copy_from_slice(source);
        Ok(())
    }
}

/// Makes `bytes` sum to zero (mod 256) through the byte at `at`.
fn fix_checksum(bytes: &mut [u8], at: usize) {
    if at >= bytes.len() {
        return;
    }
    bytes[at] = 0;
    let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    bytes[at] = 0u8.wrapping_sub(sum);
}

/// The memory image for `data`: flags, then the RSDP, the root table and the other tables, each
/// a length-prefixed chunk.
pub fn image(data: &[u8]) -> (Image, u8) {
    let mut input = Bytes::new(data);
    let flags = input.u8();
    let mut rsdp = input.chunk().to_vec();
    let mut tables: Vec<Vec<u8>> = Vec::new();
    while !input.is_empty() && tables.len() < 16 {
        tables.push(input.chunk().to_vec());
    }
    let xsdt = flags & XSDT != 0;
    if flags & LINK != 0 {
        rsdp.resize(rsdp.len().max(if xsdt { 36 } else { 20 }), 0);
        rsdp[..8].copy_from_slice(b"RSD PTR ");
        rsdp[16..20].copy_from_slice(&(TABLES_AT as u32).to_le_bytes());
        if xsdt {
            rsdp[15] = rsdp[15].max(2);
            let len = rsdp.len() as u32;
            rsdp[20..24].copy_from_slice(&len.to_le_bytes());
            rsdp[24..32].copy_from_slice(&TABLES_AT.to_le_bytes());
        } else {
            rsdp[15] = 0;
        }
        let addresses: Vec<u64> = (1..tables.len() as u64).map(|i| TABLES_AT + i * TABLE_STRIDE).collect();
        if let Some(root) = tables.first_mut() {
            root.resize(root.len().max(36), 0);
            root.truncate(36);
            root[..4].copy_from_slice(if xsdt { b"XSDT" } else { b"RSDT" });
            for address in addresses {
                match xsdt {
                    true => root.extend(address.to_le_bytes()),
                    false => root.extend((address as u32).to_le_bytes()),
                }
            }
            let len = root.len() as u32;
            root[4..8].copy_from_slice(&len.to_le_bytes());
        }
    }
    if flags & FIX_CHECKSUMS != 0 {
        if rsdp.len() >= 20 {
            fix_checksum(&mut rsdp[..20], 8);
        }
        if rsdp.len() >= 36 {
            let len = u32::from_le_bytes([rsdp[20], rsdp[21], rsdp[22], rsdp[23]]) as usize;
            let covered = len.min(rsdp.len());
            fix_checksum(&mut rsdp[..covered], 32);
        }
        for table in &mut tables {
            if table.len() >= 36 {
                let len = u32::from_le_bytes([table[4], table[5], table[6], table[7]]) as usize;
                let covered = len.min(table.len());
                fix_checksum(&mut table[..covered], 9);
            }
        }
    }
    let mut image = Image::default();
    image.0.insert(RSDP_AT, rsdp);
    for (i, table) in tables.into_iter().enumerate() {
        image.0.insert(TABLES_AT + i as u64 * TABLE_STRIDE, table);
    }
    (image, flags)
}

/// Everything the kernel asks of the tables; errors are fine, panics are not.
pub fn run(data: &[u8]) {
    let (image, flags) = image(data);
    let rsdp = match flags & SEARCH != 0 {
        true => find_rsdp(&image),
        false => Rsdp::read(&image, RSDP_AT),
    };
    let Ok(rsdp) = rsdp else { return };
    let Ok(tables) = Tables::load(&image, &rsdp) else { return };
    for table in &tables.tables {
        let _ = table.name();
        let _ = tables.read(&image, &table.signature);
    }
    for error in &tables.broken {
        let _ = error.to_string();
    }
    match tables.madt(&image) {
        Ok(Some(madt)) => {
            for irq in 0..=255 {
                let _ = madt.isa_irq(irq);
            }
        }
        Ok(None) => {}
        Err(error) => {
            let _ = error.to_string();
        }
    }
    match tables.ecam_windows(&image) {
        Ok(windows) => {
            for window in windows {
                let _ = window.first_bus_address();
            }
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds (fuzz/seeds/acpi/, made by make_acpi_seeds.py) reach the MADT and MCFG: the
    /// fuzzer starts from tables the parser accepts whole.
    #[test]
    fn the_seeds_parse_whole() {
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/acpi");
        let mut count = 0;
        for entry in std::fs::read_dir(seeds).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            let (image, flags) = image(&data);
            let rsdp = if flags & SEARCH != 0 { find_rsdp(&image) } else { Rsdp::read(&image, RSDP_AT) }.unwrap();
            let tables = Tables::load(&image, &rsdp).unwrap();
            assert!(tables.broken.is_empty(), "{:?}", tables.broken);
            assert!(!tables.madt(&image).unwrap().unwrap().io_apics.is_empty());
            assert!(!tables.ecam_windows(&image).unwrap().is_empty());
            count += 1;
        }
        assert_eq!(count, 3);
    }
}
