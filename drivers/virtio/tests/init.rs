//! Device initialisation over the simulated device: status sequence, feature negotiation on
//! modern and legacy interfaces, and devices that refuse, hang or offer odd queues.

mod common;

use common::{BlockRig, F_FLUSH};
use registry::wait::TimedOut;
use virtio::features::{RING_EVENT_IDX, VERSION_1};
use virtio::sim::{BlockModel, Interface, Misbehaviour, SimDevice, SimPlatform};
use virtio::status::{ACKNOWLEDGE, DRIVER, DRIVER_OK, FAILED, FEATURES_OK};
use virtio::{Transport, VirtQueue, VirtioError, MAX_QUEUE_SIZE};

fn device(interface: Interface) -> (&'static SimPlatform, SimDevice) {
    let platform = SimPlatform::leaked();
    (platform, SimDevice::new(platform, interface, BlockModel::new(16)))
}

#[test]
fn modern_init_negotiates_version_1_and_walks_the_status_sequence() {
    let rig = BlockRig::new(Interface::Modern, BlockModel::new(16), 128);
    let steps = [0, ACKNOWLEDGE, ACKNOWLEDGE | DRIVER, ACKNOWLEDGE | DRIVER | FEATURES_OK];
    let mut expected = steps.to_vec();
    expected.push(steps[3] | DRIVER_OK);
    assert_eq!(rig.device.status_writes(), expected);
    assert_eq!(rig.device.driver_features(), VERSION_1 | RING_EVENT_IDX | F_FLUSH, "EVENT_IDX taken as offered");
    assert_eq!(rig.negotiated.features, VERSION_1 | RING_EVENT_IDX | F_FLUSH);
    assert!(rig.negotiated.has(F_FLUSH) && !rig.negotiated.is_legacy());
    assert_eq!(rig.queue.size(), 128, "the driver's wish, below the device's 256");
}

#[test]
fn legacy_init_skips_features_ok_and_never_accepts_version_1() {
    let (platform, device) = device(Interface::Legacy);
    // Even if a legacy device claimed VERSION_1, the legacy interface cannot run it.
    device.set_offered_features(F_FLUSH | VERSION_1 | 1 << 40);
    let mut transport = device.transport();
    let negotiated = virtio::init_device(&mut transport, F_FLUSH | 1 << 40, platform).unwrap();
    assert_eq!(negotiated.features, F_FLUSH);
    assert!(negotiated.is_legacy());
    let _queue = VirtQueue::new(&mut transport, platform, &negotiated, 0, 256).unwrap();
    virtio::finish_init(&mut transport).unwrap();
    assert_eq!(device.status_writes(), [0, ACKNOWLEDGE, ACKNOWLEDGE | DRIVER, ACKNOWLEDGE | DRIVER | DRIVER_OK]);
    assert_eq!(device.driver_features(), F_FLUSH);
}

#[test]
fn a_modern_device_without_version_1_is_refused_and_failed() {
    let (platform, device) = device(Interface::Modern);
    device.set_offered_features(F_FLUSH);
    let error = virtio::init_device(&mut device.transport(), F_FLUSH, platform).unwrap_err();
    assert_eq!(error, VirtioError::Version1NotOffered { offered: F_FLUSH });
    assert!(error.to_string().contains("VIRTIO_F_VERSION_1"));
    assert_eq!(device.status(), ACKNOWLEDGE | DRIVER | FAILED);
}

#[test]
fn refused_features_ok_fails_the_device() {
    let (platform, device) = device(Interface::Modern);
    device.misbehave(Misbehaviour::RefuseFeaturesOk);
    let error = virtio::init_device(&mut device.transport(), F_FLUSH, platform).unwrap_err();
    assert_eq!(error, VirtioError::FeaturesRefused(VERSION_1 | RING_EVENT_IDX | F_FLUSH));
    assert_eq!(error.to_string(), "device refused features 0x120000200");
    assert_eq!(device.status(), ACKNOWLEDGE | DRIVER | FAILED);
}

#[test]
fn a_reset_that_never_completes_times_out_and_fails_the_device() {
    let mut rig = BlockRig::new(Interface::Modern, BlockModel::new(16), 8);
    rig.device.misbehave(Misbehaviour::StuckReset);
    let error = virtio::init_device(&mut rig.transport, F_FLUSH, rig.platform).unwrap_err();
    let VirtioError::TimedOut(TimedOut { what, after_ns }) = &error else { panic!("{error:?}") };
    assert_eq!(*what, "the device to reset");
    assert!(*after_ns >= virtio::RESET_TIMEOUT_NS);
    assert!(error.to_string().starts_with("timed out after 100 ms waiting for the device to reset"), "{error}");
    assert_ne!(rig.device.status() & FAILED, 0);
}

#[test]
fn queue_sizes_the_device_offers_are_clamped_or_refused() {
    for (device_max, wanted, expected) in [
        (0, 256, Err(VirtioError::QueueNotAvailable(0))),
        (100, 256, Ok(64)),
        (65535, u16::MAX, Ok(MAX_QUEUE_SIZE)),
        (65535, 1000, Ok(512)),
        (256, 0, Err(VirtioError::ZeroQueueSize(0))),
    ] {
        let (platform, device) = device(Interface::Modern);
        device.set_queue_max(0, device_max);
        let mut transport = device.transport();
        let negotiated = virtio::init_device(&mut transport, 0, platform).unwrap();
        let queue = VirtQueue::new(&mut transport, platform, &negotiated, 0, wanted).map(|q| q.size());
        assert_eq!(queue, expected, "device maximum {device_max}, wanted {wanted}");
        assert_eq!(platform.host().dma_live(), 0, "no ring memory kept or leaked");
    }
    let error = VirtioError::QueueNotAvailable(0);
    assert_eq!(error.to_string(), "queue 0 not available");
}

#[test]
fn a_queue_the_device_does_not_have_or_already_uses_is_refused() {
    let (platform, device) = device(Interface::Modern);
    let mut transport = device.transport();
    let negotiated = virtio::init_device(&mut transport, 0, platform).unwrap();
    let missing = VirtQueue::new(&mut transport, platform, &negotiated, 1, 8).err();
    assert_eq!(missing, Some(VirtioError::QueueNotAvailable(1)));
    let _queue = VirtQueue::new(&mut transport, platform, &negotiated, 0, 8).unwrap();
    let again = VirtQueue::new(&mut transport, platform, &negotiated, 0, 8).err();
    assert_eq!(again, Some(VirtioError::QueueInUse(0)));
    assert_eq!(platform.host().dma_live(), 1, "only the first queue's ring is kept");
}

#[test]
fn config_reads_are_checked_and_consistent() {
    let mut rig = BlockRig::new(Interface::Modern, BlockModel::new(1234), 8);
    let transport: &mut dyn Transport = &mut rig.transport;
    assert_eq!(transport.config_size(), 64);
    assert_eq!(transport.read_config_u64(0), Ok(1234), "capacity in sectors");
    assert_eq!(transport.read_config_u16(0), Ok(1234));
    assert_eq!(
        transport.read_config_u32(62),
        Err(VirtioError::ConfigOutOfRange { offset: 62, width: 4, size: 64 })
    );
    assert_eq!(transport.read_config_u32(2), Err(VirtioError::ConfigMisaligned { offset: 2, width: 4 }));
    assert!(transport.read_config_u64(usize::MAX - 3).is_err());
    transport.write_config_u8(20, 0x5a).unwrap();
    assert_eq!(rig.device.config()[20], 0x5a);
    assert!(transport.write_config_u16(64, 1).is_err());

    // A device-side change raises the config interrupt and a new generation.
    rig.device.change_config(0, &4321u64.to_le_bytes());
    assert_eq!(transport.read_config_u64(0), Ok(4321));
    let status = transport.interrupt_status();
    assert_eq!(status.take_causes(), Ok(2));
    assert_eq!(status.take_causes(), Ok(0), "taking the causes acknowledged them");
}

#[test]
fn a_config_generation_that_never_settles_is_an_error_not_a_hang() {
    for interface in [Interface::Modern, Interface::Legacy] {
        let rig = BlockRig::new(interface, BlockModel::new(8), 8);
        rig.device.misbehave(Misbehaviour::UnstableConfigGeneration);
        let transport: &dyn Transport = &rig.transport;
        let capacity = transport.read_config_u64(0);
        match interface {
            Interface::Modern => {
                assert_eq!(capacity, Err(VirtioError::ConfigUnstable { attempts: 8 }));
                assert!(capacity.unwrap_err().to_string().contains("config generation changed"));
            }
            // No generation on a legacy interface: one read, whatever the device does.
            Interface::Legacy => assert_eq!(capacity, Ok(8)),
        }
    }
}
