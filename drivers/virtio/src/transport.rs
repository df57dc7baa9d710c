//! The transport trait: what a virtio driver needs from virtio-mmio, virtio-pci, or a simulated
//! device, and the `bus_data` every virtio bus driver hands to the device's driver.

use alloc::boxed::Box;
use alloc::vec::Vec;

use registry::wait::poll_until;
use registry::{BusAddress, DeviceIds, DeviceSpec, Irq, Platform};

use crate::{ids, InterruptStatus, VirtioError};

/// How long [`Transport::reset`] waits for the device to read back status 0.
pub const RESET_TIMEOUT_NS: u64 = 100_000_000;
/// Attempts at a consistent config snapshot before [`VirtioError::ConfigUnstable`]. A device
/// changes its config rarely (link status, capacity); several changes in a row is a broken device.
const CONFIG_READ_ATTEMPTS: u32 = 8;

/// Where a split virtqueue's three parts are, as the device must be told (bus addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueAddresses {
    /// The descriptor table.
    pub desc: u64,
    /// The driver area: the available ring.
    pub driver: u64,
    /// The device area: the used ring.
    pub device: u64,
}

/// One virtio device's transport (virtio 1.2, section 4).
///
/// Every method that touches the device returns a [`VirtioError`] rather than panicking:
/// register windows, config offsets and queue numbers are checked. Implementations follow the
/// modern (common config) shape: per-queue size and 64-bit ring addresses, enabled in one step;
/// a legacy transport ([`is_legacy`](Transport::is_legacy)) derives its page-frame programming
/// from the same addresses.
pub trait Transport: Send {
    /// The virtio device ID (net 1, block 2, gpu 16, ...; see [`crate::ids`]).
    fn device_id(&self) -> u32;

    /// True for a pre-1.0 (legacy) interface, such as virtio-mmio version 1. Legacy devices have
    /// 32 feature bits and no VERSION_1, no FEATURES_OK step, no config generation, and locate a
    /// queue by one page frame number: their rings must follow the legacy contiguous layout
    /// (descriptors, available ring, padding to 4096, used ring).
    fn is_legacy(&self) -> bool;

    /// All 64 feature bits the device offers.
    fn read_device_features(&mut self) -> Result<u64, VirtioError>;
    /// Tells the device which features the driver accepts.
    fn write_driver_features(&mut self, features: u64) -> Result<(), VirtioError>;

    /// The device status byte (see [`crate::status`]).
    fn get_status(&self) -> Result<u8, VirtioError>;
    /// Writes the whole status byte; 0 resets the device.
    fn set_status(&mut self, status: u8) -> Result<(), VirtioError>;

    /// Resets the device: writes status 0 and waits, bounded by [`RESET_TIMEOUT_NS`], until the
    /// device reads back 0 (spec 2.4.2: the driver must not touch the device before that).
    fn reset(&mut self, platform: &dyn Platform) -> Result<(), VirtioError> {
        self.set_status(0)?;
        let mut failed_read = None;
        let waited = poll_until(platform, RESET_TIMEOUT_NS, "the device to reset", || match self.get_status() {
            Ok(status) => status == 0,
            Err(error) => {
                failed_read = Some(error);
                true
            }
        });
        match failed_read {
            Some(error) => Err(error),
            None => waited.map_err(VirtioError::TimedOut),
        }
    }

    /// The most entries queue `index` may have; 0 when the queue does not exist.
    fn max_queue_size(&mut self, index: u16) -> Result<u16, VirtioError>;

    /// True when a queue's size is the device's to choose and the driver cannot lower it
    /// (legacy virtio-pci, whose queue size register is read-only): queues then take
    /// [`max_queue_size`](Transport::max_queue_size) entries whatever the driver wanted.
    fn queue_size_fixed(&self) -> bool {
        false
    }

    /// Gives queue `index` its `size` (a power of two, at most `max_queue_size`) and ring
    /// addresses, then enables it. Fails with [`VirtioError::QueueInUse`] if the device says the
    /// queue is already set up.
    fn set_queue(&mut self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError>;

    /// Tells the device that queue `index` has new available buffers. Takes `&self`: a notify
    /// is a single register write that needs no queue selection, so queues can be kicked from
    /// different contexts. [`VirtQueue::notify`](crate::VirtQueue::notify) calls it after
    /// [`registry::barrier::io_wmb`], so a plain register write is enough.
    fn queue_notify(&self, index: u16) -> Result<(), VirtioError>;

    /// The size of the device-specific configuration space in bytes.
    fn config_size(&self) -> usize;
    /// The config generation counter, or `None` when the transport has none (legacy).
    fn config_generation(&self) -> Result<Option<u32>, VirtioError>;
    fn read_config_u8(&self, offset: usize) -> Result<u8, VirtioError>;
    fn read_config_u16(&self, offset: usize) -> Result<u16, VirtioError>;
    fn read_config_u32(&self, offset: usize) -> Result<u32, VirtioError>;
    fn write_config_u8(&mut self, offset: usize, value: u8) -> Result<(), VirtioError>;
    fn write_config_u16(&mut self, offset: usize, value: u16) -> Result<(), VirtioError>;
    fn write_config_u32(&mut self, offset: usize, value: u32) -> Result<(), VirtioError>;

    /// A second handle on the interrupt status and acknowledge registers, for the device's
    /// interrupt handler ([`Interrupt`](crate::Interrupt)), which runs without the transport.
    fn interrupt_status(&self) -> Box<dyn InterruptStatus>;

    /// True when the device signals with messages (virtio-pci with MSI-X): each of its
    /// interrupts is its own, for configuration changes or for queues, needs no acknowledging
    /// and has no interrupt status to read. False for a line with an interrupt status.
    fn message_signalled(&self) -> bool {
        false
    }
}

impl dyn Transport + '_ {
    /// Runs `read` until the config generation is the same before and after it, so that
    /// multi-field (or 64-bit) config values are not torn by a concurrent device update. Gives
    /// up after a few attempts; a transport without a generation (legacy) reads once.
    pub fn read_config_consistent<R>(
        &self,
        mut read: impl FnMut(&dyn Transport) -> Result<R, VirtioError>,
    ) -> Result<R, VirtioError> {
        for _ in 0..CONFIG_READ_ATTEMPTS {
            let before = self.config_generation()?;
            let value = read(self)?;
            if self.config_generation()? == before {
                return Ok(value);
            }
        }
        Err(VirtioError::ConfigUnstable { attempts: CONFIG_READ_ATTEMPTS })
    }

    /// A 64-bit config field, read as two 32-bit halves (the access width virtio-mmio allows
    /// for 64-bit fields) within one config generation.
    pub fn read_config_u64(&self, offset: usize) -> Result<u64, VirtioError> {
        let out_of_range = VirtioError::ConfigOutOfRange { offset, width: 8, size: self.config_size() };
        let high = offset.checked_add(4).ok_or(out_of_range)?;
        self.read_config_consistent(|t| {
            let low = t.read_config_u32(offset)?;
            Ok(u64::from(low) | u64::from(t.read_config_u32(high)?) << 32)
        })
    }
}

/// Checks a config access of `width` bytes at `offset` against a config space of `size` bytes.
/// Every transport calls it first, so all reject the same accesses the same way. Accesses must
/// be aligned to their width (virtio-mmio requires it; 64-bit fields are read as 32-bit halves).
pub fn check_config_access(offset: usize, width: usize, size: usize) -> Result<(), VirtioError> {
    if offset.checked_add(width).is_none_or(|end| end > size) {
        return Err(VirtioError::ConfigOutOfRange { offset, width, size });
    }
    if !offset.is_multiple_of(width) {
        return Err(VirtioError::ConfigMisaligned { offset, width });
    }
    Ok(())
}

/// What every virtio bus driver attaches as the `bus_data` of the virtio devices it creates,
/// whatever the transport. The device's driver takes it with
/// `ctx.take_bus_data::<virtio::VirtioDevice>()`.
pub struct VirtioDevice {
    pub transport: Box<dyn Transport>,
}

impl VirtioDevice {
    /// The registry device for this virtio device, named by type (`virtio-net`), matched by its
    /// virtio device ID, raising `irqs` (its transport's lines), carrying itself as `bus_data`.
    pub(crate) fn into_child(self, irqs: Vec<Irq>) -> DeviceSpec {
        let device_id = self.transport.device_id();
        let mut child = DeviceSpec::new(ids::device_name(device_id), BusAddress::Virtio, DeviceIds::Virtio { device_id });
        child.irqs = irqs;
        child.bus_data = Some(Box::new(self));
        child
    }
}
