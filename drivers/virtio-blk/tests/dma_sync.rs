//! Cache maintenance around every DMA hand-off, as a platform with non-coherent DMA needs it:
//! a request's buffers are synced for the device before the doorbell, and the ones the device
//! wrote are synced for the CPU once the used ring says the request is done, before the driver
//! reads them.

use std::sync::{Arc, Mutex};

use registry::platform::DmaRegion;
use registry::{DmaDirection, Irq, IrqError, IrqHandler, IrqStats, MmioRegion, Platform, PlatformError};
use virtio::sim::{BlockModel, Interface, SimDevice, SimPlatform, SimTransport};
use virtio::{Interrupt, InterruptStatus, QueueAddresses, Transport, VirtioError};
use virtio_blk::{BlockDevice, Request, SECTOR_SIZE};

/// What the driver did, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    ForDevice { phys: u64, len: usize, direction: DmaDirection },
    ForCpu { phys: u64, len: usize, direction: DmaDirection },
    Doorbell(u16),
}

type Log = Arc<Mutex<Vec<Event>>>;

/// The simulated platform, recording every sync call.
struct Recording {
    sim: &'static SimPlatform,
    log: Log,
}

// SAFETY: memory (MMIO, DMA), clock and interrupts are the simulated platform's, which meets the
// contract; the sync hooks only record.
unsafe impl Platform for Recording {
    fn map_mmio(&self, region: MmioRegion) -> Result<core::ptr::NonNull<u8>, PlatformError> {
        self.sim.map_mmio(region)
    }
    fn dma_alloc(&self, size: usize, align: usize) -> Result<DmaRegion, PlatformError> {
        self.sim.dma_alloc(size, align)
    }
    unsafe fn dma_free(&self, region: DmaRegion) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.sim.dma_free(region) }
    }
    fn dma_sync_for_device(&self, phys: u64, len: usize, direction: DmaDirection) {
        self.log.lock().unwrap().push(Event::ForDevice { phys, len, direction });
    }
    fn dma_sync_for_cpu(&self, phys: u64, len: usize, direction: DmaDirection) {
        self.log.lock().unwrap().push(Event::ForCpu { phys, len, direction });
    }
    fn now_ns(&self) -> u64 {
        self.sim.now_ns()
    }
    fn request_irq(&self, irq: &Irq, handler: IrqHandler, stats: Arc<IrqStats>) -> Result<(), IrqError> {
        self.sim.request_irq(irq, handler, stats)
    }
    fn free_irq(&self, irq: &Irq, stats: &Arc<IrqStats>) {
        self.sim.free_irq(irq, stats)
    }
    fn idle_until(&self, deadline_ns: u64) {
        self.sim.idle_until(deadline_ns)
    }
}

/// The simulated transport, recording doorbells into the same log.
struct RecordingTransport {
    inner: SimTransport,
    log: Log,
}

impl Transport for RecordingTransport {
    fn device_id(&self) -> u32 {
        self.inner.device_id()
    }
    fn is_legacy(&self) -> bool {
        self.inner.is_legacy()
    }
    fn read_device_features(&mut self) -> Result<u64, VirtioError> {
        self.inner.read_device_features()
    }
    fn write_driver_features(&mut self, features: u64) -> Result<(), VirtioError> {
        self.inner.write_driver_features(features)
    }
    fn get_status(&self) -> Result<u8, VirtioError> {
        self.inner.get_status()
    }
    fn set_status(&mut self, status: u8) -> Result<(), VirtioError> {
        self.inner.set_status(status)
    }
    fn max_queue_size(&mut self, index: u16) -> Result<u16, VirtioError> {
        self.inner.max_queue_size(index)
    }
    fn set_queue(&mut self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        self.inner.set_queue(index, size, rings)
    }
    fn queue_notify(&self, index: u16) -> Result<(), VirtioError> {
        self.log.lock().unwrap().push(Event::Doorbell(index));
        self.inner.queue_notify(index)
    }
    fn config_size(&self) -> usize {
        self.inner.config_size()
    }
    fn config_generation(&self) -> Result<Option<u32>, VirtioError> {
        self.inner.config_generation()
    }
    fn read_config_u8(&self, offset: usize) -> Result<u8, VirtioError> {
        self.inner.read_config_u8(offset)
    }
    fn read_config_u16(&self, offset: usize) -> Result<u16, VirtioError> {
        self.inner.read_config_u16(offset)
    }
    fn read_config_u32(&self, offset: usize) -> Result<u32, VirtioError> {
        self.inner.read_config_u32(offset)
    }
    fn write_config_u8(&mut self, offset: usize, value: u8) -> Result<(), VirtioError> {
        self.inner.write_config_u8(offset, value)
    }
    fn write_config_u16(&mut self, offset: usize, value: u16) -> Result<(), VirtioError> {
        self.inner.write_config_u16(offset, value)
    }
    fn write_config_u32(&mut self, offset: usize, value: u32) -> Result<(), VirtioError> {
        self.inner.write_config_u32(offset, value)
    }
    fn interrupt_status(&self) -> Box<dyn InterruptStatus> {
        self.inner.interrupt_status()
    }
}

/// A disk bound over the recording platform and transport; the device holds requests until
/// the test completes them.
fn bind() -> (SimDevice, BlockDevice, Log) {
    let sim = SimPlatform::leaked();
    let device = SimDevice::new(sim, Interface::Modern, BlockModel::new(64));
    let log = Log::default();
    let platform: &'static Recording = Box::leak(Box::new(Recording { sim, log: Arc::clone(&log) }));
    let transport = RecordingTransport { inner: device.transport(), log: Arc::clone(&log) };
    let blk = BlockDevice::new(Box::new(transport), platform, Interrupt::polled()).expect("bring-up");
    device.set_auto_complete(false);
    log.lock().unwrap().clear();
    (device, blk, log)
}

fn position(log: &[Event], wanted: impl Fn(&Event) -> bool) -> Option<usize> {
    log.iter().position(wanted)
}

#[test]
fn a_read_is_synced_for_the_device_before_the_doorbell_and_for_the_cpu_after_the_used_ring() {
    let (device, mut blk, log) = bind();
    let data_len = 8 * SECTOR_SIZE;
    blk.submit(Request::read(0, blk.buffer(8).unwrap())).expect("submitted");
    let submitted = log.lock().unwrap().clone();
    let doorbell = position(&submitted, |e| *e == Event::Doorbell(0)).expect("the doorbell rang");
    let for_device = |len, direction| {
        position(&submitted, |e| matches!(e, Event::ForDevice { len: l, direction: d, .. } if *l == len && *d == direction))
    };
    let data = for_device(data_len, DmaDirection::FromDevice).expect("the data buffer synced for the device");
    let header = for_device(16, DmaDirection::ToDevice).expect("the header (and a descriptor) synced");
    let status = for_device(1, DmaDirection::FromDevice).expect("the status byte synced");
    let avail_idx = position(&submitted, |e| matches!(e, Event::ForDevice { len: 2, .. })).expect("the avail ring synced");
    assert!([data, header, status, avail_idx].iter().all(|&at| at < doorbell), "{submitted:#?}");
    assert!(!submitted.iter().any(|e| matches!(e, Event::ForCpu { len, .. } if *len == data_len)), "nothing to read yet");
    let Event::ForDevice { phys: data_phys, .. } = submitted[data] else { unreachable!() };

    log.lock().unwrap().clear();
    assert!(device.complete_next(0));
    let done = blk.poll().expect("completed");
    assert!(done.result.is_ok(), "{:?}", done.result);
    let completed = log.lock().unwrap().clone();
    let used_entry = position(&completed, |e| matches!(e, Event::ForCpu { len: 8, direction: DmaDirection::FromDevice, .. }))
        .expect("the used ring entry synced for the CPU");
    let data_back = Event::ForCpu { phys: data_phys, len: data_len, direction: DmaDirection::FromDevice };
    let data_synced = position(&completed, |e| *e == data_back).expect("the data synced for the CPU");
    let status_synced = position(&completed, |e| matches!(e, Event::ForCpu { len: 1, .. })).expect("the status byte");
    assert!(used_entry < data_synced && used_entry < status_synced, "{completed:#?}");
}

#[test]
fn a_write_is_synced_for_the_device_and_not_read_back() {
    let (device, mut blk, log) = bind();
    let data_len = 4 * SECTOR_SIZE;
    blk.submit(Request::write(0, blk.buffer(4).unwrap())).expect("submitted");
    let submitted = log.lock().unwrap().clone();
    let doorbell = position(&submitted, |e| *e == Event::Doorbell(0)).expect("the doorbell rang");
    let data = position(&submitted, |e| matches!(e, Event::ForDevice { len, direction: DmaDirection::ToDevice, .. } if *len == data_len));
    assert!(data.is_some_and(|at| at < doorbell), "{submitted:#?}");

    log.lock().unwrap().clear();
    assert!(device.complete_next(0));
    assert!(blk.poll().expect("completed").result.is_ok());
    let completed = log.lock().unwrap().clone();
    assert!(!completed.iter().any(|e| matches!(e, Event::ForCpu { len, .. } if *len == data_len)), "{completed:#?}");
    assert!(completed.iter().any(|e| matches!(e, Event::ForCpu { len: 1, .. })), "the status byte is read back");
}
