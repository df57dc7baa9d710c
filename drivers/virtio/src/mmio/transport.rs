//! The virtio-mmio transport (virtio 1.2, section 4.2): version 2 (modern) and version 1
//! (legacy), every register access through a bounds-checked [`MmioWindow`].

use alloc::boxed::Box;

use registry::mmio::MmioWindow;

use crate::queue::{legacy_addresses, LEGACY_ALIGN};
use crate::{check_config_access, InterruptStatus, QueueAddresses, Transport, VirtioError};

/// "virt" in little-endian ASCII.
const MAGIC: u32 = 0x7472_6976;

// Register offsets (spec 4.2.2 table 4.1; 4.2.4 for the legacy-only ones).
const MAGIC_VALUE: usize = 0x000;
const VERSION: usize = 0x004;
const DEVICE_ID: usize = 0x008;
const DEVICE_FEATURES: usize = 0x010;
const DEVICE_FEATURES_SEL: usize = 0x014;
const DRIVER_FEATURES: usize = 0x020;
const DRIVER_FEATURES_SEL: usize = 0x024;
const LEGACY_GUEST_PAGE_SIZE: usize = 0x028;
const QUEUE_SEL: usize = 0x030;
const QUEUE_NUM_MAX: usize = 0x034;
const QUEUE_NUM: usize = 0x038;
const LEGACY_QUEUE_ALIGN: usize = 0x03c;
const LEGACY_QUEUE_PFN: usize = 0x040;
const QUEUE_READY: usize = 0x044;
const QUEUE_NOTIFY: usize = 0x050;
const INTERRUPT_STATUS: usize = 0x060;
const INTERRUPT_ACK: usize = 0x064;
const STATUS: usize = 0x070;
const QUEUE_DESC_LOW: usize = 0x080;
const QUEUE_DESC_HIGH: usize = 0x084;
const QUEUE_DRIVER_LOW: usize = 0x090;
const QUEUE_DRIVER_HIGH: usize = 0x094;
const QUEUE_DEVICE_LOW: usize = 0x0a0;
const QUEUE_DEVICE_HIGH: usize = 0x0a4;
const CONFIG_GENERATION: usize = 0x0fc;
/// Device-specific configuration starts here and runs to the end of the window.
pub(crate) const CONFIG: usize = 0x100;

/// Which register layout the device speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioVersion {
    /// Version 1: guest page size and queue PFN registers (QEMU's default).
    Legacy,
    /// Version 2: 64-bit queue addresses and QueueReady.
    Modern,
}

/// A virtio-mmio register window, checked to hold a virtio device.
#[derive(Debug)]
pub struct MmioTransport {
    window: MmioWindow,
    version: MmioVersion,
    device_id: u32,
}

impl MmioTransport {
    /// Checks the window's size, magic value and version. Device ID 0 is a valid result: an
    /// empty slot (spec 4.2.2), which the caller should not drive.
    pub fn new(window: MmioWindow) -> Result<Self, VirtioError> {
        if window.size() < CONFIG {
            return Err(VirtioError::WindowTooSmall { size: window.size() });
        }
        let magic = window.read32(MAGIC_VALUE)?;
        if magic != MAGIC {
            return Err(VirtioError::BadMagic(magic));
        }
        let version = match window.read32(VERSION)? {
            1 => MmioVersion::Legacy,
            2 => MmioVersion::Modern,
            other => return Err(VirtioError::UnsupportedMmioVersion(other)),
        };
        let device_id = window.read32(DEVICE_ID)?;
        Ok(MmioTransport { window, version, device_id })
    }

    pub fn version(&self) -> MmioVersion {
        self.version
    }

    fn read(&self, register: usize) -> Result<u32, VirtioError> {
        Ok(self.window.read32(register)?)
    }

    fn write(&self, register: usize, value: u32) -> Result<(), VirtioError> {
        Ok(self.window.write32(register, value)?)
    }

    /// Writes a 64-bit address as its low and high halves.
    fn write_address(&self, low: usize, high: usize, address: u64) -> Result<(), VirtioError> {
        self.write(low, address as u32)?;
        self.write(high, (address >> 32) as u32)
    }

    fn set_modern_queue(&self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        if self.read(QUEUE_READY)? != 0 {
            return Err(VirtioError::QueueInUse(index));
        }
        self.write(QUEUE_NUM, size.into())?;
        self.write_address(QUEUE_DESC_LOW, QUEUE_DESC_HIGH, rings.desc)?;
        self.write_address(QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, rings.driver)?;
        self.write_address(QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, rings.device)?;
        self.write(QUEUE_READY, 1)
    }

    /// A legacy device is only told the descriptor table's page frame and computes the rings'
    /// places from it (4.2.4), so the addresses must be exactly where it will look.
    fn set_legacy_queue(&self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        if self.read(LEGACY_QUEUE_PFN)? != 0 {
            return Err(VirtioError::QueueInUse(index));
        }
        let page = LEGACY_ALIGN as u64;
        let pfn = u32::try_from(rings.desc / page)
            .map_err(|_| VirtioError::LegacyAddressTooHigh { queue: index, phys: rings.desc })?;
        if !rings.desc.is_multiple_of(page) || rings != legacy_addresses(rings.desc, size) {
            return Err(VirtioError::LegacyLayoutMismatch { queue: index });
        }
        self.write(LEGACY_GUEST_PAGE_SIZE, LEGACY_ALIGN as u32)?;
        self.write(QUEUE_NUM, size.into())?;
        self.write(LEGACY_QUEUE_ALIGN, LEGACY_ALIGN as u32)?;
        self.write(LEGACY_QUEUE_PFN, pfn)
    }

    /// The window offset of `width` config bytes at `offset`, after the common check.
    fn config_register(&self, offset: usize, width: usize) -> Result<usize, VirtioError> {
        check_config_access(offset, width, self.config_size())?;
        Ok(CONFIG + offset)
    }
}

impl Transport for MmioTransport {
    fn device_id(&self) -> u32 {
        self.device_id
    }

    fn is_legacy(&self) -> bool {
        self.version == MmioVersion::Legacy
    }

    fn read_device_features(&mut self) -> Result<u64, VirtioError> {
        self.write(DEVICE_FEATURES_SEL, 1)?;
        let high = self.read(DEVICE_FEATURES)?;
        self.write(DEVICE_FEATURES_SEL, 0)?;
        let low = self.read(DEVICE_FEATURES)?;
        Ok(u64::from(high) << 32 | u64::from(low))
    }

    fn write_driver_features(&mut self, features: u64) -> Result<(), VirtioError> {
        self.write(DRIVER_FEATURES_SEL, 1)?;
        self.write(DRIVER_FEATURES, (features >> 32) as u32)?;
        self.write(DRIVER_FEATURES_SEL, 0)?;
        self.write(DRIVER_FEATURES, features as u32)
    }

    fn get_status(&self) -> Result<u8, VirtioError> {
        // The status is the register's low byte.
        Ok(self.read(STATUS)? as u8)
    }

    fn set_status(&mut self, status: u8) -> Result<(), VirtioError> {
        self.write(STATUS, status.into())
    }

    fn max_queue_size(&mut self, index: u16) -> Result<u16, VirtioError> {
        self.write(QUEUE_SEL, index.into())?;
        // A maximum beyond 16 bits is clamped; the queue code clamps further to the spec's limit.
        Ok(u16::try_from(self.read(QUEUE_NUM_MAX)?).unwrap_or(u16::MAX))
    }

    fn set_queue(&mut self, index: u16, size: u16, rings: QueueAddresses) -> Result<(), VirtioError> {
        self.write(QUEUE_SEL, index.into())?;
        match self.version {
            MmioVersion::Modern => self.set_modern_queue(index, size, rings),
            MmioVersion::Legacy => self.set_legacy_queue(index, size, rings),
        }
    }

    fn queue_notify(&self, index: u16) -> Result<(), VirtioError> {
        self.write(QUEUE_NOTIFY, index.into())
    }

    fn config_size(&self) -> usize {
        self.window.size() - CONFIG
    }

    fn config_generation(&self) -> Result<Option<u32>, VirtioError> {
        match self.version {
            MmioVersion::Modern => Ok(Some(self.read(CONFIG_GENERATION)?)),
            MmioVersion::Legacy => Ok(None),
        }
    }

    fn read_config_u8(&self, offset: usize) -> Result<u8, VirtioError> {
        Ok(self.window.read8(self.config_register(offset, 1)?)?)
    }

    fn read_config_u16(&self, offset: usize) -> Result<u16, VirtioError> {
        Ok(self.window.read16(self.config_register(offset, 2)?)?)
    }

    fn read_config_u32(&self, offset: usize) -> Result<u32, VirtioError> {
        Ok(self.window.read32(self.config_register(offset, 4)?)?)
    }

    fn write_config_u8(&mut self, offset: usize, value: u8) -> Result<(), VirtioError> {
        Ok(self.window.write8(self.config_register(offset, 1)?, value)?)
    }

    fn write_config_u16(&mut self, offset: usize, value: u16) -> Result<(), VirtioError> {
        Ok(self.window.write16(self.config_register(offset, 2)?, value)?)
    }

    fn write_config_u32(&mut self, offset: usize, value: u32) -> Result<(), VirtioError> {
        Ok(self.window.write32(self.config_register(offset, 4)?, value)?)
    }

    fn interrupt_status(&self) -> Box<dyn InterruptStatus> {
        Box::new(MmioInterruptStatus(self.window.alias()))
    }
}

/// InterruptStatus and InterruptACK through an alias of the transport's window: neither
/// depends on a select register the driver may be changing.
struct MmioInterruptStatus(MmioWindow);

impl InterruptStatus for MmioInterruptStatus {
    fn take_causes(&self) -> Result<u32, VirtioError> {
        let causes = self.0.read32(INTERRUPT_STATUS)?;
        if causes != 0 {
            // Every bit read is acknowledged, so that the device lowers its line.
            self.0.write32(INTERRUPT_ACK, causes)?;
        }
        Ok(causes)
    }
}
