//! The small device-shared parts of each request in flight: its 16-byte header (read by the
//! device) and its status byte (written by the device), one slot of a single DMA allocation each.

use alloc::vec::Vec;

use registry::{DmaBuffer, Platform, PlatformError};
use virtio::dma::DmaAccess;
use virtio::Buffer;

/// type u32, reserved u32, sector u64.
const HEADER_BYTES: u32 = 16;
/// Header, then the status byte, padded so every header stays 16-byte aligned.
const SLOT_BYTES: usize = 32;
const STATUS_AT: usize = 16;
/// What the status byte holds until the device writes it: no status the spec defines, so a
/// device that completes a request without writing its status is caught.
const STATUS_UNWRITTEN: u8 = 0xff;

pub(crate) struct HeaderSlots {
    memory: DmaBuffer,
    free: Vec<u16>,
}

impl HeaderSlots {
    /// Room for `count` requests in flight.
    pub(crate) fn new(platform: &'static dyn Platform, count: u16) -> Result<Self, PlatformError> {
        let memory = DmaBuffer::new(platform, usize::from(count) * SLOT_BYTES, SLOT_BYTES)?;
        Ok(HeaderSlots { memory, free: (0..count).rev().collect() })
    }

    /// Takes a free slot and writes a request header into it; `None` when all are in use.
    pub(crate) fn take(&mut self, request_type: u32, sector: u64) -> Option<u16> {
        let slot = self.free.pop()?;
        let at = Self::offset(slot);
        self.memory.write_volatile(at, request_type);
        self.memory.write_volatile(at + 4, 0u32);
        self.memory.write_volatile(at + 8, sector);
        self.memory.write_volatile(at + STATUS_AT, STATUS_UNWRITTEN);
        Some(slot)
    }

    /// The slot's header, for the device to read.
    pub(crate) fn header(&self, slot: u16) -> Buffer {
        Buffer::readable(self.memory.phys() + Self::offset(slot) as u64, HEADER_BYTES)
    }

    /// The slot's status byte, for the device to write.
    pub(crate) fn status_byte(&self, slot: u16) -> Buffer {
        Buffer::writable(self.memory.phys() + (Self::offset(slot) + STATUS_AT) as u64, 1)
    }

    /// The status the device wrote (only meaningful once the request came back).
    pub(crate) fn status(&self, slot: u16) -> u8 {
        self.memory.read_volatile(Self::offset(slot) + STATUS_AT)
    }

    pub(crate) fn release(&mut self, slot: u16) {
        self.free.push(slot);
    }

    fn offset(slot: u16) -> usize {
        usize::from(slot) * SLOT_BYTES
    }
}
