//! The virtio-mmio bus driver against register windows in host memory.

use registry::testing::HostPlatform;
use virtio as _;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, DeviceState, MmioRegion};

const SLOT_BASE: u64 = 0x1000_0000;
const SLOT_SIZE: u64 = 0x200;

/// Register words of one slot: magic, version, device id, vendor id.
fn slot(magic: u32, version: u32, device_id: u32) -> &'static mut [u32] {
    let mut words = vec![0u32; (SLOT_SIZE / 4) as usize];
    words[..4].copy_from_slice(&[magic, version, device_id, 0x554d_4551]);
    Box::leak(words.into_boxed_slice())
}

struct Slots(Vec<u64>);

impl Bus for Slots {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let mut root = DeviceSpec::new("/", BusAddress::Dt { path: "/".into() }, DeviceIds::Compatible(vec![]));
        for &base in &self.0 {
            let path = format!("/virtio_mmio@{base:x}");
            let mut node = DeviceSpec::new(&path[1..], BusAddress::Dt { path: path.clone() }, DeviceIds::Compatible(vec!["virtio,mmio".into()]));
            let size = if base == SLOT_BASE + 4 * SLOT_SIZE { 0x10 } else { SLOT_SIZE };
            node.regions.push(MmioRegion { base, size });
            root.children.push(node);
        }
        Ok(vec![root])
    }
}

#[test]
fn populated_empty_and_broken_slots_get_their_outcomes() {
    let platform = HostPlatform::leaked();
    let layouts = [
        slot(0x7472_6976, 2, 2),  // modern virtio-blk
        slot(0x7472_6976, 1, 0),  // legacy, empty
        slot(0xdead_beef, 2, 1),  // not virtio
        slot(0x7472_6976, 7, 1),  // unknown version
        slot(0x7472_6976, 2, 1),  // window declared too small in the DT
        slot(0x7472_6976, 1, 16), // legacy virtio-gpu
    ];
    let mut bases = Vec::new();
    for (i, words) in layouts.into_iter().enumerate() {
        let base = SLOT_BASE + i as u64 * SLOT_SIZE;
        platform.add_window(base, words);
        bases.push(base);
    }
    // One slot in the DT with no window behind it: the platform refuses to map it.
    bases.push(SLOT_BASE + 0x10_0000);

    let registry = registry::probe_all(platform, &[&Slots(bases)]);
    let state = |path: &str| registry.find_by_path(path).unwrap_or_else(|| panic!("{path} missing")).state.clone();

    assert_eq!(state("/virtio_mmio@10000000"), DeviceState::Bound);
    assert_eq!(state("/virtio_mmio@10000200"), DeviceState::Empty("no device".into()));
    assert!(matches!(state("/virtio_mmio@10000400"), DeviceState::Failed(r) if r.contains("bad magic 0xdeadbeef")));
    assert!(matches!(state("/virtio_mmio@10000600"), DeviceState::Failed(r) if r.contains("version 7")));
    assert!(matches!(state("/virtio_mmio@10000800"), DeviceState::Failed(r) if r.contains("too small")));
    assert!(matches!(state("/virtio_mmio@10100000"), DeviceState::Failed(r) if r.contains("cannot map")));

    let blk = registry.find_by_path("/virtio_mmio@10000000/virtio-blk").expect("child created");
    assert_eq!(blk.ids, DeviceIds::Virtio { device_id: 2 });
    assert_eq!(blk.state, DeviceState::NoDriver, "no virtio-blk driver is linked into this test");
    let gpu = registry.find_by_path("/virtio_mmio@10000a00/virtio-gpu").expect("legacy child created");
    assert_eq!(gpu.ids, DeviceIds::Virtio { device_id: 16 });
    let parent = registry.find_by_path("/virtio_mmio@10000a00").unwrap();
    assert_eq!(parent.info, vec![("transport", "virtio-mmio v1 (legacy)".to_string())]);
    assert_eq!(registry.summary().bound, 2);
}
