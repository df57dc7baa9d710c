//! How the parser reaches physical memory: the kernel's identity map, or a buffer in tests.

use crate::AcpiError;

/// Physical memory the tables live in.
pub trait Memory {
    /// Copies `buf.len()` bytes at physical `address` into `buf`; [`AcpiError::Unreadable`]
    /// for memory the implementation does not reach (the parser follows pointers the firmware
    /// wrote, which may point anywhere).
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<(), AcpiError>;
}

/// Reads little-endian integers out of a table's bytes; the parser checks lengths first.
pub(crate) fn u16_at(bytes: &[u8], offset: usize) -> u16 {
    u16::from_le_bytes([bytes[offset], bytes[offset + 1]])
}

pub(crate) fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes([bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]])
}

pub(crate) fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from(u32_at(bytes, offset)) | u64::from(u32_at(bytes, offset + 4)) << 32
}

/// Whether `bytes` sum to zero (mod 256), as every ACPI checksum demands.
pub(crate) fn sums_to_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b)) == 0
}
