//! The virtio-pci transport as a device driver sees it: a simulated PCI function with the
//! modern vendor capabilities, its BAR as plain host memory; a test block driver brings the
//! device up and the test reads back what the transport programmed.

mod common;

use std::sync::Arc;

use bus_pci::sim::{SimBar, SimBus, SimConfig, SimFunction};
use bus_pci::PcPciBus;
use registry::mmio::MmioWindow;
use registry::{DeviceState, MmioRegion, Registry};
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
    SimFunction::endpoint(1, 0, 0x1af4, 0x1042, 0x01_00_00)
        .bar(4, SimBar::memory64(BAR_SIZE as u64, true))
        .word(0x20, BAR_BASE as u32 | 0xc)
        .interrupt(1, 11)
        .capabilities(&caps)
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
    let (mut registry, bar, _) = bring_up(function(&modern_caps()), 3);
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
    bound.queue.add(&[Buffer::readable(0x1000, 16)]).unwrap();
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
