//! System description tables (ACPI 6.5, 5.2.6): a 36-byte header (signature, length, checksum)
//! then the body; the RSDT or XSDT lists the others by address.

use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

use crate::error::signature;
use crate::memory::{sums_to_zero, u32_at, u64_at};
use crate::{AcpiError, Memory, Rsdp};

pub(crate) const HEADER_LEN: usize = 36;
/// No static table of a PC comes near this; a larger length is a broken (or hostile) table.
const MAX_TABLE_LEN: u64 = 1 << 20;
/// Firmware lists a few dozen tables (large servers: a few hundred SSDTs); a root table
/// listing more is broken or hostile.
pub(crate) const MAX_TABLES: usize = 1024;
/// What [`Tables::load`] may read in all (headers and whole tables). The bounds above still
/// allow 1024 tables of 1 MiB; a PC's static tables add up to well under 1 MiB.
const MAX_TOTAL_BYTES: u64 = 16 << 20;

/// A table the RSDT/XSDT lists, its header checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableHeader {
    pub signature: [u8; 4],
    pub address: u64,
    pub len: u32,
    pub revision: u8,
}

/// Every table the root table lists whose header and checksum are sound, and what was wrong
/// with the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tables {
    pub tables: Vec<TableHeader>,
    /// Tables the root table lists that were left out, and why.
    pub broken: Vec<AcpiError>,
}

impl Tables {
    /// Reads the XSDT (revision 2 with one) or the RSDT `rsdp` points to, and checks each
    /// table it lists. A broken root table is an error; a broken listed table is left out
    /// (and recorded in `broken`). The work is bounded whatever the tables say: at most
    /// [`MAX_TABLES`] listed (more is an error), each address read once (a repeat is left
    /// out), and 16 MiB read in all (past that the load is an error), so a root table listing
    /// one large table 100,000 times costs one read of it, not 100 GiB.
    pub fn load(memory: &dyn Memory, rsdp: &Rsdp) -> Result<Tables, AcpiError> {
        let (root, expected, width) = match rsdp.xsdt {
            0 => (u64::from(rsdp.rsdt), *b"RSDT", 4),
            xsdt => (xsdt, *b"XSDT", 8),
        };
        let mut budget = Budget { memory, left: MAX_TOTAL_BYTES };
        budget.charge(HEADER_LEN)?;
        let bytes = read_table(&budget, root, Some(expected))?;
        budget.charge(bytes.len())?;
        let count = (bytes.len() - HEADER_LEN) / width;
        if count > MAX_TABLES {
            return Err(AcpiError::TooManyTables { what: table_name(&bytes), address: root, count });
        }
        let mut tables = Tables::default();
        let mut seen = BTreeSet::new();
        for entry in bytes[HEADER_LEN..].chunks_exact(width) {
            let address = if width == 8 { u64_at(entry, 0) } else { u64::from(u32_at(entry, 0)) };
            if !seen.insert(address) {
                tables.broken.push(AcpiError::Duplicate { address });
                continue;
            }
            budget.charge(HEADER_LEN)?;
            match read_table(&budget, address, None) {
                Ok(table) => {
                    budget.charge(table.len())?;
                    tables.tables.push(header(&table, address));
                }
                Err(error @ AcpiError::TooMuch { .. }) => return Err(error),
                Err(error) => tables.broken.push(error),
            }
        }
        Ok(tables)
    }

    /// The first table with `signature` (`b"APIC"`), read whole.
    pub fn read(&self, memory: &dyn Memory, signature: &[u8; 4]) -> Result<Option<Vec<u8>>, AcpiError> {
        match self.tables.iter().find(|t| &t.signature == signature) {
            Some(table) => read_table(memory, table.address, Some(*signature)).map(Some),
            None => Ok(None),
        }
    }
}

/// [`Memory`] that refuses whole-table reads once `left` bytes have been read through it.
struct Budget<'a> {
    memory: &'a dyn Memory,
    left: u64,
}

impl Budget<'_> {
    /// Counts `len` bytes read; an error once the budget is spent.
    fn charge(&mut self, len: usize) -> Result<(), AcpiError> {
        self.left = self.left.checked_sub(len as u64).ok_or(AcpiError::TooMuch { limit: MAX_TOTAL_BYTES })?;
        Ok(())
    }
}

impl Memory for Budget<'_> {
    /// A read larger than what is left is refused before it is made: a table's length is
    /// only known from its header, so the check comes between the two reads.
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<(), AcpiError> {
        if buf.len() as u64 > self.left {
            return Err(AcpiError::TooMuch { limit: MAX_TOTAL_BYTES });
        }
        self.memory.read(address, buf)
    }
}

fn header(bytes: &[u8], address: u64) -> TableHeader {
    TableHeader { signature: [bytes[0], bytes[1], bytes[2], bytes[3]], address, len: u32_at(bytes, 4), revision: bytes[8] }
}

/// The table at `address`: its length bounded, its checksum verified, its signature the
/// `expected` one if given.
pub(crate) fn read_table(memory: &dyn Memory, address: u64, expected: Option<[u8; 4]>) -> Result<Vec<u8>, AcpiError> {
    let mut head = [0u8; HEADER_LEN];
    memory.read(address, &mut head)?;
    if let Some(expected) = expected.filter(|e| head[..4] != e[..]) {
        return Err(AcpiError::Signature { expected, address });
    }
    let what = table_name(&head);
    let len = u64::from(u32_at(&head, 4));
    if !(HEADER_LEN as u64..=MAX_TABLE_LEN).contains(&len) {
        return Err(AcpiError::Length { what, address, len });
    }
    let mut bytes = vec![0u8; len as usize];
    memory.read(address, &mut bytes)?;
    if !sums_to_zero(&bytes) {
        return Err(AcpiError::Checksum { what, address });
    }
    Ok(bytes)
}

/// The table's name for errors: the signatures this crate knows, else "table".
fn table_name(head: &[u8]) -> &'static str {
    match &head[..4] {
        b"RSDT" => "RSDT",
        b"XSDT" => "XSDT",
        b"APIC" => "MADT",
        b"MCFG" => "MCFG",
        _ => "table",
    }
}

impl TableHeader {
    /// The signature as text.
    pub fn name(&self) -> alloc::string::String {
        signature(&self.signature)
    }
}
