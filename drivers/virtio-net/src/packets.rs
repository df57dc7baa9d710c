//! A virtqueue of packet buffers, the shape both directions share.
//!
//! Every buffer is one fixed-size slot of a single DMA allocation: the `virtio_net_hdr` at the
//! start, the frame at [`FRAME_OFFSET`]. A slot goes to the device as a chain of two descriptors,
//! the header and the frame, each exactly as long as its part: that layout is valid for every
//! device (a legacy device without ANY_LAYOUT requires the header alone in the first
//! descriptor), and with the header descriptor exactly as long as the negotiated header, the
//! frame always starts at the same place whatever the header size. A queue of N descriptors
//! therefore has N/2 slots, all of which can be in flight at once.

use alloc::vec::Vec;

use registry::{DmaBuffer, Platform};
use virtio::dma::DmaAccess;
use virtio::{Buffer, Negotiated, Transport, VirtQueue, VirtioError};

use crate::wire::MAX_HEADER_LEN;

/// Bytes per slot: a power of two, so slots never straddle a page boundary.
const SLOT_SIZE: usize = 2048;
/// Where the frame starts in a slot: after the largest header, 8-byte aligned.
const FRAME_OFFSET: usize = MAX_HEADER_LEN.next_multiple_of(8);
/// The frame part of a slot: what a receive buffer offers the device.
pub(crate) const FRAME_CAPACITY: usize = SLOT_SIZE - FRAME_OFFSET;

/// A slot the device has finished with.
pub(crate) struct UsedSlot {
    pub(crate) slot: u16,
    /// Bytes the device wrote, header included (0 for a transmit buffer).
    pub(crate) len: u32,
}

pub(crate) struct PacketQueue {
    queue: VirtQueue,
    memory: DmaBuffer,
    header_len: usize,
    /// The slot each chain in flight carries, indexed by the chain's token.
    slot_of_token: Vec<Option<u16>>,
}

impl PacketQueue {
    /// Sets up queue `index` with up to `wanted_size` descriptors and memory for its slots.
    pub(crate) fn new(
        transport: &mut dyn Transport,
        platform: &'static dyn Platform,
        negotiated: &Negotiated,
        index: u16,
        wanted_size: u16,
        header_len: usize,
    ) -> Result<Self, VirtioError> {
        let queue = VirtQueue::new(transport, platform, negotiated, index, wanted_size)?;
        if queue.size() < 2 {
            // A slot takes two descriptors; a one-entry queue cannot carry any.
            return Err(VirtioError::QueueNotAvailable(index));
        }
        let slots = usize::from(queue.size() / 2);
        let memory = DmaBuffer::new(platform, slots * SLOT_SIZE, SLOT_SIZE)
            .map_err(|error| VirtioError::Memory { what: "packet buffers", error })?;
        let slot_of_token = virtio::memory::try_filled(usize::from(queue.size()), None, "the slot table")?;
        Ok(PacketQueue { queue, memory, header_len, slot_of_token })
    }

    /// The number of descriptors.
    pub(crate) fn size(&self) -> u16 {
        self.queue.size()
    }

    pub(crate) fn slots(&self) -> u16 {
        self.queue.size() / 2
    }

    pub(crate) fn header_len(&self) -> usize {
        self.header_len
    }

    /// Hands `slot` to the device: with `frame_len` bytes for it to read (transmit), or with the
    /// header and the whole frame area for it to fill (receive). Takes effect at the next
    /// [`notify`](Self::notify).
    pub(crate) fn give(&mut self, slot: u16, frame_len: usize, device_writable: bool) -> Result<(), VirtioError> {
        let start = self.memory.phys() + (usize::from(slot) * SLOT_SIZE) as u64;
        // Both lengths are below SLOT_SIZE, so the casts cannot truncate.
        let (header, frame) = ((start, self.header_len as u32), (start + FRAME_OFFSET as u64, frame_len as u32));
        let chain = [header, frame].map(|(phys, len)| Buffer { phys, len, device_writable });
        let token = self.queue.add(&chain)?;
        self.slot_of_token[usize::from(token)] = Some(slot);
        Ok(())
    }

    pub(crate) fn notify(&mut self, transport: &dyn Transport) -> Result<(), VirtioError> {
        self.queue.notify(transport)
    }

    /// The next slot the device returned. The core has checked the used element (a chain in
    /// flight, a length within its writable part); what the length means is the caller's to check.
    pub(crate) fn pop_used(&mut self) -> Option<Result<UsedSlot, VirtioError>> {
        let used = match self.queue.pop_used()? {
            Ok(used) => used,
            Err(error) => return Some(Err(error)),
        };
        // Every chain in flight was given a slot in `give`, so this always finds one.
        let slot = self.slot_of_token[usize::from(used.token)].take();
        Some(slot.map(|slot| UsedSlot { slot, len: used.len }).ok_or(VirtioError::UsedIdNotInFlight { id: used.token }))
    }

    fn slot_start(slot: u16) -> usize {
        usize::from(slot) * SLOT_SIZE
    }

    /// Writes a header of zeros (no offloads) and `frame` into `slot`, which the device does not own.
    pub(crate) fn write_packet(&self, slot: u16, frame: &[u8]) {
        let start = Self::slot_start(slot);
        self.memory.write_bytes(start, &[0; MAX_HEADER_LEN][..self.header_len]);
        self.memory.write_bytes(start + FRAME_OFFSET, frame);
    }

    /// A header byte of `slot`, which the device has returned.
    pub(crate) fn header_byte(&self, slot: u16, offset: usize) -> u8 {
        self.memory.read_volatile(Self::slot_start(slot) + offset)
    }

    /// Copies the start of the frame in `slot`, which the device has returned, into `out`.
    pub(crate) fn read_frame(&self, slot: u16, out: &mut [u8]) {
        self.memory.read_bytes(Self::slot_start(slot) + FRAME_OFFSET, out);
    }
}
