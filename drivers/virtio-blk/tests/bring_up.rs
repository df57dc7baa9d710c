//! Binding: the registry driver takes the virtio transport its bus attached, reads the
//! configuration for the features it negotiated and the ID string, and reports the disk; a
//! configuration that makes no sense fails the probe and the device, and leaks nothing.

mod common;

use common::{bring_up, Rig, INTERFACES};
use virtio::sim::SimBus;
use registry::DeviceState;
use virtio::features::RING_EVENT_IDX;
use virtio::sim::{BlockModel, Interface, SimDevice, SimPlatform};
use virtio::status::{DRIVER_OK, FAILED};
use std::sync::Arc;
use virtio_blk::{BlockClass, BlockError};

fn info(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|&(key, value)| (key, value.to_string())).collect()
}

#[test]
fn the_registry_binds_the_disk_and_lsdev_shows_it() {
    for (interface, status) in [(Interface::Modern, 0x0f), (Interface::Legacy, 0x07)] {
        let platform = SimPlatform::leaked();
        let device = SimDevice::new(platform, interface, BlockModel::new(2048));
        let mut registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
        let node = registry.find_by_path("/virtio-blk").unwrap();
        assert_eq!(node.state, DeviceState::Bound);
        assert_eq!(node.driver.map(|d| d.name), Some("virtio-blk"));
        let expected = [
            ("capacity", "2048 sectors (1 MiB)"),
            ("block size", "512"),
            ("id", "sim-virtio-blk"),
            ("read-only", "no"),
            ("flush", "yes"),
        ];
        assert_eq!(node.info, info(&expected));
        assert_eq!(device.status(), status, "DRIVER_OK, {interface:?}");
        let (path, disk) = registry.driver_data::<Arc<BlockClass>>().next().expect("the disk is kept");
        let disk = disk.lock();
        assert_eq!((path, disk.info().capacity), ("/virtio-blk", 2048));
    }
}

#[test]
fn configuration_fields_are_read_for_the_features_negotiated() {
    for interface in INTERFACES {
        let model = BlockModel::new(4096).with_blk_size(4096).with_segment_limits(8192, 3).read_only();
        let rig = Rig::new(interface, model);
        let info = rig.blk.info();
        assert_eq!((info.capacity, info.block_size, info.block_sectors()), (4096, 4096, 8));
        assert_eq!((info.size_max, info.seg_max), (Some(8192), Some(3)));
        assert_eq!(info.max_request_sectors, 48, "3 segments of 8 KiB");
        assert!(info.read_only && info.flush);
        let features = rig.device.driver_features() & 0xffff_ffff;
        assert_eq!(features, 0x266 | RING_EVENT_IDX, "SIZE_MAX, SEG_MAX, RO, BLK_SIZE, FLUSH, and the core's EVENT_IDX");
    }
    let plain = Rig::new(Interface::Modern, BlockModel::new(8).without_flush());
    let info = plain.blk.info();
    assert_eq!((info.block_size, info.size_max, info.seg_max, info.flush), (512, None, None, false));
}

#[test]
fn a_device_without_an_id_string_still_binds() {
    for id in [None, Some(&b""[..]), Some(&b"  "[..])] {
        let rig = Rig::new(Interface::Modern, BlockModel::new(8).with_id(id));
        assert_eq!(rig.blk.info().id, None, "{id:?}");
        assert_eq!(rig.device.status() & (DRIVER_OK | FAILED), DRIVER_OK);
    }
    let rig = Rig::new(Interface::Legacy, BlockModel::new(8).with_id(Some(b"twenty-byte-serial-#")));
    assert_eq!(rig.blk.info().id.as_deref(), Some("twenty-byte-serial-#"));
}

#[test]
fn a_configuration_that_makes_no_sense_fails_the_device_without_leaks() {
    let lies: [(fn() -> BlockModel, BlockError); 6] = [
        (|| BlockModel::new(8).with_blk_size(0), BlockError::InvalidBlockSize(0)),
        (|| BlockModel::new(8).with_blk_size(1000), BlockError::InvalidBlockSize(1000)),
        (|| BlockModel::new(8).with_blk_size(256), BlockError::InvalidBlockSize(256)),
        (|| BlockModel::new(8).with_capacity(u64::MAX), BlockError::CapacityTooLarge(u64::MAX)),
        (
            || BlockModel::new(8).with_segment_limits(0, 16),
            BlockError::LimitsTooSmall { size_max: 0, seg_max: 16, block_size: 512 },
        ),
        (
            || BlockModel::new(8).with_segment_limits(4096, 0),
            BlockError::LimitsTooSmall { size_max: 4096, seg_max: 0, block_size: 512 },
        ),
    ];
    for (model, expected) in lies {
        for interface in INTERFACES {
            let (platform, device, _, bound) = bring_up(interface, model());
            assert_eq!(bound.err(), Some(expected.clone()), "{interface:?}");
            assert_ne!(device.status() & FAILED, 0, "device marked FAILED");
            assert_eq!(platform.host().dma_live(), 0, "queue memory freed");
        }
    }
}

#[test]
fn a_queue_too_small_for_a_request_fails_the_probe_with_the_reason() {
    let platform = SimPlatform::leaked();
    let device = SimDevice::new(platform, Interface::Modern, BlockModel::new(8));
    device.set_queue_max(0, 2);
    let registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
    let reason = "request queue of 2 entries cannot hold header, data and status";
    assert_eq!(registry.find_by_path("/virtio-blk").unwrap().state, DeviceState::Failed(reason.into()));
    assert_ne!(device.status() & FAILED, 0);
    assert_eq!(platform.host().dma_live(), 0);
}

#[test]
fn dropping_the_driver_resets_the_device_and_frees_everything() {
    let rig = Rig::new(Interface::Modern, BlockModel::new(8));
    let (platform, device) = (rig.platform, rig.device.clone());
    assert!(platform.host().dma_live() > 0);
    drop(rig);
    assert_eq!(device.status(), 0, "reset before the rings were freed");
    assert_eq!(platform.host().dma_live(), 0);
}
