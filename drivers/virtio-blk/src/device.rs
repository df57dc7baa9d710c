//! [`BlockDevice`]: bring-up, submission and completion of requests, and giving up on a device
//! that breaks the rules.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

use registry::wait::TimedOut;
use registry::{DeviceHealth, Platform};
use virtio::{Buffer, Interrupt, LiveDevice, Negotiated, Transport, VirtQueue, VirtioError};

use crate::config::{self, WANTED_FEATURES};
use crate::slots::HeaderSlots;
use crate::{BlockError, Completion, DiskInfo, Request, RequestKind, SectorBuffer, Token};

/// The request queue (the only one without VIRTIO_BLK_F_MQ).
const REQUEST_QUEUE: u16 = 0;
/// Entries asked for (QEMU's default); the device may allow fewer.
const QUEUE_SIZE: u16 = 256;
/// How long [`BlockDevice::wait`] lets the device go without completing anything before it
/// gives up on it. Generous: a flush may wait for the host's disk.
pub const COMPLETION_TIMEOUT_NS: u64 = 10_000_000_000;
const WAITING_FOR: &str = "the block device to complete a request";

// Request status values (virtio 1.2, 5.2.6).
const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

/// A bound virtio block device. Dropping it resets the device before the memory it may use is
/// freed ([`LiveDevice`]).
pub struct BlockDevice {
    /// The request queue, the header slots and the requests in flight: everything the device
    /// may read or write.
    device: LiveDevice<Io>,
    /// What [`wait`](Self::wait) sleeps on.
    interrupt: Interrupt,
    info: DiskInfo,
    /// Legacy devices' used lengths are not to be trusted (virtio 1.2, 5.2.6.4).
    legacy: bool,
    /// Why the device was given up on; it then takes no more requests.
    failure: Option<BlockError>,
    /// Where a failure is reported for `lsdev` (the registry's record of the device).
    health: DeviceHealth,
    /// Completions not handed out yet: set aside during a blocking call, or those of the
    /// requests in flight when the device failed.
    pub(crate) completed: VecDeque<Completion>,
    timeout_ns: u64,
    /// The most requests the device has had at once since it was bound.
    most_in_flight: u16,
}

struct Io {
    queue: VirtQueue,
    headers: HeaderSlots,
    /// The request in flight under each token, indexed by token.
    in_flight: Vec<Option<InFlight>>,
}

struct InFlight {
    slot: u16,
    request: Request,
}

/// A request the driver did not submit, handed back with the reason.
#[derive(Debug)]
pub struct Refused {
    pub error: BlockError,
    pub request: Request,
}

impl BlockDevice {
    /// Brings the device up (features, configuration, request queue, DRIVER_OK) and reads its
    /// ID string; completions are waited for through `interrupt`. Any error leaves the device
    /// marked FAILED.
    pub fn new(
        mut transport: Box<dyn Transport>,
        platform: &'static dyn Platform,
        interrupt: Interrupt,
    ) -> Result<Self, BlockError> {
        let negotiated = virtio::init_device(transport.as_mut(), WANTED_FEATURES, platform)?;
        let io = start(transport.as_mut(), platform, &negotiated).inspect_err(|_| virtio::fail_device(transport.as_mut()))?;
        let queue_size = io.queue.size();
        let mut device = LiveDevice::new(transport, platform, io);
        let info = config::read_info(device.parts().0, negotiated, queue_size)
            .inspect_err(|_| virtio::fail_device(device.parts().0))?;
        virtio::finish_init(device.parts().0)?;
        let legacy = negotiated.is_legacy();
        let mut disk = BlockDevice {
            device,
            interrupt,
            info,
            legacy,
            failure: None,
            health: DeviceHealth::detached(),
            completed: VecDeque::new(),
            timeout_ns: COMPLETION_TIMEOUT_NS,
            most_in_flight: 0,
        };
        disk.info.id = disk.read_id()?;
        Ok(disk)
    }

    pub fn info(&self) -> &DiskInfo {
        &self.info
    }

    /// Reports a failure from now on (and one already seen) to `health`, the registry's
    /// record of the device, so that `lsdev` shows the disk failed with the reason.
    pub fn report_failures_to(&mut self, health: DeviceHealth) {
        if let Some(error) = &self.failure {
            health.fail(error);
        }
        self.health = health;
    }

    /// Why the device was given up on, if it was.
    pub fn failure(&self) -> Option<&BlockError> {
        self.failure.as_ref()
    }

    /// Requests submitted whose completion has not been handed out yet.
    pub fn pending(&self) -> usize {
        let in_flight = self.device.memory().in_flight.iter().filter(|entry| entry.is_some()).count();
        in_flight + self.completed.len()
    }

    /// The most requests the device has had at once since it was bound.
    pub fn most_in_flight(&self) -> u16 {
        self.most_in_flight
    }

    /// Replaces [`COMPLETION_TIMEOUT_NS`] for [`wait`](Self::wait) and the blocking helpers.
    pub fn set_completion_timeout(&mut self, timeout_ns: u64) {
        self.timeout_ns = timeout_ns;
    }

    /// A buffer of `sectors` sectors of DMA memory from this device's platform.
    pub fn buffer(&self, sectors: u32) -> Result<SectorBuffer, BlockError> {
        SectorBuffer::new(self.device.platform(), sectors)
    }

    /// Takes a capacity change the device signalled (a disk resized on the host): re-reads the
    /// capacity and returns the old and the new one. Requests check against the new one from
    /// now on; [`submit`](Self::submit) calls this first. Signalled only through the
    /// configuration interrupt, so a polled device keeps its capacity from bring-up. A capacity
    /// that cannot be read or makes no sense fails the device.
    pub fn refresh_capacity(&mut self) -> Option<(u64, u64)> {
        if self.failure.is_some() || !self.interrupt.take_config_change() {
            return None;
        }
        let read = config::read_capacity(self.device.parts().0);
        match read {
            Ok(capacity) if capacity != self.info.capacity => {
                let old = core::mem::replace(&mut self.info.capacity, capacity);
                log::info!("virtio-blk: capacity changed from {old} to {capacity} sectors");
                Some((old, capacity))
            }
            Ok(_) => None,
            Err(error) => {
                self.fail(error);
                None
            }
        }
    }

    /// Queues `request` and tells the device. Refused, with the request handed back, if it is
    /// not valid for this disk (read-only, beyond the capacity, not whole blocks, too large,
    /// flush without a cache), if the queue is full, or if the device has failed.
    pub fn submit(&mut self, request: Request) -> Result<Token, Refused> {
        self.refresh_capacity();
        if let Some(error) = &self.failure {
            return Err(Refused { error: error.clone(), request });
        }
        if let Err(error) = check(&self.info, &request) {
            return Err(Refused { error, request });
        }
        let (transport, io) = self.device.parts();
        let Some(slot) = io.headers.take(request.type_code(), request.sector()) else {
            return Err(Refused { error: BlockError::QueueFull, request });
        };
        let chain = match chain(&io.headers, slot, &request, self.info.size_max) {
            Ok(chain) => chain,
            Err(error) => {
                io.headers.release(slot);
                return Err(Refused { error, request });
            }
        };
        let token = match io.queue.add(&chain) {
            Ok(token) => token,
            Err(error) => {
                io.headers.release(slot);
                let error = match error {
                    VirtioError::QueueFull { .. } => BlockError::QueueFull,
                    other => other.into(),
                };
                return Err(Refused { error, request });
            }
        };
        // Tokens are head descriptors, below the queue size.
        io.in_flight[usize::from(token)] = Some(InFlight { slot, request });
        self.most_in_flight = self.most_in_flight.max(io.queue.in_flight());
        if let Err(error) = io.queue.notify(transport) {
            // The request comes back through poll, failed with the device.
            self.fail(error.into());
        }
        Ok(Token(token))
    }

    /// The next finished request, if there is one; never waits. Suits an interrupt handler as
    /// well as a polling loop.
    pub fn poll(&mut self) -> Option<Completion> {
        if let Some(done) = self.completed.pop_front() {
            return Some(done);
        }
        if self.failure.is_some() {
            return None;
        }
        let io = self.device.parts().1;
        let used = match io.queue.pop_used()? {
            Ok(used) => used,
            Err(error) => {
                self.fail(error.into());
                return self.completed.pop_front();
            }
        };
        let Some(InFlight { slot, request }) = io.in_flight.get_mut(usize::from(used.token)).and_then(Option::take) else {
            // The queue only hands back chains in flight, and each carries a request.
            self.fail(VirtioError::UsedIdNotInFlight { id: used.token }.into());
            return self.completed.pop_front();
        };
        let status = io.headers.status(slot);
        io.headers.release(slot);
        let result = self.outcome(&request, status, used.len);
        if let Err(error) = &result {
            if error.is_device_failure() {
                self.fail(error.clone());
            }
        }
        Some(Completion { token: Token(used.token), request, result })
    }

    /// The next finished request, waiting (asleep until the device's interrupt, if it has one)
    /// for up to the completion timeout; `None` when nothing is pending. A device that
    /// completes nothing in that time is given up on, and its requests come back failed.
    pub fn wait(&mut self) -> Option<Completion> {
        if let Some(done) = self.poll() {
            return Some(done);
        }
        if self.pending() == 0 {
            return None;
        }
        let (platform, timeout_ns, interrupt) = (self.device.platform(), self.timeout_ns, self.interrupt.clone());
        let mut done = None;
        let waited = interrupt.wait(platform, timeout_ns, WAITING_FOR, || {
            done = self.poll();
            done.is_some()
        });
        if done.is_some() {
            return done;
        }
        let timed_out = waited.err().unwrap_or(TimedOut { what: WAITING_FOR, after_ns: timeout_ns });
        self.fail(VirtioError::TimedOut(timed_out).into());
        self.completed.pop_front()
    }

    /// What a finished request's status byte and used length mean.
    fn outcome(&self, request: &Request, status: u8, used_len: u32) -> Result<(), BlockError> {
        match status {
            S_OK => {}
            S_IOERR => return Err(BlockError::IoError),
            S_UNSUPP => return Err(BlockError::Unsupported),
            other => return Err(BlockError::InvalidStatus(other)),
        }
        // Data beyond the used length is not guaranteed written (virtio 1.2, 2.7.8).
        if request.kind() == RequestKind::Read && !self.legacy {
            let data = request.data().map_or(0, |(_, len)| len);
            let expected = data as u32 + 1;
            if used_len < expected {
                return Err(BlockError::ShortRead { len: used_len, expected });
            }
        }
        Ok(())
    }

    /// Gives up on the device after `error` (the first error is kept): marks it FAILED and
    /// resets it, so it lets go of the buffers in flight, which come back with the error. If the
    /// reset does not take, the device may still write them: they come back without their
    /// buffers, which are never freed.
    fn fail(&mut self, error: BlockError) {
        if self.failure.is_some() {
            return;
        }
        self.failure = Some(error.clone());
        self.health.fail(&error);
        let platform = self.device.platform();
        let (transport, io) = self.device.parts();
        virtio::fail_device(transport);
        let released = transport.reset(platform).is_ok();
        // The reset cleared FAILED, which is the state to leave the device in.
        virtio::fail_device(transport);
        for (token, entry) in io.in_flight.iter_mut().enumerate() {
            if let Some(InFlight { mut request, .. }) = entry.take() {
                if !released {
                    request.abandon_buffer();
                }
                // The table has one entry per queue entry, so the index fits a u16.
                self.completed.push_back(Completion { token: Token(token as u16), request, result: Err(error.clone()) });
            }
        }
    }
}

/// Whether `request` may go to the disk `info` describes.
fn check(info: &DiskInfo, request: &Request) -> Result<(), BlockError> {
    match request.kind() {
        RequestKind::Write if info.read_only => Err(BlockError::ReadOnly),
        RequestKind::Flush if !info.flush => Err(BlockError::FlushNotSupported),
        RequestKind::Read | RequestKind::Write => {
            let sectors = request.buffer().map_or(0, SectorBuffer::sectors);
            if sectors > info.max_request_sectors {
                return Err(BlockError::TooLarge { sectors, max: info.max_request_sectors });
            }
            info.check_extent(request.sector(), u64::from(sectors))
        }
        RequestKind::Flush | RequestKind::GetId => Ok(()),
    }
}

/// The header slots and the request queue (the device learns of the queue last, so nothing
/// the device knows about is freed if a step fails).
fn start(transport: &mut dyn Transport, platform: &'static dyn Platform, negotiated: &Negotiated) -> Result<Io, BlockError> {
    let headers = HeaderSlots::new(platform, QUEUE_SIZE).map_err(BlockError::Dma)?;
    let queue = VirtQueue::new(transport, platform, negotiated, REQUEST_QUEUE, QUEUE_SIZE)?;
    let in_flight = (0..queue.size()).map(|_| None).collect();
    Ok(Io { queue, headers, in_flight })
}

/// A request's descriptor chain: header, data in segments of at most `size_max` bytes, status.
/// Allocated fallibly: a kernel out of memory refuses the request rather than panicking.
fn chain(headers: &HeaderSlots, slot: u16, request: &Request, size_max: Option<u32>) -> Result<Vec<Buffer>, BlockError> {
    let segment = |len: usize| size_max.map_or(len, |max| max as usize).max(1);
    let descriptors = 2 + request.data().map_or(0, |(_, len)| len.div_ceil(segment(len)));
    let mut chain = Vec::new();
    chain.try_reserve_exact(descriptors).map_err(|_| BlockError::OutOfMemory {
        what: "a descriptor chain",
        bytes: descriptors.saturating_mul(core::mem::size_of::<Buffer>()),
    })?;
    chain.push(headers.header(slot));
    if let Some((buffer, len)) = request.data() {
        // The configuration check keeps the segments within seg_max.
        let segment = segment(len);
        let device_writable = request.device_writes_data();
        chain.extend((0..len).step_by(segment).map(|offset| Buffer {
            phys: buffer.phys() + offset as u64,
            len: (len - offset).min(segment) as u32,
            device_writable,
        }));
    }
    chain.push(headers.status_byte(slot));
    Ok(chain)
}
