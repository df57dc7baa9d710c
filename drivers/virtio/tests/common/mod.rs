//! Shared by the integration tests: a block device over the simulator, and block requests
//! built in DMA memory.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod test_blk;

use registry::DmaBuffer;
use virtio::dma::DmaAccess;
use virtio::sim::{BlockModel, Interface, SimDevice, SimPlatform, SimTransport};
use virtio::features::RING_EVENT_IDX;
use virtio::{Buffer, Interrupt, Negotiated, VirtQueue};

pub const SECTOR: usize = 512;
pub const F_FLUSH: u64 = 1 << 9;
pub const STATUS_OK: u8 = 0;
pub const STATUS_IOERR: u8 = 1;
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

/// A simulated block device brought up to DRIVER_OK with its request queue.
pub struct BlockRig {
    pub platform: &'static SimPlatform,
    pub device: SimDevice,
    pub transport: SimTransport,
    pub queue: VirtQueue,
    pub negotiated: Negotiated,
}

impl BlockRig {
    pub fn new(interface: Interface, model: BlockModel, queue_size: u16) -> Self {
        let platform = SimPlatform::leaked();
        Self::on(platform, SimDevice::new(platform, interface, model), queue_size)
    }

    /// The same over a device that does not offer EVENT_IDX, so the ring flags apply.
    pub fn without_event_idx(interface: Interface, model: BlockModel, queue_size: u16) -> Self {
        let platform = SimPlatform::leaked();
        let device = SimDevice::new(platform, interface, model);
        device.set_offered_features(device.offered_features() & !RING_EVENT_IDX);
        Self::on(platform, device, queue_size)
    }

    fn on(platform: &'static SimPlatform, device: SimDevice, queue_size: u16) -> Self {
        let mut transport = device.transport();
        let negotiated = virtio::init_device(&mut transport, F_FLUSH, platform).expect("init");
        let queue = VirtQueue::new(&mut transport, platform, &negotiated, 0, queue_size).expect("queue");
        virtio::finish_init(&mut transport).expect("DRIVER_OK");
        BlockRig { platform, device, transport, queue, negotiated }
    }

    /// Adds `request` and notifies the device; returns the token.
    pub fn submit(&mut self, request: &Request) -> u16 {
        let token = self.queue.add(&request.buffers()).expect("add");
        self.queue.notify(&self.transport).expect("notify");
        token
    }

    /// Submits `request` and waits for it; panics unless it is the one that comes back.
    pub fn run(&mut self, request: &Request) -> u32 {
        let token = self.submit(request);
        let used = self.queue.wait_used(&mut self.transport, self.platform, 1_000_000, &Interrupt::polled()).expect("completion");
        assert_eq!(used.token, token);
        used.len
    }
}

/// A pattern that differs per sector and per byte, to catch misplaced data.
pub fn pattern(first_sector: u64, sectors: usize, seed: u8) -> Vec<u8> {
    (0..sectors * SECTOR).map(|i| (i as u64 / 7 + first_sector * 31 + u64::from(seed)) as u8 ^ (i as u8)).collect()
}

/// One block request in one DMA buffer: header at 0, status at 16, data from 512.
pub struct Request {
    memory: DmaBuffer,
    data_len: usize,
    data_writable: bool,
}

const STATUS_AT: usize = 16;
const DATA_AT: usize = 512;

impl Request {
    fn new(platform: &'static SimPlatform, kind: u32, sector: u64, data_len: usize, data_writable: bool) -> Self {
        let memory = DmaBuffer::new(platform, DATA_AT + data_len, 16).expect("DMA memory");
        memory.write_volatile(0, kind);
        memory.write_volatile(8, sector);
        // A value the device must overwrite.
        memory.write_volatile(STATUS_AT, 0xffu8);
        Request { memory, data_len, data_writable }
    }

    pub fn read(platform: &'static SimPlatform, sector: u64, sectors: usize) -> Self {
        Self::new(platform, T_IN, sector, sectors * SECTOR, true)
    }

    pub fn write(platform: &'static SimPlatform, sector: u64, data: &[u8]) -> Self {
        let request = Self::new(platform, T_OUT, sector, data.len(), false);
        request.memory.write_bytes(DATA_AT, data);
        request
    }

    pub fn flush(platform: &'static SimPlatform) -> Self {
        Self::new(platform, T_FLUSH, 0, 0, false)
    }

    pub fn get_id(platform: &'static SimPlatform) -> Self {
        Self::new(platform, T_GET_ID, 0, 20, true)
    }

    /// Header, data (if any), status: three descriptors for a data request, two otherwise.
    pub fn buffers(&self) -> Vec<Buffer> {
        let base = self.memory.phys();
        let mut chain = vec![Buffer::readable(base, 16)];
        if self.data_len > 0 {
            let data = base + DATA_AT as u64;
            chain.push(Buffer { phys: data, len: self.data_len as u32, device_writable: self.data_writable });
        }
        chain.push(Buffer::writable(base + STATUS_AT as u64, 1));
        chain
    }

    pub fn status(&self) -> u8 {
        self.memory.read_volatile(STATUS_AT)
    }

    pub fn data(&self) -> Vec<u8> {
        let mut data = vec![0; self.data_len];
        self.memory.read_bytes(DATA_AT, &mut data);
        data
    }
}
