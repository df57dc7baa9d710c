//! What can be wrong with the tables.

use core::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcpiError {
    /// Memory the tables point to cannot be read (outside what the kernel maps).
    Unreadable { address: u64, len: usize },
    /// No RSDP signature with a valid checksum in the areas searched.
    NoRsdp,
    /// A structure whose bytes do not sum to zero.
    Checksum { what: &'static str, address: u64 },
    /// A length field smaller than the structure's header, or larger than any table may be.
    Length { what: &'static str, address: u64, len: u64 },
    /// A table's signature is not the one its pointer promised.
    Signature { expected: [u8; 4], address: u64 },
    /// An entry of a table runs past the table's end, or claims a length under its header.
    Entry { table: &'static str, offset: usize },
    /// The root table lists more tables than any firmware leaves.
    TooManyTables { what: &'static str, address: u64, count: usize },
    /// The root table lists the table at `address` again (read once, the repeat left out).
    Duplicate { address: u64 },
    /// The listed tables add up to more than `limit` bytes: the load stops there.
    TooMuch { limit: u64 },
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcpiError::Unreadable { address, len } => write!(f, "cannot read {len} bytes at {address:#x}"),
            AcpiError::NoRsdp => f.write_str("no ACPI RSDP (\"RSD PTR \" with a valid checksum) found"),
            AcpiError::Checksum { what, address } => write!(f, "{what} at {address:#x}: bad checksum"),
            AcpiError::Length { what, address, len } => write!(f, "{what} at {address:#x}: impossible length {len}"),
            AcpiError::Signature { expected, address } => {
                write!(f, "table at {address:#x} is not the {} it should be", signature(expected))
            }
            AcpiError::Entry { table, offset } => write!(f, "{table}: malformed entry at offset {offset}"),
            AcpiError::TooManyTables { what, address, count } => {
                write!(f, "{what} at {address:#x} lists {count} tables, more than {}", crate::sdt::MAX_TABLES)
            }
            AcpiError::Duplicate { address } => write!(f, "table at {address:#x} listed again: read once"),
            AcpiError::TooMuch { limit } => write!(f, "the listed tables add up to more than {limit} bytes"),
        }
    }
}

/// A 4-byte signature as text (`APIC`), with anything unprintable as `?`.
pub(crate) fn signature(bytes: &[u8; 4]) -> alloc::string::String {
    bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '?' }).collect()
}
