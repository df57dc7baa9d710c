//! virtio-drivers' `VirtIOBlk` behind the benchmarks' `QueuedDisk`, through its non-blocking
//! calls (`read_blocks_nb` / `peek_used` / `complete_*`), so it runs the same workloads as our
//! driver where its API allows: its queue has 16 entries, which caps the depth.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use virtio_drivers::device::blk::{BlkReq, BlkResp, RespStatus, VirtIOBlk};
use virtio_drivers::transport::mmio::MmioTransport;

use super::hal::PeerHal;
use crate::shell::bench::disk::{Op, QueuedDisk};

/// The crate takes a request of any size in one descriptor; this is the most the suite asks.
const MAX_REQUEST_BYTES: usize = 1 << 20;

pub struct PeerDisk {
    blk: VirtIOBlk<PeerHal, MmioTransport<'static>>,
    /// Boxed: the device holds their addresses while a request is in flight.
    slots: Vec<Box<Slot>>,
    in_flight: Vec<(u16, usize, Op)>,
}

struct Slot {
    request: BlkReq,
    response: BlkResp,
    data: Vec<u8>,
}

impl PeerDisk {
    pub fn new(blk: VirtIOBlk<PeerHal, MmioTransport<'static>>) -> PeerDisk {
        PeerDisk { blk, slots: Vec::new(), in_flight: Vec::new() }
    }
}

impl QueuedDisk for PeerDisk {
    fn capacity_sectors(&self) -> u64 {
        self.blk.capacity()
    }

    fn max_request_bytes(&self) -> usize {
        MAX_REQUEST_BYTES
    }

    fn max_depth(&self) -> Option<usize> {
        Some(usize::from(self.blk.virt_queue_size()))
    }

    fn prepare(&mut self, depth: usize, bytes: usize) -> Result<(), String> {
        if !self.in_flight.is_empty() {
            return Err(String::from("requests of an earlier run are still in flight"));
        }
        if self.slots.len() != depth || self.slots.iter().any(|slot| slot.data.len() != bytes) {
            let slot = || Box::new(Slot { request: BlkReq::default(), response: BlkResp::default(), data: vec![0; bytes] });
            self.slots = (0..depth).map(|_| slot()).collect();
        }
        Ok(())
    }

    fn start(&mut self, slot: usize, op: Op, sector: u64) -> Result<(), String> {
        if self.in_flight.iter().any(|&(_, busy, _)| busy == slot) {
            return Err(String::from("the slot is in flight"));
        }
        let Slot { request, response, data } = self.slots.get_mut(slot).ok_or("no such slot")?.as_mut();
        let block = usize::try_from(sector).map_err(|_| "sector beyond the address space")?;
        // SAFETY: the slot is boxed and not touched again until its completion is taken in
        // `poll`, with the same buffers; `prepare` never frees slots while requests are in flight.
        let token = unsafe {
            match op {
                Op::Read => self.blk.read_blocks_nb(block, request, data, response),
                Op::Write => self.blk.write_blocks_nb(block, request, data, response),
            }
        }
        .map_err(|e| format!("virtio-drivers: {e}"))?;
        self.in_flight.push((token, slot, op));
        Ok(())
    }

    fn poll(&mut self) -> Result<Option<usize>, String> {
        let Some(token) = self.blk.peek_used() else { return Ok(None) };
        let at = self.in_flight.iter().position(|&(t, _, _)| t == token).ok_or("the device completed an unknown token")?;
        let (_, slot, op) = self.in_flight.swap_remove(at);
        let Slot { request, response, data } = self.slots[slot].as_mut();
        // SAFETY: the same buffers `start` submitted under this token.
        let completed = unsafe {
            match op {
                Op::Read => self.blk.complete_read_blocks(token, request, data, response),
                Op::Write => self.blk.complete_write_blocks(token, request, data, response),
            }
        };
        completed.map_err(|e| format!("virtio-drivers: {e}"))?;
        if response.status() != RespStatus::OK {
            return Err(format!("virtio-drivers: request failed with {:?}", response.status()));
        }
        Ok(Some(slot))
    }

    fn flush(&mut self) -> Result<(), String> {
        self.blk.flush().map_err(|e| format!("virtio-drivers: {e}"))
    }
}
