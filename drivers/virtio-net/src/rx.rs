//! The receive side: every slot is given to the device at start, and each one goes straight
//! back as soon as its frame has been copied out, so the queue stays full.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use virtio::{Transport, VirtioError};

use crate::packets::{PacketQueue, FRAME_CAPACITY};
use crate::wire::{ETHERNET_HEADER_LEN, GSO_NONE, HEADER_GSO_TYPE};
use crate::NetError;

pub(crate) struct RxQueue {
    packets: PacketQueue,
    /// Slots the device has filled, checked, with their frame lengths, oldest first.
    filled: VecDeque<(u16, usize)>,
    /// The last frame received, copied out of its slot.
    frame: Vec<u8>,
}

impl RxQueue {
    /// Gives every slot of `packets` to the device (it sees them once it is live).
    pub(crate) fn new(mut packets: PacketQueue) -> Result<Self, NetError> {
        for slot in 0..packets.slots() {
            packets.give(slot, FRAME_CAPACITY, true)?;
        }
        let frame = virtio::memory::try_filled(FRAME_CAPACITY, 0, "the receive frame buffer")?;
        let mut filled = VecDeque::new();
        filled
            .try_reserve_exact(usize::from(packets.slots()))
            .map_err(|_| VirtioError::OutOfMemory { what: "the receive list", bytes: usize::from(packets.slots()) * 16 })?;
        Ok(RxQueue { packets, filled, frame })
    }

    pub(crate) fn size(&self) -> u16 {
        self.packets.size()
    }

    /// Tells the device about buffers given since the last call.
    pub(crate) fn notify(&mut self, transport: &dyn Transport) -> Result<(), NetError> {
        Ok(self.packets.notify(transport)?)
    }

    /// Takes the next frame the device delivered into [`frame`](Self::frame) and returns its
    /// length, after giving its slot back to the device; `None` when nothing has arrived.
    ///
    /// When no filled slot is waiting, every completion the device has published is collected
    /// and checked before any slot goes back: a slot reported twice in that batch is then not in
    /// flight the second time, and the core refuses it. (Once a slot is back with the device, a
    /// second report of it cannot be told from the device filling it again.)
    pub(crate) fn receive(&mut self, transport: &dyn Transport) -> Result<Option<usize>, NetError> {
        if self.filled.is_empty() {
            self.collect()?;
        }
        let Some((slot, frame_len)) = self.filled.pop_front() else {
            return Ok(None);
        };
        self.packets.read_frame(slot, &mut self.frame[..frame_len]);
        self.packets.give(slot, FRAME_CAPACITY, true)?;
        self.notify(transport)?;
        Ok(Some(frame_len))
    }

    /// Moves every completion the device has published to `filled`, checking each.
    ///
    /// The used length must cover the header and at least an Ethernet header: anything shorter is
    /// a broken device. The header must not claim segmentation, which was never negotiated.
    /// Its `flags` are ignored: the only flag that may be set without checksum offload is
    /// DATA_VALID (Linux's tap sets it regardless), and the stack checks every checksum itself.
    /// `num_buffers` is ignored too: without MRG_RXBUF a frame is always in one buffer, and QEMU
    /// leaves the field unwritten.
    fn collect(&mut self) -> Result<(), NetError> {
        let header_len = self.packets.header_len();
        while let Some(used) = self.packets.pop_used() {
            let used = used?;
            let frame_len = (used.len as usize).checked_sub(header_len).filter(|&len| len >= ETHERNET_HEADER_LEN);
            // The core checked the length against the chain: the frame fits its part of the slot.
            let frame_len = frame_len.ok_or(NetError::ReceivedTooShort { len: used.len, header_len })?;
            let gso_type = self.packets.header_byte(used.slot, HEADER_GSO_TYPE);
            if gso_type != GSO_NONE {
                return Err(NetError::ReceivedSegmentationOffload { gso_type });
            }
            self.filled.push_back((used.slot, frame_len));
        }
        Ok(())
    }

    /// The first `len` bytes of the last frame received.
    pub(crate) fn frame(&self, len: usize) -> &[u8] {
        &self.frame[..len]
    }
}
