//! Shared by the tests: the driver over a simulated block device, and a platform whose device
//! keeps working while the driver polls.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use registry::Platform;
use virtio::sim::{BlockDisk, BlockModel, CompletionOrder, Interface, SimDevice, SimPlatform};
use virtio::Interrupt;
use virtio_blk::{pattern, BlockDevice, BlockError, SectorBuffer, SECTOR_SIZE};

pub const INTERFACES: [Interface; 2] = [Interface::Modern, Interface::Legacy];

/// A driver bound to a simulated disk, and the test's handles on both.
pub struct Rig {
    pub platform: &'static SimPlatform,
    pub device: SimDevice,
    pub disk: BlockDisk,
    pub blk: BlockDevice,
}

impl Rig {
    /// A device that completes every request as soon as it is notified.
    pub fn new(interface: Interface, model: BlockModel) -> Rig {
        Rig::shaped(interface, model, |_| {})
    }

    /// As [`new`](Self::new), with the device adjusted by `shape` before the driver binds it.
    pub fn shaped(interface: Interface, model: BlockModel, shape: impl FnOnce(&SimDevice)) -> Rig {
        let platform = SimPlatform::leaked();
        let disk = model.disk();
        let device = SimDevice::new(platform, interface, model);
        shape(&device);
        let blk = BlockDevice::new(Box::new(device.transport()), platform, Interrupt::polled()).expect("bring-up");
        Rig { platform, device, disk, blk }
    }

    /// A device that holds requests until the test completes them.
    pub fn holding(interface: Interface, model: BlockModel) -> Rig {
        let rig = Rig::new(interface, model);
        rig.device.set_auto_complete(false);
        rig
    }

    /// A buffer holding `data` (whole sectors).
    pub fn buffer_with(&self, data: &[u8]) -> SectorBuffer {
        let mut buffer = self.blk.buffer((data.len() / SECTOR_SIZE) as u32).unwrap();
        buffer.write_at(0, data);
        buffer
    }

    /// The disk's bytes of `sectors` sectors from `first`.
    pub fn on_disk(&self, first: u64, sectors: u64) -> Vec<u8> {
        let range = first as usize * SECTOR_SIZE..(first + sectors) as usize * SECTOR_SIZE;
        self.disk.contents()[range].to_vec()
    }
}

/// The driver's bring-up on a new simulated device, whatever its outcome.
pub fn bring_up(
    interface: Interface,
    model: BlockModel,
) -> (&'static SimPlatform, SimDevice, BlockDisk, Result<BlockDevice, BlockError>) {
    let platform = SimPlatform::leaked();
    let disk = model.disk();
    let device = SimDevice::new(platform, interface, model);
    let bound = BlockDevice::new(Box::new(device.transport()), platform, Interrupt::polled());
    (platform, device, disk, bound)
}


/// `sectors` sectors of the pattern for `seed`, from sector 0.
pub fn patterned(sectors: u64, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; sectors as usize * SECTOR_SIZE];
    pattern::fill(0, seed, &mut bytes);
    bytes
}

/// The whole contents of `buffer`.
pub fn contents(buffer: &SectorBuffer) -> Vec<u8> {
    let mut bytes = vec![0; buffer.sectors() as usize * SECTOR_SIZE];
    buffer.read_at(0, &mut bytes);
    bytes
}

/// A platform under which the device works while the driver polls: every clock read (the
/// driver's bounded waits read it) lets the device complete all the requests it holds, in a
/// new shuffled order each time. It records the most requests the device ever held at once.
pub struct BusyDevicePlatform {
    sim: &'static SimPlatform,
    device: SimDevice,
    rounds: AtomicU64,
    most_held: AtomicUsize,
}

impl BusyDevicePlatform {
    /// The platform and a holding device behind it, bound by the driver.
    pub fn bring_up(interface: Interface, model: BlockModel) -> (&'static Self, SimDevice, BlockDisk, BlockDevice) {
        let sim = SimPlatform::leaked();
        let disk = model.disk();
        let device = SimDevice::new(sim, interface, model);
        device.set_auto_complete(false);
        let platform = Box::leak(Box::new(BusyDevicePlatform {
            sim,
            device: device.clone(),
            rounds: AtomicU64::new(0),
            most_held: AtomicUsize::new(0),
        }));
        let blk = BlockDevice::new(Box::new(device.transport()), platform, Interrupt::polled()).expect("bring-up");
        (platform, device, disk, blk)
    }

    pub fn most_held(&self) -> usize {
        self.most_held.load(Ordering::Relaxed)
    }

    pub fn dma_live(&self) -> usize {
        self.sim.host().dma_live()
    }
}

// SAFETY: memory (MMIO, DMA) is forwarded to the simulated platform, which meets the contract;
// the clock is its clock (the device only does work on each read).
unsafe impl Platform for BusyDevicePlatform {
    registry::forward_platform_memory!(sim);

    fn now_ns(&self) -> u64 {
        self.most_held.fetch_max(self.device.held(0), Ordering::Relaxed);
        let round = self.rounds.fetch_add(1, Ordering::Relaxed);
        self.device.complete(0, CompletionOrder::Shuffled(round));
        self.sim.now_ns()
    }
}
