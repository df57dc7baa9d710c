//! The legacy virtio-pci transport (virtio 1.2, 4.1.4.8 "Legacy Interfaces: A Note on PCI
//! Device Layout"): a transitional device without the modern capabilities (QEMU's
//! `disable-modern=on`) has every register in I/O BAR 0. 32 feature bits, a queue located by
//! the page frame number of its descriptor table with the legacy ring layout, queue sizes the
//! device fixes, and, only while MSI-X is on, two vector registers that push the device
//! configuration from offset 20 to 24.

use alloc::boxed::Box;

use crate::queue::{legacy_addresses, LEGACY_ALIGN};
use crate::status::DRIVER_OK;
use crate::{check_config_access, InterruptStatus, QueueAddresses, Transport, VirtioError};

use super::io_bar::IoBar;
use super::transport::MsixRouting;

// The legacy register block (spec 4.1.4.8).
const DEVICE_FEATURES: usize = 0;
const GUEST_FEATURES: usize = 4;
const QUEUE_ADDRESS: usize = 8;
const QUEUE_SIZE: usize = 12;
const QUEUE_SELECT: usize = 14;
const QUEUE_NOTIFY: usize = 16;
const DEVICE_STATUS: usize = 18;
const ISR_STATUS: usize = 19;
/// Present only while MSI-X is enabled in the function.
const CONFIG_MSIX_VECTOR: usize = 20;
const QUEUE_MSIX_VECTOR: usize = 22;
/// Device-specific configuration: after the ISR byte, or after the vectors with MSI-X on.
const CONFIG: usize = 20;
const CONFIG_WITH_MSIX: usize = 24;
/// Queue indices tried when counting the queues: the legacy interface has no count register,
/// and QEMU, for one, ignores a select of 1024 (`VIRTIO_QUEUE_MAX`) or more.
const MAX_QUEUES: u16 = 1024;

/// A transitional virtio-pci function driven through its legacy I/O BAR.
#[derive(Debug)]
pub struct LegacyPciTransport {
    device_id: u32,
    registers: IoBar,
    /// Set once MSI-X is on for the function: the vector registers then exist.
    msix: Option<MsixRouting>,
}

impl LegacyPciTransport {
    /// Checks that BAR 0 holds at least the register block (without the MSI-X vectors,
    /// which a function without MSI-X lacks).
    pub(crate) fn new(registers: IoBar, device_id: u32) -> Result<Self, VirtioError> {
        if registers.size() < CONFIG {
            return Err(VirtioError::IoBarUnusable("too small for the legacy registers"));
        }
        Ok(LegacyPciTransport { device_id, registers, msix: None })
    }

    /// Where the registers are, for `lsdev`: `ports 0xc000+0x40` on a PC, `MMIO 0x3eff1000+0x40`
    /// through a host bridge's I/O window.
    pub fn registers(&self) -> alloc::string::String {
        alloc::format!("{:?}", self.registers)
    }

    /// How many queues the device has: the legacy interface has no count, so the queues are
    /// selected in turn until one reads size 0.
    pub fn num_queues(&self) -> Result<u16, VirtioError> {
        let mut count = 0;
        while count < MAX_QUEUES && self.select_queue(count)? && self.registers.read16(QUEUE_SIZE)? != 0 {
            count += 1;
        }
        Ok(count)
    }

    /// From now on queues and configuration changes get the vectors of `routing`. Call once
    /// MSI-X is enabled in the function: the vector registers exist only then, and the device
    /// configuration moves behind them.
    pub fn use_msix(&mut self, routing: MsixRouting) -> Result<(), VirtioError> {
        if self.registers.size() < CONFIG_WITH_MSIX {
            return Err(VirtioError::IoBarUnusable("too small for the MSI-X vector registers"));
        }
        self.msix = Some(routing);
        Ok(())
    }

    /// Selects queue `index`; false when the device does not take the selection (it reads
    /// back something else), so no other queue's registers are mistaken for it.
    fn select_queue(&self, index: u16) -> Result<bool, VirtioError> {
        if index >= MAX_QUEUES {
            return Ok(false);
        }
        self.registers.write16(QUEUE_SELECT, index)?;
        Ok(self.registers.read16(QUEUE_SELECT)? == index)
    }

    /// Writes a vector register and checks that the device took the vector (one it could not
    /// take reads back as NO_VECTOR, 0xffff).
    fn set_vector(&self, register: usize, vector: u16, queue: Option<u16>) -> Result<(), VirtioError> {
        self.registers.write16(register, vector)?;
        match self.registers.read16(register)? {
            read if read == vector => Ok(()),
            _ => Err(VirtioError::VectorRefused { queue, vector }),
        }
    }

    fn config_offset(&self) -> usize {
        if self.msix.is_some() { CONFIG_WITH_MSIX } else { CONFIG }
    }

    /// The BAR offset of `width` config bytes at `offset`, after the common check.
    fn config_register(&self, offset: usize, width: usize) -> Result<usize, VirtioError> {
        check_config_access(offset, width, self.config_size())?;
        Ok(self.config_offset() + offset)
    }

    /// The page frame number the device is given for a queue whose descriptor table is at
    /// `rings.desc`: the rings must lie where the device computes them from it (spec 2.7.2
    /// legacy), and the frame must fit the 32-bit register (addresses below 2^44).
    fn page_frame(index: u16, size: u16, rings: QueueAddresses) -> Result<u32, VirtioError> {
        let page = LEGACY_ALIGN as u64;
        let pfn = u32::try_from(rings.desc / page).map_err(|_| VirtioError::LegacyAddressTooHigh { queue: index, phys: rings.desc })?;
        if !rings.desc.is_multiple_of(page) || rings != legacy_addresses(rings.desc, size) {
            return Err(VirtioError::LegacyLayoutMismatch { queue: index });
        }
        Ok(pfn)
    }
}

impl Transport for LegacyPciTransport {
    fn device_id(&self) -> u32 {
        self.device_id
    }

    fn is_legacy(&self) -> bool {
        true
    }

    fn read_device_features(&mut self) -> Result<u64, VirtioError> {
        Ok(u64::from(self.registers.read32(DEVICE_FEATURES)?))
    }

    fn write_driver_features(&mut self, features: u64) -> Result<(), VirtioError> {
        // The register holds bits 0-31; the negotiation never accepts more from a legacy device.
        let low = u32::try_from(features).map_err(|_| VirtioError::FeaturesRefused(features))?;
        Ok(self.registers.write32(GUEST_FEATURES, low)?)
    }

    fn get_status(&self) -> Result<u8, VirtioError> {
        Ok(self.registers.read8(DEVICE_STATUS)?)
    }

    fn set_status(&mut self, status: u8) -> Result<(), VirtioError> {
        if self.msix.is_some() && status & DRIVER_OK != 0 {
            // The device forgets its vectors on reset; configuration changes may be signalled
            // from DRIVER_OK on.
            self.set_vector(CONFIG_MSIX_VECTOR, MsixRouting::CONFIG_VECTOR, None)?;
        }
        Ok(self.registers.write8(DEVICE_STATUS, status)?)
    }

    fn max_queue_size(&mut self, index: u16) -> Result<u16, VirtioError> {
        if !self.select_queue(index)? {
            return Ok(0);
        }
        Ok(self.registers.read16(QUEUE_SIZE)?)
    }

    fn queue_size_fixed(&self) -> bool {
        true
    }

    fn set_queue(&mut self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        if size == 0 {
            return Err(VirtioError::ZeroQueueSize(index));
        }
        if !self.select_queue(index)? {
            return Err(VirtioError::QueueNotAvailable(index));
        }
        match self.registers.read16(QUEUE_SIZE)? {
            0 => return Err(VirtioError::QueueNotAvailable(index)),
            device if !device.is_power_of_two() => return Err(VirtioError::QueueSizeInvalid { queue: index, size: device }),
            device if device != size => return Err(VirtioError::QueueSizeFixed { queue: index, device, wanted: size }),
            _ => {}
        }
        if self.registers.read32(QUEUE_ADDRESS)? != 0 {
            return Err(VirtioError::QueueInUse(index));
        }
        let pfn = Self::page_frame(index, size, rings)?;
        if let Some(routing) = self.msix {
            self.set_vector(QUEUE_MSIX_VECTOR, routing.queue_vector(index), Some(index))?;
        }
        Ok(self.registers.write32(QUEUE_ADDRESS, pfn)?)
    }

    fn queue_notify(&self, index: u16) -> Result<(), VirtioError> {
        Ok(self.registers.write16(QUEUE_NOTIFY, index)?)
    }

    fn config_size(&self) -> usize {
        self.registers.size().saturating_sub(self.config_offset())
    }

    fn config_generation(&self) -> Result<Option<u32>, VirtioError> {
        Ok(None)
    }

    fn read_config_u8(&self, offset: usize) -> Result<u8, VirtioError> {
        Ok(self.registers.read8(self.config_register(offset, 1)?)?)
    }

    fn read_config_u16(&self, offset: usize) -> Result<u16, VirtioError> {
        Ok(self.registers.read16(self.config_register(offset, 2)?)?)
    }

    fn read_config_u32(&self, offset: usize) -> Result<u32, VirtioError> {
        Ok(self.registers.read32(self.config_register(offset, 4)?)?)
    }

    fn write_config_u8(&mut self, offset: usize, value: u8) -> Result<(), VirtioError> {
        Ok(self.registers.write8(self.config_register(offset, 1)?, value)?)
    }

    fn write_config_u16(&mut self, offset: usize, value: u16) -> Result<(), VirtioError> {
        Ok(self.registers.write16(self.config_register(offset, 2)?, value)?)
    }

    fn write_config_u32(&mut self, offset: usize, value: u32) -> Result<(), VirtioError> {
        Ok(self.registers.write32(self.config_register(offset, 4)?, value)?)
    }

    fn interrupt_status(&self) -> Box<dyn InterruptStatus> {
        Box::new(LegacyIsr(self.registers.alias()))
    }

    fn message_signalled(&self) -> bool {
        self.msix.is_some()
    }
}

/// The ISR status byte through an alias of the BAR.
struct LegacyIsr(IoBar);

impl InterruptStatus for LegacyIsr {
    /// Reading the byte clears it and lowers INTx (spec 4.1.4.5): the read is the
    /// acknowledgement.
    fn take_causes(&self) -> Result<u32, VirtioError> {
        Ok(u32::from(self.0.read8(ISR_STATUS)?))
    }
}
