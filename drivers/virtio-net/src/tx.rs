//! The transmit side: frames are built in a staging buffer, copied into a free slot and given
//! to the device; slots come back to the free list when the device reports them used.

use alloc::vec::Vec;

use virtio::{Transport, VirtioError};

use crate::packets::PacketQueue;
use crate::wire::{ETHERNET_HEADER_LEN, MAX_FRAME_LEN};
use crate::NetError;

pub(crate) struct TxQueue {
    packets: PacketQueue,
    /// Slots the device does not own.
    free: Vec<u16>,
    /// Where the next frame is built before it is copied into its slot.
    staging: Vec<u8>,
}

impl TxQueue {
    pub(crate) fn new(packets: PacketQueue) -> Result<Self, VirtioError> {
        let mut free = virtio::memory::try_with_capacity(usize::from(packets.slots()), "the transmit slot list")?;
        free.extend((0..packets.slots()).rev());
        let staging = virtio::memory::try_with_capacity(MAX_FRAME_LEN, "the transmit staging buffer")?;
        Ok(TxQueue { packets, free, staging })
    }

    pub(crate) fn size(&self) -> u16 {
        self.packets.size()
    }

    /// Returns the slots of every frame the device has sent to the free list.
    pub(crate) fn reclaim(&mut self) -> Result<(), NetError> {
        while let Some(used) = self.packets.pop_used() {
            // The core refuses a used length above the chain's writable bytes, which are none.
            self.free.push(used?.slot);
        }
        Ok(())
    }

    /// True when a frame can be sent now (after [`reclaim`](Self::reclaim)).
    pub(crate) fn has_free_slot(&self) -> bool {
        !self.free.is_empty()
    }

    /// The staging buffer, `len` bytes long, for the next frame; [`send_staged`](Self::send_staged) sends it.
    pub(crate) fn stage(&mut self, len: usize) -> &mut [u8] {
        self.staging.clear();
        self.staging.resize(len, 0);
        &mut self.staging
    }

    /// Sends the staged frame in a free slot.
    pub(crate) fn send_staged(&mut self, transport: &dyn Transport) -> Result<(), NetError> {
        let len = self.staging.len();
        if !(ETHERNET_HEADER_LEN..=MAX_FRAME_LEN).contains(&len) {
            return Err(NetError::FrameLength { len });
        }
        let slot = self.free.pop().ok_or(NetError::NoTransmitBuffer)?;
        self.packets.write_packet(slot, &self.staging);
        if let Err(error) = self.packets.give(slot, len, false) {
            self.free.push(slot);
            return Err(error.into());
        }
        Ok(self.packets.notify(transport)?)
    }
}
