//! [`SimLegacyPci`]: the legacy register block of a transitional virtio-pci function (virtio
//! 1.2, 4.1.4.8), as I/O BAR 0 on the [`SimPlatform`](super::SimPlatform)'s port space, in front
//! of a legacy [`SimDevice`]. Register accesses of the wrong width, and accesses to the MSI-X
//! vector registers while MSI-X is off (where the device configuration is), are driver bugs
//! and panic, as does anything the device itself would refuse.

use alloc::boxed::Box;
use alloc::vec::Vec;

use spin::Mutex;

use super::platform::PortDevice;
use super::SimDevice;
use crate::queue::{legacy_addresses, LEGACY_ALIGN};

const DEVICE_FEATURES: u16 = 0;
const GUEST_FEATURES: u16 = 4;
const QUEUE_ADDRESS: u16 = 8;
const QUEUE_SIZE: u16 = 12;
const QUEUE_SELECT: u16 = 14;
const QUEUE_NOTIFY: u16 = 16;
const DEVICE_STATUS: u16 = 18;
const ISR_STATUS: u16 = 19;
const CONFIG_MSIX_VECTOR: u16 = 20;
const QUEUE_MSIX_VECTOR: u16 = 22;
/// What a vector register reads when it has no vector (or refused one).
pub const NO_VECTOR: u16 = 0xffff;
/// Selects at or beyond this are ignored, as QEMU does (`VIRTIO_QUEUE_MAX`).
const QUEUE_SELECT_LIMIT: u16 = 1024;

/// The legacy interface of `device` (made with [`Interface::Legacy`](super::Interface)).
pub struct SimLegacyPci {
    device: SimDevice,
    /// Whether MSI-X is enabled in the function's configuration space right now.
    msix_enabled: Box<dyn Fn() -> bool + Send + Sync>,
    /// How many MSI-X vectors the function's table has: larger vectors read back NO_VECTOR.
    msix_vectors: u16,
    registers: Mutex<Registers>,
}

struct Registers {
    queue_select: u16,
    config_vector: u16,
    queue_vectors: Vec<u16>,
    /// Every access, for tests to check what the driver did: (offset, width, written value).
    log: Vec<(u16, u8, Option<u32>)>,
}

impl SimLegacyPci {
    /// `msix_enabled` tells whether the function's MSI-X capability is on (tests read it from
    /// the simulated configuration space), `msix_vectors` its table size (0 without one).
    pub fn new(device: SimDevice, msix_vectors: u16, msix_enabled: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        let state = device.state.lock();
        assert!(state.is_legacy(), "sim: a legacy virtio-pci function needs a device with Interface::Legacy");
        let queues = state.queue_count();
        drop(state);
        let registers = Registers { queue_select: 0, config_vector: NO_VECTOR, queue_vectors: alloc::vec![NO_VECTOR; queues], log: Vec::new() };
        SimLegacyPci { device, msix_enabled: Box::new(msix_enabled), msix_vectors, registers: Mutex::new(registers) }
    }

    /// The I/O BAR size for this device: the registers with the vectors (the function has MSI-X
    /// whether or not it is on), then the configuration, rounded up to a power of two as
    /// QEMU does.
    pub fn bar_size(&self) -> u16 {
        let config = self.device.state.lock().config.len();
        ((24 + config) as u16).next_power_of_two()
    }

    /// The MSI-X vector of configuration changes and of each queue (NO_VECTOR when none).
    pub fn vectors(&self) -> (u16, Vec<u16>) {
        let registers = self.registers.lock();
        (registers.config_vector, registers.queue_vectors.clone())
    }

    /// Every register access so far: offset, width, and the value for a write.
    pub fn accesses(&self) -> Vec<(u16, u8, Option<u32>)> {
        self.registers.lock().log.clone()
    }

    fn config_offset(&self) -> u16 {
        if (self.msix_enabled)() { 24 } else { 20 }
    }

    fn expect_width(offset: u16, width: u8, expected: u8) {
        assert!(width == expected, "sim: {width}-byte access to legacy register {offset} of {expected} bytes (driver bug)");
    }

    /// The vector register at `offset`, if MSI-X is on (it is device configuration otherwise).
    fn is_vector(&self, offset: u16) -> bool {
        (offset == CONFIG_MSIX_VECTOR || offset == QUEUE_MSIX_VECTOR) && (self.msix_enabled)()
    }

    fn config_range(&self, offset: u16, width: u8) -> core::ops::Range<usize> {
        let start = usize::from(offset - self.config_offset());
        let len = self.device.state.lock().config.len();
        let end = start + usize::from(width);
        assert!(end <= len, "sim: config access at {start:#x} beyond the {len}-byte configuration (driver bug)");
        start..end
    }
}

impl PortDevice for SimLegacyPci {
    fn read(&self, offset: u16, width: u8) -> u32 {
        self.registers.lock().log.push((offset, width, None));
        let mut state = self.device.state.lock();
        let registers = self.registers.lock();
        let select = registers.queue_select;
        let width_of = |expected| Self::expect_width(offset, width, expected);
        match offset {
            DEVICE_FEATURES => {
                width_of(4);
                state.device_features() as u32
            }
            GUEST_FEATURES => {
                width_of(4);
                state.driver_features as u32
            }
            QUEUE_ADDRESS => {
                width_of(4);
                match usize::from(select) < state.queue_count() {
                    true => state.queue_mut(select).enabled.map_or(0, |(_, rings)| (rings.desc / LEGACY_ALIGN as u64) as u32),
                    false => 0,
                }
            }
            QUEUE_SIZE => {
                width_of(2);
                state.max_queue_size(select).into()
            }
            QUEUE_SELECT => {
                width_of(2);
                select.into()
            }
            DEVICE_STATUS => {
                width_of(1);
                state.status().into()
            }
            ISR_STATUS => {
                width_of(1);
                // Read to clear (4.1.4.5).
                state.take_interrupt_status()
            }
            _ if self.is_vector(offset) => {
                width_of(2);
                match offset {
                    CONFIG_MSIX_VECTOR => registers.config_vector.into(),
                    _ => registers.queue_vectors.get(usize::from(select)).copied().unwrap_or(NO_VECTOR).into(),
                }
            }
            _ if offset >= self.config_offset() => {
                drop(registers);
                drop(state);
                let range = self.config_range(offset, width);
                let state = self.device.state.lock();
                let mut bytes = [0u8; 4];
                bytes[..range.len()].copy_from_slice(&state.config[range]);
                u32::from_le_bytes(bytes)
            }
            _ => panic!("sim: read of legacy register {offset}, width {width} (driver bug)"),
        }
    }

    fn write(&self, offset: u16, width: u8, value: u32) {
        self.registers.lock().log.push((offset, width, Some(value)));
        let mut state = self.device.state.lock();
        let mut registers = self.registers.lock();
        let select = registers.queue_select;
        let width_of = |expected| Self::expect_width(offset, width, expected);
        match offset {
            GUEST_FEATURES => {
                width_of(4);
                state.write_driver_features(value.into());
            }
            QUEUE_ADDRESS => {
                width_of(4);
                assert!(value != 0, "sim: queue {select} address 0 (deactivation is not simulated)");
                let size = state.max_queue_size(select);
                let desc = u64::from(value) * LEGACY_ALIGN as u64;
                // The device learns the frame only; it works the rings out itself.
                state.set_queue(select, size, legacy_addresses(desc, size)).expect("sim: queue address written twice (driver bug)");
            }
            QUEUE_SELECT => {
                width_of(2);
                if (value as u16) < QUEUE_SELECT_LIMIT {
                    registers.queue_select = value as u16;
                }
            }
            QUEUE_NOTIFY => {
                width_of(2);
                drop(registers);
                state.notify(value as u16);
            }
            DEVICE_STATUS => {
                width_of(1);
                state.write_status(value as u8);
                if value == 0 {
                    registers.config_vector = NO_VECTOR;
                    registers.queue_vectors.iter_mut().for_each(|vector| *vector = NO_VECTOR);
                }
            }
            _ if self.is_vector(offset) => {
                width_of(2);
                let vector = if (value as u16) < self.msix_vectors { value as u16 } else { NO_VECTOR };
                match offset {
                    CONFIG_MSIX_VECTOR => registers.config_vector = vector,
                    _ => {
                        let queue = registers.queue_vectors.get_mut(usize::from(select));
                        *queue.expect("sim: vector for a queue the device does not have (driver bug)") = vector;
                    }
                }
            }
            _ if offset >= self.config_offset() => {
                drop(registers);
                drop(state);
                let range = self.config_range(offset, width);
                let bytes = value.to_le_bytes();
                self.device.state.lock().config[range.clone()].copy_from_slice(&bytes[..range.len()]);
            }
            _ => panic!("sim: write of {value:#x} to legacy register {offset}, width {width} (driver bug)"),
        }
    }
}
