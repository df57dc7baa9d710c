//! An in-memory virtio block device (virtio 1.2, section 5.2): one request queue; requests are
//! a 16-byte header {type u32, reserved u32, sector u64}, data, and a status byte at the end of
//! the device-writable part.
//!
//! Tests shape the device before handing it to a [`SimDevice`](super::SimDevice) (read-only,
//! block size, segment limits, a lying capacity, no ID, no flush) and keep a [`BlockDisk`] to
//! look at the contents and inject faults afterwards.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use spin::Mutex;

use super::DeviceModel;

pub const SECTOR_SIZE: usize = 512;
pub const F_SIZE_MAX: u64 = 1 << 1;
pub const F_SEG_MAX: u64 = 1 << 2;
pub const F_RO: u64 = 1 << 5;
pub const F_BLK_SIZE: u64 = 1 << 6;
/// VIRTIO_BLK_F_FLUSH, offered unless [`BlockModel::without_flush`].
pub const F_FLUSH: u64 = 1 << 9;
/// The serial number GET_ID returns by default (20 bytes, zero padded).
pub const ID: &[u8; 20] = b"sim-virtio-blk\0\0\0\0\0\0";
pub const STATUS_OK: u8 = 0;
pub const STATUS_IOERR: u8 = 1;
pub const STATUS_UNSUPP: u8 = 2;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;
const HEADER: usize = 16;
const QUEUE_SIZE: u16 = 256;
/// capacity, then the fields of optional features (zero unless their feature is offered).
const CONFIG_SIZE: usize = 64;
const CONFIG_SIZE_MAX: usize = 8;
const CONFIG_SEG_MAX: usize = 12;
const CONFIG_BLK_SIZE: usize = 20;

/// What a request touching a faulty sector gets instead of being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockFault {
    /// This status byte (IOERR, UNSUPP, or a value the spec does not define); no data moves.
    Status(u8),
    /// Reads complete with status OK but a used length covering the status byte only, as if
    /// no data had been written (writes are served normally).
    ShortRead,
}

/// The disk and everything tests may change or inspect while the device runs.
struct Disk {
    bytes: Vec<u8>,
    read_only: bool,
    id: Option<[u8; 20]>,
    faults: Vec<(u64, BlockFault)>,
    flushes: usize,
}

/// A test's handle on a [`BlockModel`]'s disk, usable after the model went into a device.
#[derive(Clone)]
pub struct BlockDisk {
    disk: Arc<Mutex<Disk>>,
}

impl BlockDisk {
    /// The disk's bytes as they are now.
    pub fn contents(&self) -> Vec<u8> {
        self.disk.lock().bytes.clone()
    }

    /// From now on, every read or write covering `sector` gets `fault`.
    pub fn inject(&self, sector: u64, fault: BlockFault) {
        self.disk.lock().faults.push((sector, fault));
    }

    pub fn clear_faults(&self) {
        self.disk.lock().faults.clear();
    }

    /// Grows or shrinks the disk to `sectors` (new sectors are zeros), as the host resizing
    /// its image does; the device's config says so after `SimDevice::change_config`.
    pub fn resize(&self, sectors: usize) {
        self.disk.lock().bytes.resize(sectors * SECTOR_SIZE, 0);
    }

    /// How many flush requests the device served.
    pub fn flushes(&self) -> usize {
        self.disk.lock().flushes
    }
}

pub struct BlockModel {
    disk: Arc<Mutex<Disk>>,
    features: u64,
    /// What the config space claims, which a lying device makes differ from the disk.
    capacity: u64,
    blk_size: u32,
    size_max: u32,
    seg_max: u32,
}

impl BlockModel {
    /// A zeroed disk of `sectors` sectors.
    pub fn new(sectors: usize) -> Self {
        Self::with_contents(vec![0; sectors * SECTOR_SIZE])
    }

    /// A disk holding `contents`, a whole number of sectors.
    pub fn with_contents(contents: Vec<u8>) -> Self {
        assert!(contents.len().is_multiple_of(SECTOR_SIZE), "a disk is a whole number of sectors");
        let capacity = (contents.len() / SECTOR_SIZE) as u64;
        let disk = Disk { bytes: contents, read_only: false, id: Some(*ID), faults: Vec::new(), flushes: 0 };
        BlockModel { disk: Arc::new(Mutex::new(disk)), features: F_FLUSH, capacity, blk_size: 0, size_max: 0, seg_max: 0 }
    }

    /// The handle tests keep to inspect the disk and inject faults.
    pub fn disk(&self) -> BlockDisk {
        BlockDisk { disk: Arc::clone(&self.disk) }
    }

    /// Offers VIRTIO_BLK_F_RO and, as the spec requires, fails every write with IOERR.
    pub fn read_only(self) -> Self {
        self.disk.lock().read_only = true;
        BlockModel { features: self.features | F_RO, ..self }
    }

    /// Offers VIRTIO_BLK_F_BLK_SIZE with this value, whatever it is.
    pub fn with_blk_size(self, blk_size: u32) -> Self {
        BlockModel { features: self.features | F_BLK_SIZE, blk_size, ..self }
    }

    /// Offers VIRTIO_BLK_F_SIZE_MAX and VIRTIO_BLK_F_SEG_MAX with these values.
    pub fn with_segment_limits(self, size_max: u32, seg_max: u32) -> Self {
        BlockModel { features: self.features | F_SIZE_MAX | F_SEG_MAX, size_max, seg_max, ..self }
    }

    /// Claims `sectors` in the config space, whatever the disk holds.
    pub fn with_capacity(self, sectors: u64) -> Self {
        BlockModel { capacity: sectors, ..self }
    }

    /// The device ID string GET_ID returns (at most 20 bytes), or `None` to answer UNSUPP.
    pub fn with_id(self, id: Option<&[u8]>) -> Self {
        self.disk.lock().id = id.map(|id| {
            let mut padded = [0; 20];
            padded[..id.len()].copy_from_slice(id);
            padded
        });
        self
    }

    /// Withdraws VIRTIO_BLK_F_FLUSH; flush requests get UNSUPP.
    pub fn without_flush(self) -> Self {
        BlockModel { features: self.features & !F_FLUSH, ..self }
    }
}

impl Disk {
    /// The byte range of `len` bytes from `sector`, if it is whole sectors on the disk.
    fn sectors(&self, sector: u64, len: usize) -> Option<Range<usize>> {
        if !len.is_multiple_of(SECTOR_SIZE) {
            return None;
        }
        let start = usize::try_from(sector).ok()?.checked_mul(SECTOR_SIZE)?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }

    /// The fault injected for a sector of the `len` bytes from `sector`, if any.
    fn fault(&self, sector: u64, len: usize) -> Option<BlockFault> {
        let sectors = (len / SECTOR_SIZE).max(1) as u64;
        let covered = sector..sector.saturating_add(sectors);
        self.faults.iter().find(|(faulty, _)| covered.contains(faulty)).map(|&(_, fault)| fault)
    }

    /// Runs one request; returns its status and how many bytes of `data_in` it filled.
    fn execute(&mut self, request: &[u8], data_in: &mut [u8], flush_offered: bool) -> (u8, usize) {
        let Some((header, data_out)) = request.split_first_chunk::<HEADER>() else {
            return (STATUS_IOERR, 0);
        };
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let sector = u64::from_le_bytes(header[8..].try_into().expect("8 bytes"));
        let fault = match kind {
            T_IN => self.fault(sector, data_in.len()),
            T_OUT => self.fault(sector, data_out.len()),
            _ => None,
        };
        match (kind, fault) {
            (T_IN | T_OUT, Some(BlockFault::Status(status))) => (status, 0),
            (T_IN, Some(BlockFault::ShortRead)) => (STATUS_OK, 0),
            (T_IN, _) => match self.sectors(sector, data_in.len()) {
                Some(range) => {
                    data_in.copy_from_slice(&self.bytes[range]);
                    (STATUS_OK, data_in.len())
                }
                None => (STATUS_IOERR, 0),
            },
            (T_OUT, _) => match self.sectors(sector, data_out.len()) {
                Some(range) if !self.read_only => {
                    self.bytes[range].copy_from_slice(data_out);
                    (STATUS_OK, 0)
                }
                _ => (STATUS_IOERR, 0),
            },
            (T_FLUSH, _) if flush_offered => {
                self.flushes += 1;
                (STATUS_OK, 0)
            }
            (T_GET_ID, _) => match self.id {
                Some(id) => {
                    let len = id.len().min(data_in.len());
                    data_in[..len].copy_from_slice(&id[..len]);
                    (STATUS_OK, len)
                }
                None => (STATUS_UNSUPP, 0),
            },
            _ => (STATUS_UNSUPP, 0),
        }
    }
}

impl DeviceModel for BlockModel {
    fn device_id(&self) -> u32 {
        crate::ids::BLOCK
    }

    fn features(&self) -> u64 {
        self.features
    }

    fn queue_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn config_space(&self) -> Vec<u8> {
        let mut config = vec![0; CONFIG_SIZE];
        config[..8].copy_from_slice(&self.capacity.to_le_bytes());
        config[CONFIG_SIZE_MAX..CONFIG_SIZE_MAX + 4].copy_from_slice(&self.size_max.to_le_bytes());
        config[CONFIG_SEG_MAX..CONFIG_SEG_MAX + 4].copy_from_slice(&self.seg_max.to_le_bytes());
        config[CONFIG_BLK_SIZE..CONFIG_BLK_SIZE + 4].copy_from_slice(&self.blk_size.to_le_bytes());
        config
    }

    fn serve(&mut self, _queue: u16, request: &[u8], reply: &mut [u8]) -> u32 {
        let Some((status, data_in)) = reply.split_last_mut() else {
            return 0; // no room for a status byte: nothing to write
        };
        let (result, filled) = self.disk.lock().execute(request, data_in, self.features & F_FLUSH != 0);
        *status = result;
        // The used length counts the status byte too.
        (filled + 1) as u32
    }
}
