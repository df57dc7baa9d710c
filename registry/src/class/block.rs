//! The block class: a disk of 512-byte sectors, read and written in whole logical blocks.
//!
//! Two levels, both on `&self` (the driver locks inside):
//! - blocking calls that move a sector range into or out of the caller's buffer
//!   ([`read`](BlockDevice::read), [`write`](BlockDevice::write), [`flush`](BlockDevice::flush),
//!   and the streaming [`read_with`](BlockDevice::read_with) /
//!   [`write_with`](BlockDevice::write_with)): what a file system needs, and what an
//!   `embedded-sdmmc::BlockDevice` adapter sits on (512-byte blocks, ranges of blocks);
//! - a queue of requests on DMA buffers ([`buffer`](BlockDevice::buffer),
//!   [`submit`](BlockDevice::submit), [`poll`](BlockDevice::poll), [`wait`](BlockDevice::wait))
//!   with many in flight, for a block layer or a benchmark.
//!
//! Sector numbers and lengths count 512-byte sectors whatever the block size; a range must
//! start and end on a block boundary ([`BlockInfo::block_sectors`]).

use alloc::string::String;
use alloc::vec;
use core::fmt;

use crate::platform::DmaBuffer;

/// The unit of sector numbers and lengths.
pub const SECTOR_SIZE: usize = 512;

/// What the driver knows about the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    /// In 512-byte sectors.
    pub capacity: u64,
    /// The logical block size in bytes (a power of two, at least 512).
    pub block_size: u32,
    pub read_only: bool,
    /// Whether the disk has a write cache that [`BlockDevice::flush`] makes durable; without
    /// one a completed write is durable and a flush is refused.
    pub flush: bool,
    /// The device's ID string, if it has one.
    pub id: Option<String>,
    /// The most sectors one queued request may carry (whole blocks).
    pub max_request_sectors: u32,
}

impl BlockInfo {
    /// Sectors per logical block.
    pub fn block_sectors(&self) -> u32 {
        (self.block_size / SECTOR_SIZE as u32).max(1)
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity.saturating_mul(SECTOR_SIZE as u64)
    }
}

/// What kind of failure a [`BlockError`] is, for callers that act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockErrorKind {
    ReadOnly,
    FlushNotSupported,
    /// Beyond the last sector.
    OutOfRange,
    /// Not on block boundaries, or not whole sectors.
    Misaligned,
    /// More than one request may carry.
    TooLarge,
    /// The queue has no room now: take completions and submit again.
    QueueFull,
    /// No DMA memory for the buffer.
    NoMemory,
    /// The device failed this request; it stays usable.
    Io,
    /// The device does not do this request.
    Unsupported,
    /// The device broke and refuses everything from now on.
    DeviceFailed,
}

/// A block error: its kind, and the driver's own description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockError {
    pub kind: BlockErrorKind,
    pub message: String,
}

impl BlockError {
    pub fn new(kind: BlockErrorKind, message: impl fmt::Display) -> Self {
        BlockError { kind, message: alloc::format!("{message}") }
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A queued request's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOp {
    Read,
    Write,
}

/// Names a submitted request until its completion comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockToken(pub u64);

/// A finished request, with its buffer (a read's data) back.
pub struct BlockCompletion {
    pub token: BlockToken,
    /// `None` only for a buffer the driver had to abandon to a device that would not reset.
    pub buffer: Option<DmaBuffer>,
    pub result: Result<(), BlockError>,
}

/// A request the driver did not take, its buffer handed back.
pub struct Refused {
    pub error: BlockError,
    pub buffer: Option<DmaBuffer>,
}

/// A buffer as `{len} bytes`, for the Debug forms below.
fn buffer_len(buffer: &Option<DmaBuffer>) -> Option<usize> {
    buffer.as_ref().map(DmaBuffer::len)
}

impl fmt::Debug for BlockCompletion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCompletion")
            .field("token", &self.token)
            .field("buffer_len", &buffer_len(&self.buffer))
            .field("result", &self.result)
            .finish()
    }
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused").field("error", &self.error).field("buffer_len", &buffer_len(&self.buffer)).finish()
    }
}

/// A block device, whatever drives it.
pub trait BlockDevice: Send + Sync {
    fn info(&self) -> BlockInfo;

    /// Why the device was given up on, if it was.
    fn failure(&self) -> Option<BlockError>;

    /// Reads `out.len()` bytes (whole blocks) from sector `start` into `out`.
    fn read(&self, start: u64, out: &mut [u8]) -> Result<(), BlockError>;

    /// Writes `data` (whole blocks) from sector `start`.
    fn write(&self, start: u64, data: &[u8]) -> Result<(), BlockError>;

    /// Makes every completed write durable.
    fn flush(&self) -> Result<(), BlockError>;

    /// Reads `count` sectors from `start` and hands the data to `consume(first_sector, bytes)`
    /// piece by piece, in any order. This default reads one request's worth at a time; a
    /// driver with a queue keeps several in flight.
    fn read_with(&self, start: u64, count: u64, consume: &mut dyn FnMut(u64, &[u8])) -> Result<(), BlockError> {
        let chunk = chunk_sectors(&self.info());
        let mut staging = vec![0; chunk as usize * SECTOR_SIZE];
        let mut sector = start;
        let end = start.checked_add(count).ok_or_else(|| out_of_range(start, count))?;
        while sector < end {
            let sectors = (end - sector).min(chunk);
            let bytes = &mut staging[..sectors as usize * SECTOR_SIZE];
            self.read(sector, bytes)?;
            consume(sector, bytes);
            sector += sectors;
        }
        Ok(())
    }

    /// Writes `count` sectors from `start`; `produce(first_sector, bytes)` fills each piece
    /// (zeroed) before it is written.
    fn write_with(&self, start: u64, count: u64, produce: &mut dyn FnMut(u64, &mut [u8])) -> Result<(), BlockError> {
        let chunk = chunk_sectors(&self.info());
        let mut staging = vec![0; chunk as usize * SECTOR_SIZE];
        let mut sector = start;
        let end = start.checked_add(count).ok_or_else(|| out_of_range(start, count))?;
        while sector < end {
            let sectors = (end - sector).min(chunk);
            let bytes = &mut staging[..sectors as usize * SECTOR_SIZE];
            bytes.fill(0);
            produce(sector, bytes);
            self.write(sector, bytes)?;
            sector += sectors;
        }
        Ok(())
    }

    /// A zeroed DMA buffer of `sectors` sectors for [`submit`](Self::submit).
    fn buffer(&self, sectors: u32) -> Result<DmaBuffer, BlockError>;

    /// Queues `op` on `buffer` (whole blocks) at `sector`; refused with the buffer handed back.
    fn submit(&self, op: BlockOp, sector: u64, buffer: DmaBuffer) -> Result<BlockToken, Refused>;

    /// The next finished request, if there is one; never waits.
    fn poll(&self) -> Option<BlockCompletion>;

    /// The next finished request, waiting for it (asleep until the device's interrupt, where it
    /// has one) up to the driver's timeout; `None` when nothing is in flight.
    fn wait(&self) -> Option<BlockCompletion>;

    /// Rereads the capacity; `Some((old, new))` in sectors when it changed.
    fn refresh_capacity(&self) -> Option<(u64, u64)> {
        None
    }

    /// The most requests the device has had in flight at once.
    fn most_in_flight(&self) -> u32 {
        0
    }
}

/// The default streaming helpers' piece: up to 64 KiB, whole blocks, at most one request.
fn chunk_sectors(info: &BlockInfo) -> u64 {
    let block = u64::from(info.block_sectors());
    let most = u64::from(info.max_request_sectors).min((64 << 10) / SECTOR_SIZE as u64);
    (most - most % block).max(block)
}

fn out_of_range(start: u64, count: u64) -> BlockError {
    BlockError::new(BlockErrorKind::OutOfRange, alloc::format!("{count} sectors from {start} overflow"))
}

/// `bytes` in binary units, e.g. `64 MiB` or `1.5 GiB` (one decimal, truncated, when inexact).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let power = (bytes.max(1).ilog2() / 10) as usize;
    let unit = 1u64 << (10 * power);
    let (whole, rest) = (bytes / unit, bytes % unit);
    if rest == 0 {
        alloc::format!("{whole} {}", UNITS[power])
    } else {
        let tenths = (u128::from(rest) * 10 / u128::from(unit)) as u64;
        alloc::format!("{whole}.{tenths} {}", UNITS[power])
    }
}
