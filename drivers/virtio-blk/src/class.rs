//! The disk as the registry's block class: [`BlockClass`] puts the [`BlockDevice`] behind a lock
//! so that every call takes `&self`, and translates requests, buffers and errors.
//!
//! `wait` and the blocking calls hold the lock while they sleep until the device's interrupt:
//! the handler only wakes the waiter and never takes the lock, so this cannot deadlock; a
//! second CPU calling in meanwhile spins until the first is done.

use alloc::format;

use registry::class::block::{self as class, BlockCompletion, BlockErrorKind, BlockInfo, BlockOp, BlockToken, Refused};
use registry::DmaBuffer;
use spin::Mutex;

use crate::{BlockDevice, BlockError, Completion, Request};

/// A virtio block device as a `registry::class::BlockDevice`; what the driver publishes.
pub struct BlockClass {
    disk: Mutex<BlockDevice>,
}

impl BlockClass {
    pub fn new(disk: BlockDevice) -> Self {
        BlockClass { disk: Mutex::new(disk) }
    }

    /// The driver's own interface (timeouts, request tokens), for code that knows it drives a
    /// virtio disk: the driver's tests. Consumers use the class.
    pub fn lock(&self) -> spin::MutexGuard<'_, BlockDevice> {
        self.disk.lock()
    }
}

/// The class's error for one of the driver's, keeping the driver's description.
fn to_class(error: BlockError) -> class::BlockError {
    let kind = match &error {
        BlockError::ReadOnly => BlockErrorKind::ReadOnly,
        BlockError::FlushNotSupported => BlockErrorKind::FlushNotSupported,
        BlockError::OutOfRange { .. } => BlockErrorKind::OutOfRange,
        BlockError::Misaligned { .. } | BlockError::NotWholeSectors { .. } => BlockErrorKind::Misaligned,
        BlockError::TooLarge { .. } => BlockErrorKind::TooLarge,
        BlockError::QueueFull => BlockErrorKind::QueueFull,
        BlockError::Dma(_) => BlockErrorKind::NoMemory,
        BlockError::IoError => BlockErrorKind::Io,
        BlockError::Unsupported => BlockErrorKind::Unsupported,
        _ => BlockErrorKind::DeviceFailed,
    };
    class::BlockError { kind, message: format!("{error}") }
}

fn completion(done: Completion) -> BlockCompletion {
    BlockCompletion {
        token: BlockToken(u64::from(done.token.0)),
        buffer: done.request.into_buffer().map(|buffer| buffer.into_dma()),
        result: done.result.map_err(to_class),
    }
}

impl registry::class::BlockDevice for BlockClass {
    fn info(&self) -> BlockInfo {
        let disk = self.disk.lock();
        let info = disk.info();
        BlockInfo {
            capacity: info.capacity,
            block_size: info.block_size,
            read_only: info.read_only,
            flush: info.flush,
            id: info.id.clone(),
            max_request_sectors: info.max_request_sectors,
        }
    }

    fn failure(&self) -> Option<class::BlockError> {
        self.disk.lock().failure().cloned().map(to_class)
    }

    fn read(&self, start: u64, out: &mut [u8]) -> Result<(), class::BlockError> {
        self.disk.lock().read(start, out).map_err(to_class)
    }

    fn write(&self, start: u64, data: &[u8]) -> Result<(), class::BlockError> {
        self.disk.lock().write(start, data).map_err(to_class)
    }

    fn flush(&self) -> Result<(), class::BlockError> {
        self.disk.lock().flush().map_err(to_class)
    }

    /// Several requests in flight (the driver's pipeline), unlike the class's default.
    fn read_with(&self, start: u64, count: u64, consume: &mut dyn FnMut(u64, &[u8])) -> Result<(), class::BlockError> {
        self.disk.lock().read_with(start, count, consume).map_err(to_class)
    }

    fn write_with(&self, start: u64, count: u64, produce: &mut dyn FnMut(u64, &mut [u8])) -> Result<(), class::BlockError> {
        self.disk.lock().write_with(start, count, produce).map_err(to_class)
    }

    fn buffer(&self, sectors: u32) -> Result<DmaBuffer, class::BlockError> {
        self.disk.lock().buffer(sectors).map(|buffer| buffer.into_dma()).map_err(to_class)
    }

    fn submit(&self, op: BlockOp, sector: u64, buffer: DmaBuffer) -> Result<BlockToken, Refused> {
        let buffer = crate::SectorBuffer::from_dma(buffer)
            .map_err(|(error, buffer)| Refused { error: to_class(error), buffer: Some(buffer) })?;
        let request = match op {
            BlockOp::Read => Request::read(sector, buffer),
            BlockOp::Write => Request::write(sector, buffer),
        };
        match self.disk.lock().submit(request) {
            Ok(token) => Ok(BlockToken(u64::from(token.0))),
            Err(refused) => Err(Refused {
                error: to_class(refused.error),
                buffer: refused.request.into_buffer().map(|buffer| buffer.into_dma()),
            }),
        }
    }

    fn poll(&self) -> Option<BlockCompletion> {
        self.disk.lock().poll().map(completion)
    }

    fn wait(&self) -> Option<BlockCompletion> {
        self.disk.lock().wait().map(completion)
    }

    fn refresh_capacity(&self) -> Option<(u64, u64)> {
        self.disk.lock().refresh_capacity()
    }

    fn most_in_flight(&self) -> u32 {
        u32::from(self.disk.lock().most_in_flight())
    }
}
