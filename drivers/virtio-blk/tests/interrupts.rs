//! The disk in interrupt mode: bound through the registry with its interrupt hooked, it keeps
//! many requests in flight while it sleeps between completions, and a device that stops
//! completing is given up on with the reason.

mod common;

use common::patterned;
use virtio::sim::SimBus;
use registry::{DeviceState, Platform, Registry};
use virtio::sim::{BlockModel, Interface, Misbehaviour, SimDevice, SimPlatform};
use virtio::status::FAILED;
use virtio_blk::{BlockDevice, COMPLETION_TIMEOUT_NS, SECTOR_SIZE};

const LATENCY_NS: u64 = 300_000;

/// A disk of `sectors` sectors that completes requests after [`LATENCY_NS`], bound through the
/// registry.
fn bind(interface: Interface, sectors: usize) -> (&'static SimPlatform, SimDevice, Registry) {
    let platform = SimPlatform::leaked();
    let device = SimDevice::new(platform, interface, BlockModel::new(sectors));
    device.set_completion_latency(Some(LATENCY_NS));
    let registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
    assert_eq!(registry.find_by_path("/virtio-blk").unwrap().state, DeviceState::Bound);
    (platform, device, registry)
}

fn interrupts_taken(registry: &Registry) -> (u64, u64) {
    let stats = &registry.find_by_path("/virtio-blk").unwrap().irq_stats[0].1;
    (stats.handled(), stats.spurious())
}

#[test]
fn a_streamed_write_and_read_complete_by_interrupt() {
    for interface in [Interface::Modern, Interface::Legacy] {
        let (platform, _, mut registry) = bind(interface, 8192);
        let at_bind = interrupts_taken(&registry).0;
        assert!(at_bind >= 1, "{interface:?}: the ID request at probe completed by interrupt");
        let (_, disk) = registry.driver_data::<BlockDevice>().next().unwrap();
        let data = patterned(4096, 7);
        let start = platform.now_ns();
        disk.write(0, &data).expect("write");
        let mut back = vec![0; data.len()];
        disk.read(0, &mut back).expect("read");
        assert!(back == data, "{interface:?}: the data came back");
        assert!(disk.most_in_flight() > 1, "{interface:?}: several requests in flight");
        // 2 MiB each way in 64 KiB requests, 16 in flight: two batches each way, each completed
        // after the latency and announced by an interrupt.
        let elapsed = platform.now_ns() - start;
        assert!(elapsed >= 4 * LATENCY_NS, "{interface:?}: {elapsed} ns");
        let (handled, spurious) = interrupts_taken(&registry);
        assert!(handled - at_bind >= 4, "{interface:?}: {handled} interrupts");
        assert_eq!(spurious, 0, "{interface:?}");
    }
}

#[test]
fn a_disk_that_stops_completing_fails_with_the_reason_after_the_timeout() {
    let (platform, device, mut registry) = bind(Interface::Modern, 64);
    device.set_completion_latency(None);
    device.set_auto_complete(false);
    let (_, disk) = registry.driver_data::<BlockDevice>().next().unwrap();
    let start = platform.now_ns();
    let error = disk.read(0, &mut [0; SECTOR_SIZE]).unwrap_err();
    assert!(platform.now_ns() - start >= COMPLETION_TIMEOUT_NS);
    let reason = "timed out after 10000 ms waiting for the block device to complete a request";
    assert_eq!(error.to_string(), reason);
    assert_eq!(disk.failure().map(ToString::to_string).as_deref(), Some(reason), "recorded");
    assert_ne!(device.status() & FAILED, 0, "the device is marked FAILED");
    let outcome = registry.find_by_path("/virtio-blk").unwrap().outcome();
    assert_eq!(outcome, DeviceState::Failed(reason.into()), "lsdev follows the device");
}

#[test]
fn a_capacity_change_comes_with_the_configuration_interrupt() {
    for interface in [Interface::Modern, Interface::Legacy] {
        let platform = SimPlatform::leaked();
        let model = BlockModel::new(64);
        let storage = model.disk();
        let device = SimDevice::new(platform, interface, model);
        device.set_completion_latency(Some(LATENCY_NS));
        let mut registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
        let (_, disk) = registry.driver_data::<BlockDevice>().next().unwrap();
        let past_the_end = patterned(1, 3);
        assert!(disk.write(64, &past_the_end).is_err(), "{interface:?}: sector 64 is past the end");
        storage.resize(128);
        device.change_config(0, &128u64.to_le_bytes());
        // The interrupt is taken while the disk sleeps on a request within the old capacity.
        disk.write(0, &past_the_end).expect("write within the old capacity");
        assert_eq!(disk.refresh_capacity(), Some((64, 128)), "{interface:?}");
        assert_eq!(disk.info().capacity, 128);
        disk.write(64, &past_the_end).expect("sector 64 exists now");
        assert_eq!(&storage.contents()[64 * SECTOR_SIZE..65 * SECTOR_SIZE], &past_the_end[..], "{interface:?}");
        assert_eq!(disk.refresh_capacity(), None, "{interface:?}: taken once");
    }
}

#[test]
fn a_capacity_past_64_bit_byte_sizes_fails_the_disk() {
    let (_, device, mut registry) = bind(Interface::Modern, 64);
    let (_, disk) = registry.driver_data::<BlockDevice>().next().unwrap();
    device.change_config(0, &(u64::MAX / 2).to_le_bytes());
    disk.write(0, &patterned(1, 4)).expect("the write before the change is seen");
    assert_eq!(disk.refresh_capacity(), None);
    let failure = disk.failure().map(ToString::to_string).unwrap_or_default();
    assert!(failure.contains("beyond 64-bit byte sizes"), "{failure}");
    assert_ne!(device.status() & FAILED, 0, "FAILED set");
}

/// `lsdev`'s line and JSON record for `path`.
fn lsdev_of(registry: &Registry, path: &str) -> (String, String) {
    let text = registry::lsdev::text(registry);
    let json = registry::lsdev::json(registry);
    let line = |s: &str| s.lines().find(|l| l.contains(path)).map(str::to_string).unwrap_or_default();
    (line(&text), line(&json))
}

#[test]
fn a_disk_that_breaks_the_ring_after_the_probe_shows_failed_in_lsdev() {
    let (_, device, mut registry) = bind(Interface::Modern, 64);
    let (line, json) = lsdev_of(&registry, "virtio-blk");
    assert!(line.ends_with("bound"), "{line}");
    assert!(json.contains(r#""outcome":"bound","reason":null"#), "{json}");

    device.misbehave(Misbehaviour::UsedIdOutOfRange);
    let (_, disk) = registry.driver_data::<BlockDevice>().next().unwrap();
    let error = disk.read(0, &mut [0; SECTOR_SIZE]).unwrap_err();
    let reason = error.to_string();
    assert!(reason.contains("300"), "{reason}");

    let node = registry.find_by_path("/virtio-blk").unwrap();
    assert_eq!(node.outcome(), DeviceState::Failed(reason.clone()));
    let text = registry::lsdev::text(&registry);
    assert!(text.contains(&format!("failed: {reason}")), "{text}");
    let (_, json) = lsdev_of(&registry, "virtio-blk");
    assert!(json.contains(&format!(r#""outcome":"failed","reason":"{reason}""#)), "{json}");
    assert_eq!(registry.summary().failed, 1);
}
