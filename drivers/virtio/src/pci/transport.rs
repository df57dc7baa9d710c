//! The modern virtio-pci transport (spec 4.1.4): common configuration, notifications at
//! `notify base + queue_notify_off * multiplier`, the ISR byte, and device configuration, each
//! in its own bounds-checked window; with MSI-X, the vector of configuration changes and of
//! each queue (spec 4.1.4.3, 4.1.5.1.2).

use alloc::boxed::Box;
use alloc::vec::Vec;

use bus_pci::PciFunction;
use registry::mmio::MmioWindow;
use registry::Platform;

use super::capabilities::{self, Located, COMMON_CFG, DEVICE_CFG, ISR_CFG, NOTIFY_CFG};
use crate::status::DRIVER_OK;
use crate::{check_config_access, InterruptStatus, QueueAddresses, Transport, VirtioError};

// `struct virtio_pci_common_cfg` (spec 4.1.4.3).
const DEVICE_FEATURE_SELECT: usize = 0x00;
const DEVICE_FEATURE: usize = 0x04;
const DRIVER_FEATURE_SELECT: usize = 0x08;
const DRIVER_FEATURE: usize = 0x0c;
const CONFIG_MSIX_VECTOR: usize = 0x10;
const NUM_QUEUES: usize = 0x12;
const DEVICE_STATUS: usize = 0x14;
const CONFIG_GENERATION: usize = 0x15;
const QUEUE_SELECT: usize = 0x16;
const QUEUE_SIZE: usize = 0x18;
const QUEUE_MSIX_VECTOR: usize = 0x1a;
const QUEUE_ENABLE: usize = 0x1c;
const QUEUE_NOTIFY_OFF: usize = 0x1e;
const QUEUE_DESC: usize = 0x20;
const QUEUE_DRIVER: usize = 0x28;
const QUEUE_DEVICE: usize = 0x30;
/// Every field up to `queue_device`; later fields are optional.
const COMMON_CFG_MIN: u64 = 0x38;

/// Which MSI-X vector signals what: vector 0 configuration changes, the queues share the
/// vectors from 1 on round robin (one each when there are enough).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixRouting {
    /// Vectors for queues (at least 1).
    pub queue_vectors: u16,
}

impl MsixRouting {
    pub const CONFIG_VECTOR: u16 = 0;

    pub fn queue_vector(&self, queue: u16) -> u16 {
        1 + queue % self.queue_vectors.max(1)
    }
}

/// A virtio-pci function's modern interface.
#[derive(Debug)]
pub struct PciTransport {
    device_id: u32,
    common: MmioWindow,
    notify: MmioWindow,
    notify_multiplier: u32,
    isr: MmioWindow,
    /// Absent when the device has no device-specific configuration.
    device: Option<MmioWindow>,
    /// Where each enabled queue's doorbell is in the notify window.
    doorbells: Vec<(u16, usize)>,
    /// Set once MSI-X is on for the function: the device is then told its vectors.
    msix: Option<MsixRouting>,
}

fn map(platform: &dyn Platform, located: Located) -> Result<MmioWindow, VirtioError> {
    MmioWindow::map(platform, located.region).map_err(|error| VirtioError::Memory { what: "register window", error })
}

impl PciTransport {
    /// Locates and maps the common, notify, ISR and (if present) device configuration.
    pub fn new(function: &PciFunction, device_id: u32, platform: &dyn Platform) -> Result<Self, VirtioError> {
        let required = |cfg_type, what| capabilities::find(function, cfg_type)?.ok_or(VirtioError::PciCapabilityMissing(what));
        let common = required(COMMON_CFG, "common configuration")?;
        if common.region.size < COMMON_CFG_MIN {
            return Err(VirtioError::PciCapabilityInvalid { offset: common.capability, reason: "common configuration too short" });
        }
        let notify = required(NOTIFY_CFG, "notification")?;
        let isr = required(ISR_CFG, "ISR status")?;
        let device = capabilities::find(function, DEVICE_CFG)?;
        Ok(PciTransport {
            device_id,
            notify_multiplier: capabilities::notify_multiplier(function, &notify),
            common: map(platform, common)?,
            notify: map(platform, notify)?,
            isr: map(platform, isr)?,
            device: device.map(|d| map(platform, d)).transpose()?,
            doorbells: Vec::new(),
            msix: None,
        })
    }

    pub fn notify_multiplier(&self) -> u32 {
        self.notify_multiplier
    }

    /// How many queues the device has.
    pub fn num_queues(&self) -> Result<u16, VirtioError> {
        Ok(self.common.read16(NUM_QUEUES)?)
    }

    /// From now on, queues and configuration changes are given the vectors of `routing` as
    /// they are set up (the device forgets them on reset). Call once MSI-X is enabled: the
    /// device only takes vectors then.
    pub fn use_msix(&mut self, routing: MsixRouting) {
        self.msix = Some(routing);
    }

    /// Writes a vector register and checks that the device took the vector (one it could not
    /// take reads back as NO_VECTOR, 0xffff).
    fn set_vector(&self, register: usize, vector: u16, queue: Option<u16>) -> Result<(), VirtioError> {
        self.common.write16(register, vector)?;
        match self.common.read16(register)? {
            read if read == vector => Ok(()),
            _ => Err(VirtioError::VectorRefused { queue, vector }),
        }
    }

    fn select_queue(&self, index: u16) -> Result<bool, VirtioError> {
        if index >= self.common.read16(NUM_QUEUES)? {
            return Ok(false);
        }
        self.common.write16(QUEUE_SELECT, index)?;
        Ok(true)
    }

    /// Writes a 64-bit field as two 32-bit halves, low first (spec 4.1.3.1 allows it).
    fn write64(&self, offset: usize, value: u64) -> Result<(), VirtioError> {
        self.common.write32(offset, value as u32)?;
        self.common.write32(offset + 4, (value >> 32) as u32)?;
        Ok(())
    }

    fn device_config(&self, offset: usize, width: usize) -> Result<&MmioWindow, VirtioError> {
        check_config_access(offset, width, self.config_size())?;
        // `config_size` is 0 without a device window, so the check above refused the access.
        self.device.as_ref().ok_or(VirtioError::ConfigOutOfRange { offset, width, size: 0 })
    }
}

impl Transport for PciTransport {
    fn device_id(&self) -> u32 {
        self.device_id
    }

    fn is_legacy(&self) -> bool {
        false
    }

    fn read_device_features(&mut self) -> Result<u64, VirtioError> {
        let mut features = 0u64;
        for half in 0..2u32 {
            self.common.write32(DEVICE_FEATURE_SELECT, half)?;
            features |= u64::from(self.common.read32(DEVICE_FEATURE)?) << (32 * half);
        }
        Ok(features)
    }

    fn write_driver_features(&mut self, features: u64) -> Result<(), VirtioError> {
        for half in 0..2u32 {
            self.common.write32(DRIVER_FEATURE_SELECT, half)?;
            self.common.write32(DRIVER_FEATURE, (features >> (32 * half)) as u32)?;
        }
        Ok(())
    }

    fn get_status(&self) -> Result<u8, VirtioError> {
        Ok(self.common.read8(DEVICE_STATUS)?)
    }

    fn set_status(&mut self, status: u8) -> Result<(), VirtioError> {
        if status == 0 {
            // A reset forgets every queue's setup.
            self.doorbells.clear();
        }
        if self.msix.is_some() && status & DRIVER_OK != 0 {
            // Configuration changes may be signalled from DRIVER_OK on.
            self.set_vector(CONFIG_MSIX_VECTOR, MsixRouting::CONFIG_VECTOR, None)?;
        }
        Ok(self.common.write8(DEVICE_STATUS, status)?)
    }

    fn max_queue_size(&mut self, index: u16) -> Result<u16, VirtioError> {
        if !self.select_queue(index)? {
            return Ok(0);
        }
        Ok(self.common.read16(QUEUE_SIZE)?)
    }

    fn set_queue(&mut self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        if size == 0 {
            return Err(VirtioError::ZeroQueueSize(index));
        }
        if !self.select_queue(index)? || self.common.read16(QUEUE_SIZE)? == 0 {
            return Err(VirtioError::QueueNotAvailable(index));
        }
        if self.common.read16(QUEUE_ENABLE)? != 0 {
            return Err(VirtioError::QueueInUse(index));
        }
        let doorbell = usize::from(self.common.read16(QUEUE_NOTIFY_OFF)?)
            .checked_mul(self.notify_multiplier as usize)
            .filter(|&offset| offset.checked_add(2).is_some_and(|end| end <= self.notify.size()))
            .ok_or(VirtioError::PciCapabilityInvalid { offset: 0, reason: "queue doorbell outside the notify window" })?;
        self.common.write16(QUEUE_SIZE, size)?;
        self.write64(QUEUE_DESC, rings.desc)?;
        self.write64(QUEUE_DRIVER, rings.driver)?;
        self.write64(QUEUE_DEVICE, rings.device)?;
        if let Some(routing) = self.msix {
            self.set_vector(QUEUE_MSIX_VECTOR, routing.queue_vector(index), Some(index))?;
        }
        self.common.write16(QUEUE_ENABLE, 1)?;
        self.doorbells.retain(|&(queue, _)| queue != index);
        self.doorbells.push((index, doorbell));
        Ok(())
    }

    fn queue_notify(&self, index: u16) -> Result<(), VirtioError> {
        let &(_, doorbell) = self.doorbells.iter().find(|&&(queue, _)| queue == index).ok_or(VirtioError::QueueNotAvailable(index))?;
        Ok(self.notify.write16(doorbell, index)?)
    }

    fn config_size(&self) -> usize {
        self.device.as_ref().map_or(0, MmioWindow::size)
    }

    fn config_generation(&self) -> Result<Option<u32>, VirtioError> {
        Ok(Some(u32::from(self.common.read8(CONFIG_GENERATION)?)))
    }

    fn read_config_u8(&self, offset: usize) -> Result<u8, VirtioError> {
        Ok(self.device_config(offset, 1)?.read8(offset)?)
    }

    fn read_config_u16(&self, offset: usize) -> Result<u16, VirtioError> {
        Ok(self.device_config(offset, 2)?.read16(offset)?)
    }

    fn read_config_u32(&self, offset: usize) -> Result<u32, VirtioError> {
        Ok(self.device_config(offset, 4)?.read32(offset)?)
    }

    fn write_config_u8(&mut self, offset: usize, value: u8) -> Result<(), VirtioError> {
        Ok(self.device_config(offset, 1)?.write8(offset, value)?)
    }

    fn write_config_u16(&mut self, offset: usize, value: u16) -> Result<(), VirtioError> {
        Ok(self.device_config(offset, 2)?.write16(offset, value)?)
    }

    fn write_config_u32(&mut self, offset: usize, value: u32) -> Result<(), VirtioError> {
        Ok(self.device_config(offset, 4)?.write32(offset, value)?)
    }

    fn interrupt_status(&self) -> Box<dyn InterruptStatus> {
        Box::new(IsrStatus(self.isr.alias()))
    }

    fn message_signalled(&self) -> bool {
        self.msix.is_some()
    }
}

/// The ISR status byte through an alias of its window.
struct IsrStatus(MmioWindow);

impl InterruptStatus for IsrStatus {
    /// Reading the byte also clears it and lowers INTx (spec 4.1.4.5): the read is the
    /// acknowledgement.
    fn take_causes(&self) -> Result<u32, VirtioError> {
        Ok(u32::from(self.0.read8(0)?))
    }
}
