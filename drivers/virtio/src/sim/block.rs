//! An in-memory virtio block device (virtio 1.2, section 5.2): one request queue; requests are
//! a 16-byte header {type u32, reserved u32, sector u64}, data, and a status byte at the end of
//! the device-writable part.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use super::DeviceModel;

pub const SECTOR_SIZE: usize = 512;
/// VIRTIO_BLK_F_FLUSH, the one feature offered.
pub const F_FLUSH: u64 = 1 << 9;
/// The serial number GET_ID returns (20 bytes, zero padded).
pub const ID: &[u8; 20] = b"sim-virtio-blk\0\0\0\0\0\0";

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;
const HEADER: usize = 16;
const QUEUE_SIZE: u16 = 256;
/// capacity, then the fields of optional features, which read as zero since none is offered.
const CONFIG_SIZE: usize = 64;

pub struct BlockModel {
    disk: Vec<u8>,
}

impl BlockModel {
    /// A zeroed disk of `sectors` sectors.
    pub fn new(sectors: usize) -> Self {
        BlockModel { disk: vec![0; sectors * SECTOR_SIZE] }
    }

    /// A disk holding `contents`, a whole number of sectors.
    pub fn with_contents(contents: Vec<u8>) -> Self {
        assert!(contents.len().is_multiple_of(SECTOR_SIZE), "a disk is a whole number of sectors");
        BlockModel { disk: contents }
    }

    /// The byte range of `len` bytes from `sector`, if it is whole sectors on the disk.
    fn sectors(&self, sector: u64, len: usize) -> Option<Range<usize>> {
        if !len.is_multiple_of(SECTOR_SIZE) {
            return None;
        }
        let start = usize::try_from(sector).ok()?.checked_mul(SECTOR_SIZE)?;
        let end = start.checked_add(len)?;
        (end <= self.disk.len()).then_some(start..end)
    }

    /// Runs one request; returns its status and how many bytes of `data_in` it filled.
    fn execute(&mut self, request: &[u8], data_in: &mut [u8]) -> (u8, usize) {
        let Some((header, data_out)) = request.split_first_chunk::<HEADER>() else {
            return (S_IOERR, 0);
        };
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let sector = u64::from_le_bytes(header[8..].try_into().expect("8 bytes"));
        match kind {
            T_IN => match self.sectors(sector, data_in.len()) {
                Some(range) => {
                    data_in.copy_from_slice(&self.disk[range]);
                    (S_OK, data_in.len())
                }
                None => (S_IOERR, 0),
            },
            T_OUT => match self.sectors(sector, data_out.len()) {
                Some(range) => {
                    self.disk[range].copy_from_slice(data_out);
                    (S_OK, 0)
                }
                None => (S_IOERR, 0),
            },
            T_FLUSH => (S_OK, 0),
            T_GET_ID => {
                let len = ID.len().min(data_in.len());
                data_in[..len].copy_from_slice(&ID[..len]);
                (S_OK, len)
            }
            _ => (S_UNSUPP, 0),
        }
    }
}

impl DeviceModel for BlockModel {
    fn device_id(&self) -> u32 {
        crate::ids::BLOCK
    }

    fn features(&self) -> u64 {
        F_FLUSH
    }

    fn queue_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn config_space(&self) -> Vec<u8> {
        let mut config = vec![0; CONFIG_SIZE];
        let capacity = (self.disk.len() / SECTOR_SIZE) as u64;
        config[..8].copy_from_slice(&capacity.to_le_bytes());
        config
    }

    fn serve(&mut self, _queue: u16, request: &[u8], reply: &mut [u8]) -> u32 {
        let Some((status, data_in)) = reply.split_last_mut() else {
            return 0; // no room for a status byte: nothing to write
        };
        let (result, filled) = self.execute(request, data_in);
        *status = result;
        // The used length counts the status byte too.
        (filled + 1) as u32
    }
}
