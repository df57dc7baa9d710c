//! What the driver knows about a disk, and how it is shown to people.

use alloc::format;
use alloc::string::String;
use core::fmt::Write;

use crate::{BlockError, ID_BYTES, SECTOR_SIZE};

/// A disk's facts, read from its configuration (and GET_ID) when the driver bound it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// In 512-byte sectors, the protocol's unit whatever the block size.
    pub capacity: u64,
    /// The logical block size in bytes: 512 unless the device offers VIRTIO_BLK_F_BLK_SIZE.
    /// Requests start and end on block boundaries.
    pub block_size: u32,
    pub read_only: bool,
    /// Whether the device has a write cache that flushes make durable (VIRTIO_BLK_F_FLUSH).
    pub flush: bool,
    /// The device ID string (GET_ID), when the device has a non-empty one.
    pub id: Option<String>,
    /// The largest segment of a request, when the device limits it (VIRTIO_BLK_F_SIZE_MAX).
    pub size_max: Option<u32>,
    /// The most data segments of a request, when the device limits it (VIRTIO_BLK_F_SEG_MAX).
    pub seg_max: Option<u32>,
    /// The most sectors one request carries: the device's limits and the driver's own, in
    /// whole blocks.
    pub max_request_sectors: u32,
}

impl DiskInfo {
    /// Sectors per block.
    pub fn block_sectors(&self) -> u32 {
        self.block_size / SECTOR_SIZE as u32
    }

    /// The capacity in bytes (the driver refuses devices where this overflows).
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity * SECTOR_SIZE as u64
    }

    /// The capacity as `lsdev` shows it: `65536 sectors (32 MiB)`.
    pub fn capacity_label(&self) -> String {
        format!("{} sectors ({})", self.capacity, human_size(self.capacity_bytes()))
    }

    /// Whether `sectors` from `sector` lie on the disk, in whole blocks.
    pub(crate) fn check_extent(&self, sector: u64, sectors: u64) -> Result<(), BlockError> {
        let capacity = self.capacity;
        if sector.checked_add(sectors).is_none_or(|end| end > capacity) {
            return Err(BlockError::OutOfRange { sector, sectors, capacity });
        }
        let block_sectors = self.block_sectors();
        if !sector.is_multiple_of(block_sectors.into()) || !sectors.is_multiple_of(block_sectors.into()) {
            return Err(BlockError::Misaligned { sector, sectors, block_sectors });
        }
        Ok(())
    }
}

/// `bytes` in binary units, e.g. `64 MiB` or `1.5 GiB`: the block class's, which every disk
/// driver shares.
pub use registry::class::block::human_size;

/// The ID string from GET_ID's 20 bytes: up to the first NUL, trailing blanks dropped, anything
/// but printable ASCII escaped as `\xNN` (the device promises ASCII but is not trusted);
/// `None` when nothing is left.
pub(crate) fn decode_id(raw: &[u8; ID_BYTES]) -> Option<String> {
    let len = raw.iter().position(|&b| b == 0).unwrap_or(ID_BYTES);
    let trimmed = raw[..len].trim_ascii_end();
    let mut id = String::new();
    for &byte in trimmed {
        if byte.is_ascii_graphic() || byte == b' ' {
            id.push(char::from(byte));
        } else {
            let _ = write!(id, "\\x{byte:02x}");
        }
    }
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(3 << 29), "1.5 GiB");
        assert_eq!(human_size((1 << 30) + 1), "1.0 GiB");
        assert_eq!(human_size(u64::MAX), "15.9 EiB");
    }

    #[test]
    fn ids_stop_at_nul_and_escape_what_is_not_printable() {
        let id = |s: &[u8]| {
            let mut raw = [0; ID_BYTES];
            raw[..s.len()].copy_from_slice(s);
            decode_id(&raw)
        };
        assert_eq!(id(b"disk-a"), Some("disk-a".into()));
        assert_eq!(id(b"twenty-bytes-exactly"), Some("twenty-bytes-exactly".into()), "no NUL at 20 bytes");
        assert_eq!(id(b"a\0junk after nul"), Some("a".into()));
        assert_eq!(id(b"serial   "), Some("serial".into()));
        assert_eq!(id(b"\x01\xffok"), Some("\\x01\\xffok".into()));
        assert_eq!(id(b""), None, "QEMU without serial= answers an empty string");
        assert_eq!(id(b"   "), None);
    }
}
