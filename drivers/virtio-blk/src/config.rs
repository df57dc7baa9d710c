//! The block device's feature bits and configuration space (virtio 1.2, 5.2.3-5.2.5), read
//! and checked into a [`DiskInfo`].

use virtio::{Negotiated, Transport};

use crate::{BlockError, DiskInfo, SECTOR_SIZE};

pub(crate) const F_SIZE_MAX: u64 = 1 << 1;
pub(crate) const F_SEG_MAX: u64 = 1 << 2;
pub(crate) const F_RO: u64 = 1 << 5;
pub(crate) const F_BLK_SIZE: u64 = 1 << 6;
pub(crate) const F_FLUSH: u64 = 1 << 9;
/// Every device feature the driver uses. RO is accepted as the spec asks; FLUSH only because
/// the driver does send flushes.
pub(crate) const WANTED_FEATURES: u64 = F_SIZE_MAX | F_SEG_MAX | F_RO | F_BLK_SIZE | F_FLUSH;

// Field offsets in struct virtio_blk_config.
const CAPACITY: usize = 0;
const SIZE_MAX: usize = 8;
const SEG_MAX: usize = 12;
const BLK_SIZE: usize = 20;

/// The largest logical block accepted (Linux takes up to its page size; 64 KiB covers every
/// page size and real disk).
const MAX_BLOCK_SIZE: u32 = 64 << 10;
/// The most data one request carries (the device's segment limits may allow less). The
/// caller's buffer holds it, so this bounds the DMA memory one request can pin; the blocking
/// helpers use smaller requests of their own (`blocking.rs`).
const MAX_REQUEST_BYTES: u64 = 1 << 20;
/// Descriptors of a request besides its data: header and status byte.
const NON_DATA_DESCRIPTORS: u16 = 2;

/// The configuration fields as the device reports them, for the features negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RawConfig {
    capacity: u64,
    size_max: Option<u32>,
    seg_max: Option<u32>,
    blk_size: Option<u32>,
}

/// Reads the configuration as one consistent snapshot and checks it; `queue_size` is the
/// request queue's, which bounds the segments of a request too.
pub(crate) fn read_info(transport: &dyn Transport, negotiated: Negotiated, queue_size: u16) -> Result<DiskInfo, BlockError> {
    // Optional fields exist only with their feature (a legacy or small config space may end
    // before them).
    let optional = |t: &dyn Transport, feature: u64, offset: usize| {
        if negotiated.has(feature) { t.read_config_u32(offset).map(Some) } else { Ok(None) }
    };
    let raw = transport.read_config_consistent(|t| {
        Ok(RawConfig {
            capacity: t.read_config_u64(CAPACITY)?,
            size_max: optional(t, F_SIZE_MAX, SIZE_MAX)?,
            seg_max: optional(t, F_SEG_MAX, SEG_MAX)?,
            blk_size: optional(t, F_BLK_SIZE, BLK_SIZE)?,
        })
    })?;
    check(raw, negotiated, queue_size)
}

/// The capacity alone, as a changed configuration reports it, checked like at bring-up.
pub(crate) fn read_capacity(transport: &dyn Transport) -> Result<u64, BlockError> {
    let capacity = transport.read_config_u64(CAPACITY)?;
    match capacity.checked_mul(SECTOR_SIZE as u64) {
        Some(_) => Ok(capacity),
        None => Err(BlockError::CapacityTooLarge(capacity)),
    }
}

fn check(raw: RawConfig, negotiated: Negotiated, queue_size: u16) -> Result<DiskInfo, BlockError> {
    if raw.capacity.checked_mul(SECTOR_SIZE as u64).is_none() {
        return Err(BlockError::CapacityTooLarge(raw.capacity));
    }
    let block_size = raw.blk_size.unwrap_or(SECTOR_SIZE as u32);
    if !block_size.is_power_of_two() || !(SECTOR_SIZE as u32..=MAX_BLOCK_SIZE).contains(&block_size) {
        return Err(BlockError::InvalidBlockSize(block_size));
    }
    if queue_size <= NON_DATA_DESCRIPTORS {
        return Err(BlockError::QueueTooSmall(queue_size));
    }
    // A request's data is split into segments of at most size_max bytes, at most seg_max of them
    // (and no more than the queue has descriptors for).
    let segments = raw.seg_max.unwrap_or(u32::MAX).min(u32::from(queue_size - NON_DATA_DESCRIPTORS));
    let segment_bytes = raw.size_max.unwrap_or(u32::MAX);
    let request_bytes = (u64::from(segments) * u64::from(segment_bytes)).min(MAX_REQUEST_BYTES);
    let request_bytes = request_bytes - request_bytes % u64::from(block_size);
    if request_bytes == 0 {
        let (size_max, seg_max) = (raw.size_max.unwrap_or(u32::MAX), raw.seg_max.unwrap_or(u32::MAX));
        return Err(BlockError::LimitsTooSmall { size_max, seg_max, block_size });
    }
    Ok(DiskInfo {
        capacity: raw.capacity,
        block_size,
        read_only: negotiated.has(F_RO),
        flush: negotiated.has(F_FLUSH),
        id: None,
        size_max: raw.size_max,
        seg_max: raw.seg_max,
        max_request_sectors: (request_bytes / SECTOR_SIZE as u64) as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: RawConfig = RawConfig { capacity: 2048, size_max: None, seg_max: None, blk_size: None };

    fn negotiated(features: u64) -> Negotiated {
        Negotiated { features }
    }

    #[test]
    fn a_plain_disk_has_512_byte_blocks_and_the_driver_request_limit() {
        let info = check(PLAIN, negotiated(F_FLUSH), 256).unwrap();
        assert_eq!((info.capacity, info.block_size, info.block_sectors()), (2048, 512, 1));
        assert_eq!(info.max_request_sectors, 2048, "1 MiB");
        assert!(info.flush && !info.read_only);
        assert_eq!(info.capacity_bytes(), 1 << 20);
    }

    #[test]
    fn segment_limits_and_the_queue_bound_the_request_size_in_whole_blocks() {
        let limited = RawConfig { size_max: Some(4096), seg_max: Some(3), ..PLAIN };
        assert_eq!(check(limited, negotiated(0), 256).unwrap().max_request_sectors, 24);
        // Eight descriptors leave six for data; 1000-byte segments make 6000 bytes, 11 sectors.
        let odd = RawConfig { size_max: Some(1000), ..PLAIN };
        assert_eq!(check(odd, negotiated(0), 8).unwrap().max_request_sectors, 11);
        let blocks = RawConfig { size_max: Some(1000), blk_size: Some(4096), ..PLAIN };
        assert_eq!(check(blocks, negotiated(0), 8).unwrap().max_request_sectors, 8, "one whole 4 KiB block");
    }

    #[test]
    fn nonsense_configurations_are_errors() {
        for blk_size in [0, 256, 1000, 3 << 9, 128 << 10, u32::MAX] {
            let raw = RawConfig { blk_size: Some(blk_size), ..PLAIN };
            assert_eq!(check(raw, negotiated(0), 256), Err(BlockError::InvalidBlockSize(blk_size)));
        }
        let huge = RawConfig { capacity: u64::MAX / 256, ..PLAIN };
        assert_eq!(check(huge, negotiated(0), 256), Err(BlockError::CapacityTooLarge(u64::MAX / 256)));
        let no_segments = RawConfig { seg_max: Some(0), ..PLAIN };
        let expected = BlockError::LimitsTooSmall { size_max: u32::MAX, seg_max: 0, block_size: 512 };
        assert_eq!(check(no_segments, negotiated(0), 256), Err(expected));
        let tiny_segments = RawConfig { size_max: Some(100), seg_max: Some(4), ..PLAIN };
        assert!(matches!(check(tiny_segments, negotiated(0), 256), Err(BlockError::LimitsTooSmall { .. })));
        assert_eq!(check(PLAIN, negotiated(0), 2), Err(BlockError::QueueTooSmall(2)));
    }
}
