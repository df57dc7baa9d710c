//! The virtio-pci transport as a device driver sees it: a simulated PCI function with the
//! modern vendor capabilities, its BAR as plain host memory; a test block driver brings the
//! device up and the test reads back what the transport programmed.

mod common;

use std::sync::Arc;

use bus_pci::sim::{SimBar, SimBus, SimConfig, SimFunction};
use bus_pci::{ConfigAccess, PcPciBus};
use registry::mmio::MmioWindow;
use registry::{DeviceState, Irq, IrqError, IrqHandler, IrqStats, MmioRegion, MsiMessage, MsiSource, MsiVector, Platform, Registry};
use virtio::sim::SimPlatform;
use common::test_blk::QUEUE_SIZE;
use virtio::{Buffer, VirtioError};

const BAR_BASE: u64 = 0x2000_0000;
const BAR_SIZE: usize = 0x4000;
const COMMON: usize = 0x0000;
const ISR: usize = 0x1000;
const DEVICE: usize = 0x2000;
const NOTIFY: usize = 0x3000;
const NOTIFY_MULTIPLIER: u32 = 4;
const CAPACITY: u64 = 0x1_2345_6789;

registry::register_driver!(TEST_BLK = common::test_blk::DRIVER);

/// A `virtio_pci_cap` body (after the id/next bytes): length, type, BAR, offset, length.
fn cap(cfg_type: u8, offset: usize, length: u32, extra: &[u8]) -> Vec<u8> {
    let mut body = vec![16 + extra.len() as u8, cfg_type, 4, 0, 0, 0];
    body.extend((offset as u32).to_le_bytes());
    body.extend(length.to_le_bytes());
    body.extend(extra);
    body
}

/// The BAR's memory with the common configuration preset as a device would show it.
fn bar_memory(notify_off: u16) -> &'static mut [u32] {
    let mut bytes = vec![0u8; BAR_SIZE];
    let mut put = |offset: usize, value: &[u8]| bytes[offset..offset + value.len()].copy_from_slice(value);
    // Memory cannot follow the feature select: both halves offer FLUSH (bit 9) and bit 0, so the
    // high half offers VERSION_1 (bit 32).
    put(COMMON + 0x04, &0x201u32.to_le_bytes());
    put(COMMON + 0x12, &1u16.to_le_bytes()); // num_queues
    put(COMMON + 0x18, &256u16.to_le_bytes()); // queue_size (the maximum, until written)
    put(COMMON + 0x1e, &notify_off.to_le_bytes());
    put(DEVICE, &CAPACITY.to_le_bytes());
    let words = bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
    Box::leak(words.into_boxed_slice())
}

fn function(capabilities: &[Vec<u8>]) -> SimFunction {
    let caps: Vec<(u8, &[u8])> = capabilities.iter().map(|c| (bus_pci::caps::CAP_VENDOR, c.as_slice())).collect();
    function_with(&caps)
}

fn function_with(caps: &[(u8, &[u8])]) -> SimFunction {
    SimFunction::endpoint(1, 0, 0x1af4, 0x1042, 0x01_00_00)
        .bar(4, SimBar::memory64(BAR_SIZE as u64, true))
        .word(0x20, BAR_BASE as u32 | 0xc)
        .interrupt(1, 11)
        .capabilities(caps)
}

fn modern_caps() -> Vec<Vec<u8>> {
    vec![
        cap(1, COMMON, 0x40, &[]),
        cap(2, NOTIFY, 0x1000, &NOTIFY_MULTIPLIER.to_le_bytes()),
        cap(3, ISR, 4, &[]),
        cap(4, DEVICE, 0x100, &[]),
    ]
}

fn bring_up(function: SimFunction, notify_off: u16) -> (Registry, MmioWindow, &'static SimPlatform) {
    let platform = SimPlatform::leaked();
    platform.host().add_window(BAR_BASE, bar_memory(notify_off));
    let config = Arc::new(SimConfig::new(0, SimBus::new().with(function)));
    let bus = PcPciBus::new(config, "pci0", 0, 0);
    let registry = registry::probe_all(platform, &[&bus]);
    let bar = MmioWindow::map(platform, MmioRegion { base: BAR_BASE, size: BAR_SIZE as u64 }).unwrap();
    (registry, bar, platform)
}

fn state(registry: &Registry, path: &str) -> DeviceState {
    registry.find_by_path(path).unwrap_or_else(|| panic!("{path} missing")).state.clone()
}

#[test]
fn modern_bring_up_through_the_capabilities() {
    let (mut registry, bar, platform) = bring_up(function(&modern_caps()), 3);
    assert_eq!(state(&registry, "/pci0/00:01.0"), DeviceState::Bound);
    assert_eq!(state(&registry, "/pci0/00:01.0/virtio-blk"), DeviceState::Bound);
    let blk = registry.find_by_path("/pci0/00:01.0/virtio-blk").unwrap();
    assert_eq!(blk.irqs[0].label, "IRQ 11 INTA", "the function's INTx");

    let byte = |offset| bar.read8(offset).unwrap();
    let word = |offset| bar.read16(offset).unwrap();
    let quad = |offset| u64::from(bar.read32(offset).unwrap()) | u64::from(bar.read32(offset + 4).unwrap()) << 32;
    assert_eq!(byte(COMMON + 0x14), 0x0f, "ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK");
    assert_eq!((word(COMMON + 0x16), word(COMMON + 0x18), word(COMMON + 0x1c)), (0, QUEUE_SIZE, 1));
    let (desc, driver, device) = (quad(COMMON + 0x20), quad(COMMON + 0x28), quad(COMMON + 0x30));
    assert_eq!(driver, desc + 16 * u64::from(QUEUE_SIZE));
    assert!(device > driver, "rings in order: {desc:#x} {driver:#x} {device:#x}");

    let (_, bound) = registry.driver_data::<common::test_blk::Bound>().next().expect("driver data kept");
    let request = registry::DmaBuffer::new(platform, 16, 8).unwrap();
    bound.queue.add(&[Buffer::readable(request.phys(), 16)]).unwrap();
    bar.write16(NOTIFY + 12, 0xffff).unwrap();
    bound.queue.notify(bound.transport.as_ref()).unwrap();
    assert_eq!(word(NOTIFY + 3 * NOTIFY_MULTIPLIER as usize), 0, "queue 0's doorbell at notify_off * multiplier");
    bar.write8(ISR, 0x3).unwrap();
    assert_eq!(bound.transport.interrupt_status().take_causes(), Ok(3));
    assert_eq!(bound.transport.read_config_u64(0), Ok(CAPACITY));
    assert_eq!(bound.transport.config_size(), 0x100);
    assert_eq!(
        bound.transport.read_config_u32(0x100),
        Err(VirtioError::ConfigOutOfRange { offset: 0x100, width: 4, size: 0x100 })
    );
}

#[test]
fn bad_capabilities_fail_the_function_with_a_reason() {
    let mut outside = modern_caps();
    outside[3] = cap(4, 0x3f00, 0x200, &[]); // runs past the 16 KiB BAR
    let mut missing_notify = modern_caps();
    missing_notify.remove(1);
    let mut short = modern_caps();
    short[1] = cap(2, NOTIFY, 0x1000, &[]); // a notify capability without its multiplier
    let cases = [
        (outside, "virtio-pci capability at 0x74: range lies outside its BAR"),
        (missing_notify, "no virtio-pci notification capability (legacy-only device?)"),
        (short, "virtio-pci capability at 0x50: shorter than its structure"),
    ];
    for (caps, reason) in cases {
        let (registry, _, platform) = bring_up(function(&caps), 3);
        assert_eq!(state(&registry, "/pci0/00:01.0"), DeviceState::Failed(reason.into()));
        assert!(registry.find_by_path("/pci0/00:01.0/virtio-blk").is_none());
        assert_eq!(platform.host().dma_live(), 0);
    }
}

#[test]
fn a_doorbell_outside_the_notify_window_fails_the_device() {
    let (registry, bar, platform) = bring_up(function(&modern_caps()), 0x4000);
    let DeviceState::Failed(reason) = state(&registry, "/pci0/00:01.0/virtio-blk") else { panic!("should fail") };
    assert!(reason.contains("doorbell outside the notify window"), "{reason}");
    assert_ne!(bar.read8(COMMON + 0x14).unwrap() & 0x80, 0, "FAILED set");
    assert_eq!(platform.host().dma_live(), 0, "the queue's memory was freed");
}

// MSI-X: the function's table sits in the BAR between the ISR and device configuration.
const MSIX_TABLE: usize = 0x1800;
const MSI_ADDRESS: u64 = 0x1_fee0_0000;
const FIRST_MSI: u32 = 100;

/// An MSI-X capability body: control (table size - 1), table offset | BIR, PBA offset | BIR.
fn msix_cap(vectors: u16, table: usize, bar: u32) -> Vec<u8> {
    let mut body = (vectors - 1).to_le_bytes().to_vec();
    body.extend((table as u32 | bar).to_le_bytes());
    body.extend(((table as u32 + 0x100) | bar).to_le_bytes());
    body
}

/// The function with an MSI-X table of `vectors` at `table` in its BAR 4.
fn function_with_msix(vectors: u16, table: usize) -> SimFunction {
    function_with_msix_in(vectors, table, 4)
}

fn function_with_msix_in(vectors: u16, table: usize, bar: u32) -> SimFunction {
    let (virtio, msix) = (modern_caps(), msix_cap(vectors, table, bar));
    let mut caps: Vec<(u8, &[u8])> = virtio.iter().map(|c| (bus_pci::caps::CAP_VENDOR, c.as_slice())).collect();
    caps.push((bus_pci::caps::CAP_MSIX, &msix));
    function_with(&caps)
}

/// The simulated platform plus an MSI controller that hands out at most `most` vectors at a
/// time, numbered from FIRST_MSI, and records what is requested and freed.
struct MsiPlatform {
    sim: &'static SimPlatform,
    most: usize,
    requested: spin::Mutex<Vec<u32>>,
    freed: spin::Mutex<Vec<u32>>,
}

// SAFETY: memory (MMIO, DMA) is forwarded to the simulated platform, which meets the contract;
// the clock is its clock; handlers are only recorded, never run.
unsafe impl Platform for MsiPlatform {
    registry::forward_platform_memory!(sim);
    fn now_ns(&self) -> u64 {
        self.sim.now_ns()
    }
    fn request_irq(&self, irq: &Irq, _: IrqHandler, _: Arc<IrqStats>) -> Result<(), IrqError> {
        self.requested.lock().push(irq.number.expect("MSIs have numbers"));
        Ok(())
    }
    fn alloc_msi(&self, source: &MsiSource, count: usize) -> Result<Vec<MsiVector>, IrqError> {
        assert_eq!(*source, MsiSource { controller: None, device_id: 0x08 }, "00:01.0 on a PC bus");
        if count > self.most {
            return Err(IrqError::Invalid(format!("only {} vectors", self.most)));
        }
        let vector = |number: u32| MsiVector {
            irq: Irq { controller: "msi".into(), cells: vec![number], number: Some(number), label: format!("MSI {number}") },
            message: MsiMessage { address: MSI_ADDRESS, data: number },
        };
        Ok((FIRST_MSI..).take(count).map(vector).collect())
    }
    fn free_msi(&self, _: &MsiSource, irq: &Irq) {
        self.freed.lock().push(irq.number.unwrap());
    }
}

fn bring_up_with_msi(function: SimFunction, most: usize, queues: u16) -> (Registry, MmioWindow, &'static MsiPlatform, Arc<SimConfig>) {
    let sim = SimPlatform::leaked();
    sim.host().add_window(BAR_BASE, bar_memory(3));
    let platform: &'static MsiPlatform =
        Box::leak(Box::new(MsiPlatform { sim, most, requested: spin::Mutex::new(vec![]), freed: spin::Mutex::new(vec![]) }));
    let bar = MmioWindow::map(platform, MmioRegion { base: BAR_BASE, size: BAR_SIZE as u64 }).unwrap();
    bar.write16(COMMON + 0x12, queues).unwrap();
    let config = Arc::new(SimConfig::new(0, SimBus::new().with(function)));
    let registry = registry::probe_all(platform, &[&PcPciBus::new(config.clone(), "pci0", 0, 0)]);
    (registry, bar, platform, config)
}

fn info<'a>(registry: &'a Registry, path: &str, key: &str) -> &'a str {
    let node = registry.find_by_path(path).unwrap();
    node.info.iter().find(|(k, _)| *k == key).map_or("", |(_, v)| v.as_str())
}

/// An MSI-X table entry: address low, high, data, vector control.
fn entry(bar: &MmioWindow, index: usize) -> [u32; 4] {
    core::array::from_fn(|word| bar.read32(MSIX_TABLE + 16 * index + 4 * word).unwrap())
}

#[test]
fn msix_gives_configuration_changes_and_each_queue_a_vector() {
    let (mut registry, bar, platform, config) = bring_up_with_msi(function_with_msix(4, MSIX_TABLE), 8, 1);
    assert_eq!(state(&registry, "/pci0/00:01.0/virtio-blk"), DeviceState::Bound);
    assert_eq!(info(&registry, "/pci0/00:01.0", "interrupts"), "MSI-X, 2 vectors");
    let blk = registry.find_by_path("/pci0/00:01.0/virtio-blk").unwrap();
    let labels: Vec<&str> = blk.irqs.iter().map(|irq| irq.label.as_str()).collect();
    assert_eq!(labels, ["MSI 100 config", "MSI 101 vq0"]);
    assert_eq!(*platform.requested.lock(), [100, 101], "the driver hooked both vectors");

    let (address_low, address_high) = (MSI_ADDRESS as u32, (MSI_ADDRESS >> 32) as u32);
    assert_eq!(entry(&bar, 0), [address_low, address_high, 100, 0], "vector 0 programmed and unmasked");
    assert_eq!(entry(&bar, 1), [address_low, address_high, 101, 0]);
    assert_eq!(entry(&bar, 2), [0; 4], "unused vectors untouched");
    assert_eq!((bar.read16(COMMON + 0x10).unwrap(), bar.read16(COMMON + 0x1a).unwrap()), (0, 1), "config and queue 0 vectors");

    // The function: MSI-X on and not masked as a whole; INTx off.
    let bdf = bus_pci::Bdf { bus: 0, device: 1, function: 0 };
    let capabilities = bus_pci::caps::walk(config.as_ref(), bdf).unwrap();
    let msix = capabilities.iter().find(|c| c.id == bus_pci::caps::CAP_MSIX).unwrap();
    assert_eq!(config.read16(bdf, msix.offset + 2) & 0xc000, 0x8000, "enable set, function mask clear");
    assert_ne!(config.read16(bdf, 0x04) & (1 << 10), 0, "INTx disabled");

    let function_id = registry.find_by_path("/pci0/00:01.0").unwrap().id;
    registry.remove(function_id);
    assert_eq!(*platform.freed.lock(), [100, 101], "vectors given back with the function's driver");
    assert_eq!(config.read16(bdf, msix.offset + 2) & 0xc000, 0, "MSI-X off on unbind");
    assert_eq!(config.read16(bdf, 0x04) & (1 << 10), 0, "INTx on again");
    assert_eq!(entry(&bar, 0)[3] & 1, 1, "vector 0 masked");
}

#[test]
fn too_few_vectors_for_every_queue_share_one_between_the_queues() {
    let (registry, bar, platform, _) = bring_up_with_msi(function_with_msix(8, MSIX_TABLE), 2, 3);
    assert_eq!(state(&registry, "/pci0/00:01.0/virtio-blk"), DeviceState::Bound);
    let blk = registry.find_by_path("/pci0/00:01.0/virtio-blk").unwrap();
    let labels: Vec<&str> = blk.irqs.iter().map(|irq| irq.label.as_str()).collect();
    assert_eq!(labels, ["MSI 100 config", "MSI 101 queues"]);
    assert_eq!(bar.read16(COMMON + 0x1a).unwrap(), 1, "queue 0 on the shared vector");
    assert_eq!(*platform.requested.lock(), [100, 101]);
}

#[test]
fn without_usable_msix_the_function_interrupts_on_its_line() {
    // A table running past the BAR, or in a BAR the function does not have; a table too small
    // for two vectors; a platform without MSIs.
    let cases = [
        (function_with_msix(4, BAR_SIZE - 16), 8, "INTx (unusable MSI-X table)"),
        (function_with_msix_in(4, MSIX_TABLE, 2), 8, "INTx (unusable MSI-X table)"),
        (function_with_msix(1, MSIX_TABLE), 8, "INTx (not enough MSI-X vectors)"),
        (function_with_msix(4, MSIX_TABLE), 1, "INTx (not enough MSI-X vectors)"),
    ];
    for (function, most, interrupts) in cases {
        let (registry, bar, platform, _) = bring_up_with_msi(function, most, 1);
        assert_eq!(state(&registry, "/pci0/00:01.0/virtio-blk"), DeviceState::Bound);
        assert_eq!(info(&registry, "/pci0/00:01.0", "interrupts"), interrupts);
        let blk = registry.find_by_path("/pci0/00:01.0/virtio-blk").unwrap();
        assert_eq!(blk.irqs[0].label, "IRQ 11 INTA");
        assert_eq!(bar.read16(COMMON + 0x1a).unwrap(), 0, "no queue vector written");
        assert_eq!(*platform.requested.lock(), [11], "the line hooked instead");
        assert!(platform.freed.lock().is_empty());
    }
    let (registry, _, _) = bring_up(function_with_msix(4, MSIX_TABLE), 3);
    assert_eq!(info(&registry, "/pci0/00:01.0", "interrupts"), "INTx (the platform has no MSIs)");
}

#[test]
fn a_transitional_device_with_both_interfaces_is_driven_modern() {
    // 1af4:1001 (subsystem 2: block) with the legacy I/O BAR 0 as well as the capabilities.
    let caps = modern_caps();
    let caps: Vec<(u8, &[u8])> = caps.iter().map(|c| (bus_pci::caps::CAP_VENDOR, c.as_slice())).collect();
    let transitional = SimFunction::endpoint(1, 0, 0x1af4, 0x1001, 0x01_00_00)
        .bar(0, SimBar::io(0x40))
        .word(0x10, 0xc001)
        .bar(4, SimBar::memory64(BAR_SIZE as u64, true))
        .word(0x20, BAR_BASE as u32 | 0xc)
        .word(0x2c, 2 << 16 | 0x1af4)
        .interrupt(1, 11)
        .capabilities(&caps);
    let (registry, bar, _) = bring_up(transitional, 3);
    assert_eq!(state(&registry, "/pci0/00:01.0/virtio-blk"), DeviceState::Bound);
    assert_eq!(info(&registry, "/pci0/00:01.0", "transport"), "virtio-pci modern, notify multiplier 4");
    assert_eq!(bar.read8(COMMON + 0x14).unwrap(), 0x0f, "brought up through the common configuration");
}
