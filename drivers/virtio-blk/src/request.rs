//! Block requests as a caller hands them to the driver: sector-addressed DMA buffers, the request
//! kinds, and the tokens and completions of the submit / poll interface.

use core::fmt;

use registry::{DmaBuffer, Platform};
use virtio::dma::DmaAccess;

use crate::BlockError;

/// The protocol's unit: sector numbers and data lengths count 512-byte sectors, whatever the
/// device's block size.
pub const SECTOR_SIZE: usize = 512;
/// GET_ID's data: the device ID string, NUL-padded to 20 bytes (no NUL when it is 20 long).
pub const ID_BYTES: usize = 20;

/// Request types (virtio 1.2, 5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

/// Whole sectors of DMA memory, owned by a [`Request`] while the device has it.
pub struct SectorBuffer {
    memory: DmaBuffer,
}

impl SectorBuffer {
    /// Allocates `sectors` zeroed sectors the device can reach.
    pub fn new(platform: &'static dyn Platform, sectors: u32) -> Result<Self, BlockError> {
        let bytes = usize::try_from(sectors).ok().and_then(|s| s.checked_mul(SECTOR_SIZE));
        let bytes = bytes.filter(|&b| b > 0).ok_or(BlockError::NotWholeSectors { bytes: 0 })?;
        let memory = DmaBuffer::new(platform, bytes, SECTOR_SIZE).map_err(BlockError::Dma)?;
        Ok(SectorBuffer { memory })
    }

    /// Wraps DMA memory of whole sectors (the block class's buffers); handed back if it is
    /// not a non-zero whole number of sectors.
    pub fn from_dma(memory: DmaBuffer) -> Result<Self, (BlockError, DmaBuffer)> {
        let bytes = memory.len();
        if bytes == 0 || !bytes.is_multiple_of(SECTOR_SIZE) || u32::try_from(bytes / SECTOR_SIZE).is_err() {
            return Err((BlockError::NotWholeSectors { bytes }, memory));
        }
        Ok(SectorBuffer { memory })
    }

    /// The DMA memory, for the block class's completions.
    pub fn into_dma(self) -> DmaBuffer {
        self.memory
    }

    pub fn sectors(&self) -> u32 {
        (self.memory.len() / SECTOR_SIZE) as u32
    }

    /// Copies `bytes` into the buffer at byte `offset`. Panics if they do not fit, like slice
    /// indexing.
    pub fn write_at(&mut self, offset: usize, bytes: &[u8]) {
        self.memory.write_bytes(offset, bytes);
    }

    /// Copies from byte `offset` of the buffer into `out`. Panics if the range does not fit.
    pub fn read_at(&self, offset: usize, out: &mut [u8]) {
        self.memory.read_bytes(offset, out);
    }

    pub(crate) fn phys(&self) -> u64 {
        self.memory.phys()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.memory.len()
    }
}

impl fmt::Debug for SectorBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SectorBuffer({} sectors at {:#x})", self.sectors(), self.phys())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Read,
    Write,
    Flush,
    /// Fetch the device ID string (VIRTIO_BLK_T_GET_ID).
    GetId,
}

/// One request: what to do, where, and the buffer that carries the data.
#[derive(Debug)]
pub struct Request {
    kind: RequestKind,
    sector: u64,
    buffer: Option<SectorBuffer>,
}

impl Request {
    /// Reads `buffer.sectors()` sectors from `sector` into `buffer`.
    pub fn read(sector: u64, buffer: SectorBuffer) -> Self {
        Request { kind: RequestKind::Read, sector, buffer: Some(buffer) }
    }

    /// Writes `buffer` to the disk from `sector`.
    pub fn write(sector: u64, buffer: SectorBuffer) -> Self {
        Request { kind: RequestKind::Write, sector, buffer: Some(buffer) }
    }

    /// Makes every completed write durable (sector 0, no data, as the spec requires).
    pub fn flush() -> Self {
        Request { kind: RequestKind::Flush, sector: 0, buffer: None }
    }

    /// Fetches the device ID string into the first [`ID_BYTES`] of `buffer`.
    pub fn get_id(buffer: SectorBuffer) -> Self {
        Request { kind: RequestKind::GetId, sector: 0, buffer: Some(buffer) }
    }

    pub fn kind(&self) -> RequestKind {
        self.kind
    }

    pub fn sector(&self) -> u64 {
        self.sector
    }

    pub fn buffer(&self) -> Option<&SectorBuffer> {
        self.buffer.as_ref()
    }

    /// The buffer back. `None` for a flush, and for a request the driver had to abandon with a
    /// device that would not reset: its memory is never freed, since the device may still
    /// write it.
    pub fn into_buffer(self) -> Option<SectorBuffer> {
        self.buffer
    }

    /// Keeps the buffer from ever being freed (see [`into_buffer`](Self::into_buffer)).
    pub(crate) fn abandon_buffer(&mut self) {
        core::mem::forget(self.buffer.take());
    }

    pub(crate) fn type_code(&self) -> u32 {
        match self.kind {
            RequestKind::Read => T_IN,
            RequestKind::Write => T_OUT,
            RequestKind::Flush => T_FLUSH,
            RequestKind::GetId => T_GET_ID,
        }
    }

    /// The data buffer and how many bytes of it the device moves; `None` without data.
    pub(crate) fn data(&self) -> Option<(&SectorBuffer, usize)> {
        let buffer = self.buffer.as_ref()?;
        let len = match self.kind {
            RequestKind::GetId => ID_BYTES,
            _ => buffer.bytes(),
        };
        Some((buffer, len))
    }

    /// Whether the device writes the data (reads) rather than reading it (writes).
    pub(crate) fn device_writes_data(&self) -> bool {
        matches!(self.kind, RequestKind::Read | RequestKind::GetId)
    }
}

/// Names a submitted request until its [`Completion`] comes back. Tokens of requests in flight
/// are distinct; a token is reused once its request completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub(crate) u16);

/// A finished request, handed back with its buffer (which holds the data of a read).
#[derive(Debug)]
pub struct Completion {
    pub token: Token,
    pub request: Request,
    pub result: Result<(), BlockError>,
}
