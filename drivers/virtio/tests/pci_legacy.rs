//! The legacy virtio-pci transport (virtio 1.2, 4.1.4.8) as a device driver sees it: a
//! transitional function (1af4:1001, subsystem 2) without the modern capabilities, its I/O BAR 0
//! on the simulated platform's port space in front of a simulated legacy block device
//! ([`SimLegacyPci`]), or as plain memory behind an MMIO I/O window; a test block driver brings
//! the device up and the test checks what the transport did.

mod common;

use std::sync::Arc;

use bus_pci::sim::{SimBar, SimBus, SimConfig, SimFunction};
use bus_pci::{Bdf, ConfigAccess, PcPciBus};
use common::test_blk::Bound;
use registry::mmio::MmioWindow;
use registry::{DeviceState, Irq, IrqError, IrqHandler, IrqStats, MmioRegion, MsiMessage, MsiSource, MsiVector, Platform, Registry};
use virtio::sim::{BlockModel, Interface, SimDevice, SimLegacyPci, SimPlatform, NO_VECTOR};
use virtio::{Buffer, Interrupt, VirtioError};

registry::register_driver!(TEST_BLK = common::test_blk::DRIVER);

const PORT_BASE: u16 = 0xc000;
const SECTORS: u64 = 64;
const FUNCTION: &str = "/pci0/00:01.0";
const BLK: &str = "/pci0/00:01.0/virtio-blk";
const BDF: Bdf = Bdf { bus: 0, device: 1, function: 0 };
/// The legacy registers QEMU's devices have (4.1.4.8).
const QUEUE_ADDRESS: u16 = 8;
const QUEUE_NOTIFY: u16 = 16;
const QUEUE_MSIX_VECTOR: u16 = 22;
// The MSI-X table, in memory BAR 1 as QEMU places it for a legacy-only device.
const MSIX_BAR_BASE: u64 = 0x2000_0000;
const MSIX_BAR_SIZE: usize = 0x1000;
const MSI_ADDRESS: u64 = 0xfee0_0000;
const FIRST_MSI: u32 = 100;

/// A transitional block function with I/O BAR 0 of `bar_size` at `port`, and optionally an
/// MSI-X capability (`vectors`, table at the start of memory BAR 1).
fn function(bar_size: u16, port: u32, msix_vectors: Option<u16>) -> SimFunction {
    let mut function = SimFunction::endpoint(1, 0, 0x1af4, 0x1001, 0x01_00_00)
        .bar(0, SimBar::io(bar_size.into()))
        .word(0x10, port | 1)
        .word(0x2c, 2 << 16 | 0x1af4) // subsystem: virtio device ID 2 (block)
        .interrupt(1, 11);
    if let Some(vectors) = msix_vectors {
        let mut msix = (vectors - 1).to_le_bytes().to_vec();
        msix.extend(1u32.to_le_bytes()); // table at 0 in BAR 1
        msix.extend(0x801u32.to_le_bytes()); // PBA at 0x800 in BAR 1
        function = function.bar(1, SimBar::memory32(MSIX_BAR_SIZE as u64)).word(0x14, MSIX_BAR_BASE as u32).capabilities(&[(bus_pci::caps::CAP_MSIX, &msix)]);
    }
    function
}

/// The simulated legacy block device of `queue_max` entries behind ports from PORT_BASE,
/// whose vector registers appear while the function's MSI-X is on in `config`.
struct Rig {
    device: SimDevice,
    legacy: Arc<SimLegacyPci>,
    config: Arc<SimConfig>,
}

fn rig(platform: &'static SimPlatform, queue_max: u16, msix_vectors: Option<u16>) -> Rig {
    let device = SimDevice::new(platform, Interface::Legacy, BlockModel::new(SECTORS as usize));
    device.set_queue_max(0, queue_max);
    let probe_size = SimLegacyPci::new(device.clone(), 0, || false).bar_size();
    let config = Arc::new(SimConfig::new(0, SimBus::new().with(function(probe_size, PORT_BASE.into(), msix_vectors))));
    let msix_on = {
        let config = Arc::clone(&config);
        move || msix_control(config.as_ref()).is_some_and(|control| control & 0x8000 != 0)
    };
    let legacy = Arc::new(SimLegacyPci::new(device.clone(), msix_vectors.unwrap_or(0), msix_on));
    platform.add_io_ports(PORT_BASE, legacy.bar_size(), legacy.clone());
    Rig { device, legacy, config }
}

/// The function's MSI-X message control, if it has the capability.
fn msix_control(config: &dyn ConfigAccess) -> Option<u16> {
    let capabilities = bus_pci::caps::walk(config, BDF).ok()?;
    let msix = capabilities.iter().find(|c| c.id == bus_pci::caps::CAP_MSIX)?;
    Some(config.read16(BDF, msix.offset + 2))
}

fn probe(platform: &'static dyn Platform, config: &Arc<SimConfig>) -> Registry {
    registry::probe_all(platform, &[&PcPciBus::new(config.clone(), "pci0", 0, 0)])
}

fn state(registry: &Registry, path: &str) -> DeviceState {
    registry.find_by_path(path).unwrap_or_else(|| panic!("{path} missing")).state.clone()
}

fn info<'a>(registry: &'a Registry, path: &str, key: &str) -> &'a str {
    let node = registry.find_by_path(path).unwrap();
    node.info.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v.as_str())
}

/// The page frame numbers the driver wrote to the queue address register.
fn frames_written(legacy: &SimLegacyPci) -> Vec<u32> {
    legacy.accesses().iter().filter(|a| a.0 == QUEUE_ADDRESS).filter_map(|a| a.2).collect()
}

#[test]
fn legacy_bring_up_over_io_ports_on_intx() {
    let platform = SimPlatform::leaked();
    let rig = rig(platform, 256, None);
    let mut registry = probe(platform, &rig.config);
    assert_eq!(state(&registry, FUNCTION), DeviceState::Bound);
    assert_eq!(state(&registry, BLK), DeviceState::Bound);
    assert_eq!(info(&registry, FUNCTION, "transport"), "virtio-pci legacy, BAR0 ports 0xc000+0x80");
    assert_eq!(info(&registry, FUNCTION, "interrupts"), "INTx (no MSI-X capability)");
    assert_ne!(rig.config.read16(BDF, 0x04) & 1, 0, "I/O decoding on");

    // No FEATURES_OK step, 32 feature bits, no VERSION_1.
    assert_eq!(rig.device.status_writes(), [0, 0x01, 0x03, 0x07]);
    assert_eq!(rig.device.driver_features(), common::F_FLUSH | virtio::features::RING_EVENT_IDX);

    // The device's queue size (read-only in legacy), though the driver wanted 128.
    let (_, bound) = registry.driver_data::<Bound>().next().expect("driver data kept");
    assert_eq!(bound.queue.size(), 256);
    let frames = frames_written(&rig.legacy);
    assert_eq!(frames.len(), 1, "one queue address write");
    assert!(frames[0] >= (virtio::sim::DEFAULT_DMA_BASE >> 12) as u32, "a page frame number of DMA memory: {:#x}", frames[0]);
    assert_eq!(rig.legacy.vectors(), (NO_VECTOR, vec![NO_VECTOR]), "no vector registers without MSI-X");

    // A request: notified through the notify register, completed, announced in the ISR byte.
    let buffer = registry::DmaBuffer::new(platform, 512 + 16 + 1, 16).unwrap();
    let header_and_status = [Buffer::readable(buffer.phys(), 16), Buffer::writable(buffer.phys() + 16, 1)];
    bound.queue.add(&header_and_status).unwrap();
    bound.queue.notify(bound.transport.as_ref()).unwrap();
    assert_eq!(rig.device.notifications(0), 1);
    assert!(rig.legacy.accesses().contains(&(QUEUE_NOTIFY, 2, Some(0))), "queue 0's index written to the notify register");
    let used = bound.queue.wait_used(bound.transport.as_mut(), platform, 1_000_000, &Interrupt::polled()).expect("completion");
    assert_eq!(used.len, 1);
    let isr = bound.transport.interrupt_status();
    assert_eq!(isr.take_causes(), Ok(virtio::USED_BUFFER), "used buffer cause");
    assert_eq!(isr.take_causes(), Ok(0), "the read cleared it");

    // Device configuration from offset 20.
    assert_eq!(bound.transport.read_config_u64(0), Ok(SECTORS));
    assert_eq!(bound.transport.config_generation(), Ok(None));
    assert_eq!(bound.transport.config_size(), 0x80 - 20, "the BAR's rest: QEMU rounds its size up to a power of two");
    drop(buffer);
}

/// The simulated platform plus an MSI controller with enough vectors.
struct MsiPlatform {
    sim: &'static SimPlatform,
}

// SAFETY: memory (MMIO, DMA), port I/O and the DMA sync hooks are forwarded to the simulated
// platform, which meets the contract; the clock is its clock; handlers are never run.
unsafe impl Platform for MsiPlatform {
    registry::forward_platform_memory!(sim);
    fn now_ns(&self) -> u64 {
        self.sim.now_ns()
    }
    fn request_irq(&self, _: &Irq, _: IrqHandler, _: Arc<IrqStats>) -> Result<(), IrqError> {
        Ok(())
    }
    fn alloc_msi(&self, _: &MsiSource, count: usize) -> Result<Vec<MsiVector>, IrqError> {
        let vector = |number: u32| MsiVector {
            irq: Irq { controller: "msi".into(), cells: vec![number], number: Some(number), label: format!("MSI {number}") },
            message: MsiMessage { address: MSI_ADDRESS, data: number },
        };
        Ok((FIRST_MSI..).take(count).map(vector).collect())
    }
}

#[test]
fn with_msix_on_the_vectors_are_written_and_the_configuration_moves_to_24() {
    let sim = SimPlatform::leaked();
    let table: &'static mut [u32] = Box::leak(vec![0u32; MSIX_BAR_SIZE / 4].into_boxed_slice());
    sim.host().add_window(MSIX_BAR_BASE, table);
    let platform: &'static MsiPlatform = Box::leak(Box::new(MsiPlatform { sim }));
    let rig = rig(sim, 256, Some(2));
    let mut registry = probe(platform, &rig.config);
    assert_eq!(state(&registry, BLK), DeviceState::Bound);
    assert_eq!(info(&registry, FUNCTION, "interrupts"), "MSI-X, 2 vectors");
    assert_eq!(msix_control(rig.config.as_ref()).unwrap() & 0xc000, 0x8000, "MSI-X on");
    assert_eq!(rig.legacy.vectors(), (0, vec![1]), "config changes on vector 0, queue 0 on 1");
    let accesses = rig.legacy.accesses();
    let at = |offset: u16| accesses.iter().position(|a| a.0 == offset && a.2.is_some()).unwrap();
    assert!(at(QUEUE_MSIX_VECTOR) < at(QUEUE_ADDRESS), "the queue's vector set before the queue is activated");

    let (_, bound) = registry.driver_data::<Bound>().next().expect("driver data kept");
    assert!(bound.transport.message_signalled());
    assert_eq!(bound.transport.read_config_u64(0), Ok(SECTORS), "configuration read behind the vectors");
    assert_eq!(bound.transport.config_size(), 0x80 - 24);
    let entry: Vec<u32> = {
        let window = MmioWindow::map(sim, MmioRegion { base: MSIX_BAR_BASE, size: 32 }).unwrap();
        (0..8).map(|word| window.read32(4 * word).unwrap()).collect()
    };
    assert_eq!(entry, [MSI_ADDRESS as u32, 0, 100, 0, MSI_ADDRESS as u32, 0, 101, 0]);
}

#[test]
fn bad_values_from_the_device_fail_it_with_a_reason() {
    // A queue size that is not a power of two, no queue at all.
    for (queue_max, reason) in [(100, "queue 0: device reports size 100, not a power of two"), (0, "queue 0 not available")] {
        let platform = SimPlatform::leaked();
        let rig = rig(platform, queue_max, None);
        let registry = probe(platform, &rig.config);
        assert_eq!(state(&registry, BLK), DeviceState::Failed(reason.into()));
        assert!(frames_written(&rig.legacy).is_empty(), "no queue address written");
        assert_eq!(rig.device.status() & 0x80, 0x80, "FAILED set");
        assert_eq!(platform.host().dma_live(), 0);
    }

    // Queue memory whose page frame number needs more than 32 bits: an error, not a wrap.
    let platform = SimPlatform::leaked_at(1 << 44);
    let rig = rig(platform, 256, None);
    let registry = probe(platform, &rig.config);
    let DeviceState::Failed(reason) = state(&registry, BLK) else { panic!("should fail") };
    assert_eq!(reason, VirtioError::LegacyAddressTooHigh { queue: 0, phys: 1 << 44 }.to_string());
    assert!(frames_written(&rig.legacy).is_empty());
}

#[test]
fn an_io_bar_that_cannot_be_reached_fails_the_function() {
    // Unassigned (address 0), and too small for the registers, on a platform with ports.
    let platform = SimPlatform::leaked();
    let _ports = rig(platform, 256, None);
    let config = Arc::new(SimConfig::new(0, SimBus::new().with(function(0x40, 0, None))));
    let registry = probe(platform, &config);
    assert_eq!(state(&registry, FUNCTION), DeviceState::Failed("legacy virtio-pci I/O BAR 0 unassigned".into()));
    let config = Arc::new(SimConfig::new(0, SimBus::new().with(function(0x10, PORT_BASE.into(), None))));
    let registry = probe(platform, &config);
    assert_eq!(state(&registry, FUNCTION), DeviceState::Failed("legacy virtio-pci I/O BAR 0 too small for the legacy registers".into()));
    // A modern-only device ID without the capabilities is not taken for legacy.
    let modern_only = SimFunction::endpoint(1, 0, 0x1af4, 0x1042, 0x01_00_00).bar(0, SimBar::io(0x40)).word(0x10, u32::from(PORT_BASE) | 1);
    let config = Arc::new(SimConfig::new(0, SimBus::new().with(modern_only)));
    let registry = probe(platform, &config);
    assert_eq!(state(&registry, FUNCTION), DeviceState::Failed("no virtio-pci common configuration capability (legacy-only device?)".into()));
}

#[test]
fn without_a_port_space_the_io_bar_is_memory_mapped() {
    // As on QEMU virt: the host bridge maps PCI I/O space into memory. Here the BAR is plain
    // memory preset as the device would show it (it cannot follow the queue select).
    let platform = SimPlatform::leaked();
    let mut registers = vec![0u8; 0x40];
    registers[0..4].copy_from_slice(&(common::F_FLUSH as u32).to_le_bytes());
    registers[12..14].copy_from_slice(&64u16.to_le_bytes()); // queue size
    registers[20..28].copy_from_slice(&SECTORS.to_le_bytes()); // capacity
    let words: Vec<u32> = registers.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    platform.host().add_window(PORT_BASE.into(), Box::leak(words.into_boxed_slice()));
    let config = Arc::new(SimConfig::new(0, SimBus::new().with(function(0x40, PORT_BASE.into(), None))));
    let mut registry = probe(platform, &config);
    assert_eq!(state(&registry, BLK), DeviceState::Bound);
    assert_eq!(info(&registry, FUNCTION, "transport"), "virtio-pci legacy, BAR0 MMIO 0xc000+0x40");

    let bar = MmioWindow::map(platform, MmioRegion { base: PORT_BASE.into(), size: 0x40 }).unwrap();
    assert_eq!(bar.read8(18).unwrap(), 0x07, "ACKNOWLEDGE | DRIVER | DRIVER_OK");
    assert_eq!(bar.read32(4).unwrap(), common::F_FLUSH as u32, "the offered feature accepted");
    let (_, bound) = registry.driver_data::<Bound>().next().unwrap();
    assert_eq!(bound.queue.size(), 64);
    let pfn = bar.read32(8).unwrap();
    assert!(pfn >= (virtio::sim::DEFAULT_DMA_BASE >> 12) as u32, "page frame {pfn:#x}");
    assert_eq!(bound.transport.read_config_u64(0), Ok(SECTORS));
}
