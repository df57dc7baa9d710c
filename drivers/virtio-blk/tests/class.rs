//! The disk through the registry's block class: what the kernel's consumers use.

mod common;

use std::sync::Arc;

use common::{patterned, Rig, INTERFACES};
use registry::class::block::{BlockErrorKind, BlockOp};
use virtio::sim::{BlockModel, SimBus, SimDevice, SimPlatform};
use virtio_blk::{BlockClass, SECTOR_SIZE};

const SECTORS: u64 = 256;

#[test]
fn the_bound_disk_is_published_as_blk0_with_its_facts() {
    let platform = SimPlatform::leaked();
    let device = SimDevice::new(platform, INTERFACES[0], BlockModel::with_contents(patterned(SECTORS, 3)));
    let registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
    let disk = registry.instance::<dyn registry::class::BlockDevice>("blk0").expect("published");
    assert_eq!((disk.path.as_str(), disk.device.info().capacity), ("/virtio-blk", SECTORS));
    assert_eq!(registry.find_by_path("/virtio-blk").unwrap().instance.as_deref(), Some("blk0"));
    let handle = disk.device;
    drop(registry);
    let mut sector = vec![0; SECTOR_SIZE];
    handle.read(5, &mut sector).expect("the handle outlives the registry");
    assert_eq!(sector, patterned(SECTORS, 3)[5 * SECTOR_SIZE..6 * SECTOR_SIZE]);
}

#[test]
fn blocking_and_queued_calls_through_the_class_reach_the_disk() {
    for interface in INTERFACES {
        let rig = Rig::new(interface, BlockModel::with_contents(patterned(SECTORS, 1)));
        let disk = rig.disk.clone();
        let class: Arc<dyn registry::class::BlockDevice> = Arc::new(BlockClass::new(rig.blk));
        class.write(8, &[0x5a; 2 * SECTOR_SIZE]).unwrap();
        assert_eq!(disk.contents()[8 * SECTOR_SIZE..10 * SECTOR_SIZE], [0x5a; 2 * SECTOR_SIZE]);
        let mut pieces = 0;
        class.read_with(0, SECTORS, &mut |_, _| pieces += 1).unwrap();
        assert!(pieces >= 1);

        let buffer = class.buffer(2).unwrap();
        let token = class.submit(BlockOp::Read, 8, buffer).unwrap();
        let done = class.wait().expect("completed");
        assert_eq!((done.token, done.result), (token, Ok(())));
        let buffer = done.buffer.expect("the buffer comes back");
        assert_eq!(buffer.len(), 2 * SECTOR_SIZE);

        let refused = class.submit(BlockOp::Write, SECTORS, buffer).unwrap_err();
        assert_eq!(refused.error.kind, BlockErrorKind::OutOfRange, "{}", refused.error);
        assert!(refused.buffer.is_some(), "a refused request's buffer is handed back");
        assert!(class.poll().is_none() && class.wait().is_none(), "nothing in flight");
        assert_eq!(class.flush().map_err(|e| e.kind), Ok(()));
    }
}
