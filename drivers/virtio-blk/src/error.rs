//! What can go wrong with a block request or with the device behind it.

use core::fmt;

use registry::PlatformError;
use virtio::VirtioError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockError {
    // Refused before anything reached the device.
    /// A write to a device that offers VIRTIO_BLK_F_RO.
    ReadOnly,
    /// A flush to a device without VIRTIO_BLK_F_FLUSH: it has no write cache to flush.
    FlushNotSupported,
    /// The request reaches beyond the last sector.
    OutOfRange { sector: u64, sectors: u64, capacity: u64 },
    /// The request does not start and end on a block boundary of a device whose blocks are
    /// larger than a sector.
    Misaligned { sector: u64, sectors: u64, block_sectors: u32 },
    /// More sectors than one request may carry on this device.
    TooLarge { sectors: u32, max: u32 },
    /// A buffer of no sectors, or host data that is not a whole number of sectors.
    NotWholeSectors { bytes: usize },
    /// The queue has no room now; poll for completions and submit again.
    QueueFull,
    Dma(PlatformError),
    /// Memory the driver needs for a request (a staging buffer, a descriptor list) could not
    /// be had; nothing reached the device.
    OutOfMemory { what: &'static str, bytes: usize },

    // The device's answer to one request; the device stays usable.
    /// VIRTIO_BLK_S_IOERR.
    IoError,
    /// VIRTIO_BLK_S_UNSUPP.
    Unsupported,

    // The device is broken: it was marked FAILED and refuses every request with this error.
    /// A transport or ring violation, or a request that did not complete in time.
    Virtio(VirtioError),
    /// A status byte other than OK, IOERR and UNSUPP.
    InvalidStatus(u8),
    /// A successful read whose used length does not cover its data and status byte.
    ShortRead { len: u32, expected: u32 },
    /// A capacity whose size in bytes does not fit 64 bits.
    CapacityTooLarge(u64),
    /// A block size that is not a power of two between 512 bytes and 64 KiB.
    InvalidBlockSize(u32),
    /// `size_max` and `seg_max` leave no room for a request of one block.
    LimitsTooSmall { size_max: u32, seg_max: u32, block_size: u32 },
    /// A request queue too small for a header, data and status chain.
    QueueTooSmall(u16),
}

impl BlockError {
    /// Whether the device broke (as opposed to refusing or failing one request).
    pub fn is_device_failure(&self) -> bool {
        matches!(
            self,
            BlockError::Virtio(_)
                | BlockError::InvalidStatus(_)
                | BlockError::ShortRead { .. }
                | BlockError::CapacityTooLarge(_)
                | BlockError::InvalidBlockSize(_)
                | BlockError::LimitsTooSmall { .. }
                | BlockError::QueueTooSmall(_)
        )
    }
}

impl From<VirtioError> for BlockError {
    fn from(error: VirtioError) -> Self {
        BlockError::Virtio(error)
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::ReadOnly => write!(f, "the disk is read-only"),
            BlockError::FlushNotSupported => write!(f, "the device has no write cache to flush"),
            BlockError::OutOfRange { sector, sectors, capacity } => {
                write!(f, "{sectors} sectors from sector {sector} reach beyond the disk's {capacity} sectors")
            }
            BlockError::Misaligned { sector, sectors, block_sectors } => write!(
                f,
                "{sectors} sectors from sector {sector} are not whole blocks of {block_sectors} sectors"
            ),
            BlockError::TooLarge { sectors, max } => {
                write!(f, "a request of {sectors} sectors exceeds the device's {max}")
            }
            BlockError::NotWholeSectors { bytes } => write!(f, "{bytes} bytes are not a whole number of sectors"),
            BlockError::QueueFull => write!(f, "the request queue is full"),
            BlockError::Dma(error) => write!(f, "request memory: {error}"),
            BlockError::OutOfMemory { what, bytes } => write!(f, "out of memory for {what} ({bytes} bytes)"),
            BlockError::IoError => write!(f, "the device reported an I/O error"),
            BlockError::Unsupported => write!(f, "the device does not support the request"),
            BlockError::Virtio(error) => write!(f, "{error}"),
            BlockError::InvalidStatus(status) => write!(f, "device returned invalid request status {status}"),
            BlockError::ShortRead { len, expected } => {
                write!(f, "device completed a read with {len} bytes written, {expected} expected")
            }
            BlockError::CapacityTooLarge(sectors) => {
                write!(f, "device claims a capacity of {sectors} sectors, beyond 64-bit byte sizes")
            }
            BlockError::InvalidBlockSize(size) => {
                write!(f, "device claims block size {size}, not a power of two from 512 to 65536")
            }
            BlockError::LimitsTooSmall { size_max, seg_max, block_size } => write!(
                f,
                "device limits (size_max {size_max}, seg_max {seg_max}) leave no room for one {block_size}-byte block"
            ),
            BlockError::QueueTooSmall(size) => {
                write!(f, "request queue of {size} entries cannot hold header, data and status")
            }
        }
    }
}
