//! The interrupt path through the simulated device: a driver hooks the device's line at probe,
//! sleeps until the device interrupts, and copes with a device that interrupts for nothing,
//! never interrupts, or never completes.

mod common;

use std::collections::HashMap;

use common::test_blk::Bound;
use common::{Request, STATUS_OK};
use registry::{DeviceState, Platform, Registry};
use virtio::sim::{BlockModel, Interface, Misbehaviour, SimBus, SimDevice, SimPlatform};
use virtio::VirtioError;

registry::register_driver!(TEST_BLK = common::test_blk::DRIVER);

/// How long the simulated disk takes per batch of requests.
const LATENCY_NS: u64 = 200_000;
const TIMEOUT_NS: u64 = 50_000_000;


/// A disk that completes requests after [`LATENCY_NS`], bound by the test driver, which hooked
/// its interrupt.
fn bind(interface: Interface, misbehaviour: Option<Misbehaviour>) -> (&'static SimPlatform, SimDevice, Registry) {
    let platform = SimPlatform::leaked();
    let device = SimDevice::new(platform, interface, BlockModel::new(64));
    device.set_completion_latency(Some(LATENCY_NS));
    if let Some(misbehaviour) = misbehaviour {
        device.misbehave(misbehaviour);
    }
    let registry = registry::probe_all(platform, &[&SimBus(vec![device.clone()])]);
    assert_eq!(registry.find_by_path("/virtio-blk").unwrap().state, DeviceState::Bound);
    (platform, device, registry)
}

/// Submits a one-sector read and waits for it; returns the simulated time the wait took.
fn read_one(platform: &'static SimPlatform, registry: &mut Registry) -> Result<u64, VirtioError> {
    let (_, bound) = registry.driver_data::<Bound>().next().expect("driver data kept");
    let request = Request::read(platform, 0, 1);
    let token = bound.queue.add(&request.buffers())?;
    bound.queue.notify(bound.transport.as_ref())?;
    let start = platform.now_ns();
    let used = bound.queue.wait_used(bound.transport.as_mut(), platform, TIMEOUT_NS, &bound.interrupt)?;
    assert_eq!((used.token, request.status()), (token, STATUS_OK));
    Ok(platform.now_ns() - start)
}

/// Interrupts the device's line took: handled and spurious.
fn counts(registry: &Registry) -> (u64, u64) {
    let node = registry.find_by_path("/virtio-blk").unwrap();
    let (index, stats) = &node.irq_stats[0];
    assert_eq!(*index, 0, "the transport's line is the device's interrupt 0");
    (stats.handled(), stats.spurious())
}

fn is_live(registry: &mut Registry) -> bool {
    registry.driver_data::<Bound>().next().unwrap().1.interrupt.is_live()
}

#[test]
fn completions_wake_the_sleeping_driver_through_its_interrupt() {
    for interface in [Interface::Modern, Interface::Legacy] {
        let (platform, _, mut registry) = bind(interface, None);
        assert!(is_live(&mut registry), "{interface:?}: the interrupt is hooked");
        for round in 1..=3 {
            let waited = read_one(platform, &mut registry).expect("completion");
            assert!((LATENCY_NS..2 * LATENCY_NS).contains(&waited), "{interface:?}: woke {waited} ns after the submit");
            // Handlers only run while the driver idles: it slept, and acknowledged each one.
            assert_eq!(counts(&registry), (round, 0), "{interface:?}: one interrupt per completion");
        }
        assert!(registry::lsdev::text(&registry).contains("irqs (sim line 32): 3"));
    }
}

#[test]
fn spurious_interrupts_are_counted_and_change_nothing() {
    let (platform, device, mut registry) = bind(Interface::Modern, Some(Misbehaviour::SpuriousInterrupts));
    for _ in 0..2 {
        read_one(platform, &mut registry).expect("completion despite the noise");
    }
    let (handled, spurious) = counts(&registry);
    assert_eq!(handled, 2, "each completion was still seen");
    assert!(spurious > 0, "interrupts with nothing to report are counted as spurious");
    assert!(is_live(&mut registry));
    assert_eq!(device.status() & virtio::status::FAILED, 0);
}

#[test]
fn a_device_that_never_interrupts_costs_one_timeout_then_is_polled() {
    let (platform, _, mut registry) = bind(Interface::Modern, Some(Misbehaviour::NoInterrupts));
    let first = read_one(platform, &mut registry).expect("found at the deadline");
    assert!(first >= TIMEOUT_NS, "slept until the deadline: {first} ns");
    assert!(!is_live(&mut registry), "the interrupt is taken for lost");
    let second = read_one(platform, &mut registry).expect("polled");
    assert!(second < 2 * LATENCY_NS, "polling finds the next completion at once: {second} ns");
    assert_eq!(counts(&registry), (0, 0));
}

#[test]
fn a_completion_that_never_comes_times_out() {
    let (platform, device, mut registry) = bind(Interface::Modern, None);
    device.set_completion_latency(None);
    device.set_auto_complete(false);
    let error = read_one(platform, &mut registry).unwrap_err();
    assert_eq!(error.to_string(), "timed out after 50 ms waiting for the device to use a buffer");
    assert!(is_live(&mut registry), "a silent device is not a lost interrupt");
    assert_eq!(counts(&registry), (0, 0));
}

#[test]
fn with_event_idx_many_requests_in_flight_lose_no_completion_and_take_fewer_interrupts() {
    const REQUESTS: usize = 300;
    const IN_FLIGHT: usize = 8;
    for interface in [Interface::Modern, Interface::Legacy] {
        let (platform, device, mut registry) = bind(interface, None);
        let (_, bound) = registry.driver_data::<Bound>().next().expect("driver data kept");
        let mut waiting: HashMap<u16, Request> = HashMap::new();
        let (mut submitted, mut completed) = (0, 0);
        let start = platform.now_ns();
        // Submissions and waits interleave: each wait finds either a completion already in the
        // ring or sleeps on the interrupt it asked for.
        while completed < REQUESTS {
            while waiting.len() < IN_FLIGHT && submitted < REQUESTS {
                let request = Request::read(platform, submitted as u64 % 64, 1);
                let token = bound.queue.add(&request.buffers()).expect("add");
                bound.queue.notify(bound.transport.as_ref()).expect("notify");
                assert!(waiting.insert(token, request).is_none(), "{interface:?}: token {token} reused in flight");
                submitted += 1;
            }
            let used = bound.queue.wait_used(bound.transport.as_mut(), platform, TIMEOUT_NS, &bound.interrupt).expect("completion");
            let request = waiting.remove(&used.token).expect("a token in flight");
            assert_eq!(request.status(), STATUS_OK, "{interface:?}");
            completed += 1;
        }
        let elapsed = platform.now_ns() - start;
        assert!(bound.interrupt.is_live(), "{interface:?}: no wait ended at its deadline");
        assert!(elapsed < (REQUESTS / IN_FLIGHT + 1) as u64 * 2 * LATENCY_NS, "{interface:?}: {elapsed} ns");
        let interrupts = device.interrupts(0);
        assert!(interrupts * 4 <= REQUESTS, "{interface:?}: {interrupts} interrupts for {REQUESTS} completions");
        assert!(interrupts >= REQUESTS / IN_FLIGHT, "{interface:?}: {interrupts}: every sleep was woken");
    }
}
