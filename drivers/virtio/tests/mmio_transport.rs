//! The virtio-mmio transport as a device driver sees it: a test block driver takes the
//! `VirtioDevice` the bus driver attached, brings the device up, and the test reads back the
//! register block (plain host memory) to check what was programmed, for version 1 and 2.

mod common;

use registry::mmio::MmioWindow;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, MmioRegion};
use registry::Registry;
use virtio::sim::{SimPlatform, DEFAULT_DMA_BASE};
use virtio::{Buffer, VirtioError};

const SLOT_BASE: u64 = 0x1000_0000;
const SLOT_SIZE: usize = 0x200;
const QUEUE_SIZE: u64 = common::test_blk::QUEUE_SIZE as u64;
const CAPACITY: u64 = 0x1_2345_6789;

// Register offsets (virtio 1.2, 4.2.2 and 4.2.4).
const DEVICE_FEATURES: usize = 0x010;
const DRIVER_FEATURES: usize = 0x020;
const DRIVER_FEATURES_SEL: usize = 0x024;
const GUEST_PAGE_SIZE: usize = 0x028;
const QUEUE_SEL: usize = 0x030;
const QUEUE_NUM_MAX: usize = 0x034;
const QUEUE_NUM: usize = 0x038;
const QUEUE_ALIGN: usize = 0x03c;
const QUEUE_PFN: usize = 0x040;
const QUEUE_READY: usize = 0x044;
const QUEUE_NOTIFY: usize = 0x050;
const INTERRUPT_STATUS: usize = 0x060;
const INTERRUPT_ACK: usize = 0x064;
const STATUS: usize = 0x070;
const QUEUE_DESC: usize = 0x080;
const QUEUE_DRIVER: usize = 0x090;
const QUEUE_DEVICE: usize = 0x0a0;
const CONFIG: usize = 0x100;

registry::register_driver!(TEST_BLK = common::test_blk::DRIVER);

/// One virtio-mmio slot holding a block device, with `registers` preset on top of the basics.
fn slot(version: u32, registers: &[(usize, u32)]) -> &'static mut [u32] {
    let mut words = vec![0u32; SLOT_SIZE / 4];
    words[..4].copy_from_slice(&[0x7472_6976, version, virtio::ids::BLOCK, 0x554d_4551]);
    // Memory cannot follow DeviceFeaturesSel: both halves read 0x201, offering FLUSH (bit 9)
    // and, in the high half, VERSION_1 (bit 32).
    words[DEVICE_FEATURES / 4] = 0x201;
    words[QUEUE_NUM_MAX / 4] = 256;
    words[CONFIG / 4] = CAPACITY as u32;
    words[CONFIG / 4 + 1] = (CAPACITY >> 32) as u32;
    for &(offset, value) in registers {
        words[offset / 4] = value;
    }
    Box::leak(words.into_boxed_slice())
}

struct OneSlot;

impl Bus for OneSlot {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let path = format!("/virtio_mmio@{SLOT_BASE:x}");
        let ids = DeviceIds::Compatible(vec!["virtio,mmio".into()]);
        let mut node = DeviceSpec::new(&path[1..], BusAddress::Dt { path: path.clone() }, ids);
        node.regions.push(MmioRegion { base: SLOT_BASE, size: SLOT_SIZE as u64 });
        Ok(vec![node])
    }
}

/// Probes one slot with `registers` preset; returns the registry and a view of the registers.
fn bring_up(platform: &'static SimPlatform, version: u32, registers: &[(usize, u32)]) -> (Registry, MmioWindow) {
    platform.host().add_window(SLOT_BASE, slot(version, registers));
    let registry = registry::probe_all(platform, &[&OneSlot]);
    let window = MmioWindow::map(platform, MmioRegion { base: SLOT_BASE, size: SLOT_SIZE as u64 }).unwrap();
    (registry, window)
}

fn blk_state(registry: &Registry) -> DeviceState {
    registry.find_by_path("/virtio_mmio@10000000/virtio-blk").expect("child created").state.clone()
}

fn address(registers: &MmioWindow, low: usize) -> u64 {
    u64::from(registers.read32(low).unwrap()) | u64::from(registers.read32(low + 4).unwrap()) << 32
}

#[test]
fn modern_bring_up_programs_64_bit_ring_addresses_and_queue_ready() {
    let platform = SimPlatform::leaked();
    let (mut registry, registers) = bring_up(platform, 2, &[(INTERRUPT_STATUS, 1), (QUEUE_NOTIFY, u32::MAX)]);
    assert_eq!(blk_state(&registry), DeviceState::Bound);
    let reg = |offset| registers.read32(offset).unwrap();
    assert_eq!(reg(STATUS), 0x0f, "ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK");
    // The low half is written last: VIRTIO_BLK_F_FLUSH; the node shows the whole set.
    assert_eq!((reg(DRIVER_FEATURES_SEL), reg(DRIVER_FEATURES)), (0, 0x200));
    let node = registry.find_by_path("/virtio_mmio@10000000/virtio-blk").unwrap();
    assert_eq!(node.info, vec![("features", "0x100000200".to_string())]);

    assert_eq!((reg(QUEUE_SEL), reg(QUEUE_NUM), reg(QUEUE_READY)), (0, QUEUE_SIZE as u32, 1));
    let (desc, driver, device) = (address(&registers, QUEUE_DESC), address(&registers, QUEUE_DRIVER), address(&registers, QUEUE_DEVICE));
    assert!(desc >= DEFAULT_DMA_BASE && desc % 16 == 0, "a bus address from the platform: {desc:#x}");
    assert_eq!(driver, desc + 16 * QUEUE_SIZE);
    assert_eq!(device, (driver + 6 + 2 * QUEUE_SIZE).next_multiple_of(4));
    assert_eq!((reg(GUEST_PAGE_SIZE), reg(QUEUE_PFN)), (0, 0), "legacy registers untouched");

    let (_, bound) = registry.driver_data::<common::test_blk::Bound>().next().expect("driver data kept");
    let request = registry::DmaBuffer::new(platform, 16, 8).unwrap();
    bound.queue.add(&[Buffer::readable(request.phys(), 16)]).unwrap();
    bound.queue.notify(bound.transport.as_ref()).unwrap();
    assert_eq!(reg(QUEUE_NOTIFY), 0, "queue 0 notified");
    assert_eq!(bound.transport.interrupt_status().take_causes(), Ok(1));
    assert_eq!(reg(INTERRUPT_ACK), 1, "what was read is acknowledged");
    assert_eq!(bound.transport.config_size(), SLOT_SIZE - CONFIG);
    assert_eq!(bound.transport.read_config_u64(0), Ok(CAPACITY));
    assert_eq!(
        bound.transport.read_config_u8(0x100),
        Err(VirtioError::ConfigOutOfRange { offset: 0x100, width: 1, size: 0x100 })
    );
}

#[test]
fn legacy_bring_up_programs_page_size_alignment_and_pfn() {
    let platform = SimPlatform::leaked();
    let (mut registry, registers) = bring_up(platform, 1, &[]);
    assert_eq!(blk_state(&registry), DeviceState::Bound);
    let reg = |offset| registers.read32(offset).unwrap();
    assert_eq!(reg(STATUS), 0x07, "ACKNOWLEDGE | DRIVER | DRIVER_OK: no FEATURES_OK step");
    assert_eq!(reg(DRIVER_FEATURES), 0x200, "FLUSH; no VERSION_1");
    let node = registry.find_by_path("/virtio_mmio@10000000/virtio-blk").unwrap();
    assert_eq!(node.info, vec![("features", "0x200".to_string())]);

    assert_eq!((reg(GUEST_PAGE_SIZE), reg(QUEUE_NUM), reg(QUEUE_ALIGN)), (4096, QUEUE_SIZE as u32, 4096));
    let pfn = u64::from(reg(QUEUE_PFN));
    assert!(pfn << 12 >= DEFAULT_DMA_BASE, "the ring's bus address, by page: {pfn:#x}");
    assert_eq!((reg(QUEUE_READY), address(&registers, QUEUE_DESC)), (0, 0), "modern registers untouched");

    let (_, bound) = registry.driver_data::<common::test_blk::Bound>().next().expect("driver data kept");
    assert_eq!(bound.transport.config_generation(), Ok(None));
    assert_eq!(bound.transport.read_config_u64(0), Ok(CAPACITY));
}

#[test]
fn a_queue_the_device_says_is_in_use_fails_the_probe() {
    for (version, preset) in [(2, (QUEUE_READY, 1)), (1, (QUEUE_PFN, 0x1234))] {
        let platform = SimPlatform::leaked();
        let (registry, registers) = bring_up(platform, version, &[preset]);
        assert_eq!(blk_state(&registry), DeviceState::Failed("queue 0 is already in use".into()), "version {version}");
        assert_ne!(registers.read32(STATUS).unwrap() & 0x80, 0, "FAILED set");
        assert_eq!(platform.host().dma_live(), 0);
    }
}

#[test]
fn legacy_rings_beyond_32_bit_page_frames_are_refused() {
    let platform = SimPlatform::leaked_at(1 << 44);
    let (registry, _) = bring_up(platform, 1, &[]);
    let DeviceState::Failed(reason) = blk_state(&registry) else { panic!("probe should fail") };
    assert_eq!(reason, "queue 0 at 0x100000000000 is beyond a legacy device's 32-bit page frame number");
    assert_eq!(platform.host().dma_live(), 0);
}
