//! The NIC's interrupt: bound through the registry with its line hooked, the caller's poll loop
//! sleeps until a frame arrives (or its deadline); without an interrupt it keeps polling.

mod common;

use common::{frame, Rig, MAC};
use registry::{DeviceState, Platform};
use virtio::sim::net::{NetModel, RX_QUEUE};
use virtio::sim::{Interface, Misbehaviour, SimBus, SimDevice, SimPlatform};
use virtio_net::VirtioNet;

const DEADLINE_NS: u64 = 5_000_000;


#[test]
fn the_poll_loop_sleeps_until_a_frame_arrives_or_its_deadline() {
    let platform = SimPlatform::leaked();
    let (model, link) = NetModel::new(Interface::Modern, MAC);
    let device = SimDevice::new(platform, Interface::Modern, model);
    device.set_auto_complete(false);
    let mut registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
    assert_eq!(registry.find_by_path("/virtio-net").unwrap().state, DeviceState::Bound);
    let (_, nic) = registry.driver_data::<VirtioNet>().next().unwrap();

    let start = platform.now_ns();
    nic.idle_until(start + DEADLINE_NS);
    assert!(platform.now_ns() - start >= DEADLINE_NS, "nothing arrived: slept until the deadline");

    link.hand_in(frame(1, 60));
    assert!(device.complete_next(RX_QUEUE));
    let start = platform.now_ns();
    nic.idle_until(start + DEADLINE_NS);
    assert!(platform.now_ns() - start < DEADLINE_NS, "the frame's interrupt woke the loop");
    assert_eq!(nic.receive().unwrap(), Some(&frame(1, 60)[..]));
    let stats = &registry.find_by_path("/virtio-net").unwrap().irq_stats[0].1;
    assert_eq!((stats.handled(), stats.spurious()), (1, 0));
}

#[test]
fn a_nic_without_an_interrupt_never_sleeps() {
    let rig = Rig::new(Interface::Legacy);
    let start = rig.platform.now_ns();
    rig.nic.idle_until(start + DEADLINE_NS);
    assert!(rig.platform.now_ns() - start < DEADLINE_NS, "returned at once: the caller polls");
}

#[test]
fn a_nic_that_breaks_the_ring_after_the_probe_shows_failed_in_lsdev() {
    let platform = SimPlatform::leaked();
    let (model, link) = NetModel::new(Interface::Modern, MAC);
    let device = SimDevice::new(platform, Interface::Modern, model);
    device.set_auto_complete(false);
    let mut registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
    assert_eq!(registry.find_by_path("/virtio-net").unwrap().outcome(), DeviceState::Bound);

    device.misbehave(Misbehaviour::UsedLenTooLong);
    link.hand_in(frame(1, 100));
    assert!(device.complete_next(RX_QUEUE));
    let (_, nic) = registry.driver_data::<VirtioNet>().next().unwrap();
    let reason = nic.receive().unwrap_err().to_string();

    assert_eq!(registry.find_by_path("/virtio-net").unwrap().outcome(), DeviceState::Failed(reason.clone()));
    let text = registry::lsdev::text(&registry);
    assert!(text.contains(&format!("failed: {reason}")), "{text}");
    let json = registry::lsdev::json(&registry);
    assert!(json.contains(&format!(r#""outcome":"failed","reason":"{reason}""#)), "{json}");
}
