//! probe_all's behaviour with test drivers: matching order, outcomes, children, deferral, remove.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};

use registry::testing::HostPlatform;
use registry::{
    Bus, BusAddress, BusError, DeviceIds, DeviceNode, DeviceSpec, DeviceState, Driver, Match, PciIds, ProbeContext,
    ProbeError, Registry,
};

struct Devices(fn() -> Vec<DeviceSpec>);

impl Bus for Devices {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        Ok((self.0)())
    }
}

struct BrokenBus;

impl Bus for BrokenBus {
    fn name(&self) -> &str {
        "broken"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        Err(BusError("controller did not answer".into()))
    }
}

fn dt(name: &str, compatible: &[&str]) -> DeviceSpec {
    let ids = DeviceIds::Compatible(compatible.iter().map(|c| c.to_string()).collect());
    DeviceSpec::new(name, BusAddress::Dt { path: format!("/{name}") }, ids)
}

fn pci(name: &str, vendor: u16, device: u16, class: u32) -> DeviceSpec {
    let ids = PciIds { vendor, device, class, revision: 0, subsystem_vendor: 0, subsystem: 0 };
    DeviceSpec::new(name, BusAddress::Pci { segment: 0, bus: 0, device: 1, function: 0 }, DeviceIds::Pci(ids))
}

fn bind(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    Ok(())
}

fn fail(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    Err(ProbeError::Failed("register test failed".into()))
}

fn driver(name: &'static str, matches: &'static [Match], priority: i8, probe: fn(&mut ProbeContext<'_>) -> Result<(), ProbeError>) -> &'static Driver {
    Box::leak(Box::new(Driver { name, matches, priority, class: None, probe, remove: None }))
}

fn bound_driver(registry: &Registry, path: &str) -> &'static str {
    let node = registry.find_by_path(path).unwrap_or_else(|| panic!("{path} missing"));
    assert_eq!(node.state, DeviceState::Bound, "{path}");
    node.driver.expect("bound devices have a driver").name
}

#[test]
fn earlier_compatible_entry_wins_then_priority() {
    let generic = driver("generic", &[Match::Compatible("acme,uart")], 9, bind);
    let specific = driver("specific", &[Match::Compatible("acme,uart-v2")], 0, bind);
    let low = driver("low", &[Match::Compatible("acme,timer")], -1, bind);
    let high = driver("high", &[Match::Compatible("acme,timer")], 1, bind);
    let bus = Devices(|| vec![dt("uart", &["acme,uart-v2", "acme,uart"]), dt("timer", &["acme,timer"])]);
    let registry = registry::probe_with(HostPlatform::leaked(), &[&bus], [generic, specific, low, high]);
    assert_eq!(bound_driver(&registry, "/uart"), "specific", "position in compatible beats priority");
    assert_eq!(bound_driver(&registry, "/timer"), "high", "priority breaks the tie");
}

#[test]
fn pci_exact_id_beats_range_beats_class() {
    let by_class = driver("class", &[Match::PciClass { class: 0x02, subclass: 0x00, prog_if: None }], 5, bind);
    let by_range = driver("range", &[Match::PciIdRange { vendor: 0x1af4, first: 0x1000, last: 0x107f }], 0, bind);
    let by_id = driver("exact", &[Match::PciId { vendor: 0x1af4, device: 0x1041 }], 0, bind);
    let bus = Devices(|| {
        vec![
            pci("net", 0x1af4, 0x1041, 0x02_00_00),
            pci("blk", 0x1af4, 0x1042, 0x01_00_00),
            pci("e1000", 0x8086, 0x100e, 0x02_00_00),
            pci("beyond", 0x1af4, 0x1080, 0x01_00_00),
        ]
    });
    let registry = registry::probe_with(HostPlatform::leaked(), &[&bus], [by_class, by_range, by_id]);
    let by_name = |name: &str| registry.devices().find(|d| d.name == name).unwrap();
    assert_eq!(by_name("net").driver.unwrap().name, "exact");
    assert_eq!(by_name("blk").driver.unwrap().name, "range");
    assert_eq!(by_name("e1000").driver.unwrap().name, "class");
    assert_eq!(by_name("beyond").state, DeviceState::NoDriver, "0x1080 is past the range");
}

#[test]
fn every_device_gets_an_outcome_and_one_failure_stops_nothing() {
    let failing = driver("failing", &[Match::Compatible("acme,broken")], 0, fail);
    let good = driver("good", &[Match::Compatible("acme,good")], 0, bind);
    let bus = Devices(|| {
        let mut disabled = dt("off", &["acme,good"]);
        disabled.enabled = false;
        vec![dt("broken", &["acme,broken"]), dt("good", &["acme,good"]), dt("unknown", &["acme,mystery"]), disabled]
    });
    let registry = registry::probe_with(HostPlatform::leaked(), &[&bus, &BrokenBus], [failing, good]);
    let state = |path: &str| registry.find_by_path(path).unwrap().state.clone();
    assert_eq!(state("/broken"), DeviceState::Failed("register test failed".into()));
    assert_eq!(state("/good"), DeviceState::Bound);
    assert_eq!(state("/unknown"), DeviceState::NoDriver);
    assert_eq!(state("/off"), DeviceState::Disabled);
    // The bus that could not be enumerated shows up as a failed device.
    let bus_node = registry.devices().find(|d| d.name == "broken" && d.address == BusAddress::Other("broken".into())).unwrap();
    assert_eq!(bus_node.state, DeviceState::Failed("enumeration failed: controller did not answer".into()));
    let summary = registry.summary();
    assert_eq!((summary.total, summary.bound, summary.failed, summary.no_driver, summary.disabled), (5, 1, 2, 1, 1));
}

/// A bus driver: adds two children carrying bus data; the child driver takes it.
fn bus_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    for id in [7u32, 8] {
        let mut child = DeviceSpec::new(format!("child{id}"), BusAddress::Virtio, DeviceIds::Virtio { device_id: id });
        child.bus_data = Some(Box::new(id * 100));
        ctx.add_child(child);
    }
    ctx.set_info("children", "2");
    Ok(())
}

fn child_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let data = ctx.take_bus_data::<u32>().ok_or_else(|| ProbeError::failed("no bus data"))?;
    ctx.set_driver_data(*data + 1);
    Ok(())
}

#[test]
fn children_added_by_a_bus_driver_are_probed_in_the_same_call() {
    let parent = driver("bus", &[Match::Compatible("acme,bus")], 0, bus_probe);
    let child = driver("child", &[Match::Virtio(7)], 0, child_probe);
    let bus = Devices(|| vec![dt("bus", &["acme,bus"])]);
    let mut registry = registry::probe_with(HostPlatform::leaked(), &[&bus], [parent, child]);
    assert_eq!(bound_driver(&registry, "/bus/child7"), "child");
    assert_eq!(registry.find_by_path("/bus/child8").unwrap().state, DeviceState::NoDriver);
    let parent_node = registry.find_by_path("/bus").unwrap();
    assert_eq!(parent_node.children.len(), 2);
    assert_eq!(parent_node.info, vec![("children", "2".to_string())]);
    let data: Vec<(String, u32)> = registry.driver_data::<u32>().map(|(p, d)| (p.to_string(), *d)).collect();
    assert_eq!(data, vec![("/bus/child7".to_string(), 701)]);
}

static PROVIDER_READY: AtomicUsize = AtomicUsize::new(0);

fn provider(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    PROVIDER_READY.store(1, Ordering::SeqCst);
    Ok(())
}

fn consumer(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    match PROVIDER_READY.load(Ordering::SeqCst) {
        1 => Ok(()),
        _ => Err(ProbeError::Defer("waiting for the clock provider".into())),
    }
}

fn never_ready(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    Err(ProbeError::Defer("waiting for a regulator nobody provides".into()))
}

#[test]
fn deferred_probes_retry_after_progress_and_report_what_still_waits() {
    let provider = driver("provider", &[Match::Compatible("acme,clock")], 0, provider);
    let consumer = driver("consumer", &[Match::Compatible("acme,uart")], 0, consumer);
    let stuck = driver("stuck", &[Match::Compatible("acme,stuck")], 0, never_ready);
    // The consumer comes first in the tree, so its first probe has to defer.
    let bus = Devices(|| vec![dt("uart", &["acme,uart"]), dt("stuck", &["acme,stuck"]), dt("clock", &["acme,clock"])]);
    let registry = registry::probe_with(HostPlatform::leaked(), &[&bus], [provider, consumer, stuck]);
    assert_eq!(bound_driver(&registry, "/uart"), "consumer");
    assert_eq!(
        registry.find_by_path("/stuck").unwrap().state,
        DeviceState::Deferred("waiting for a regulator nobody provides".into())
    );
    assert_eq!(registry.summary().deferred, 1);
}

static REMOVED: AtomicUsize = AtomicUsize::new(0);

fn count_remove(_: &DeviceNode, data: Box<dyn Any + Send>) {
    let value = data.downcast::<u32>().expect("the child driver keeps a u32");
    REMOVED.fetch_add(*value as usize, Ordering::SeqCst);
}

#[test]
fn remove_unbinds_children_first_and_drops_devices_the_driver_created() {
    let parent = driver("bus", &[Match::Compatible("acme,bus")], 0, bus_probe);
    let child: &'static Driver = Box::leak(Box::new(Driver {
        name: "child",
        matches: &[Match::Virtio(7)],
        priority: 0,
        class: None,
        probe: child_probe,
        remove: Some(count_remove),
    }));
    let bus = Devices(|| vec![dt("bus", &["acme,bus"])]);
    let mut registry = registry::probe_with(HostPlatform::leaked(), &[&bus], [parent, child]);
    let bus_id = registry.find_by_path("/bus").unwrap().id;
    registry.remove(bus_id);
    assert_eq!(REMOVED.load(Ordering::SeqCst), 701, "the child's remove got its driver data");
    assert!(registry.find_by_path("/bus/child7").is_none());
    assert!(registry.find_by_path("/bus/child8").is_none());
    let bus_node = registry.find_by_path("/bus").unwrap();
    assert_eq!(bus_node.state, DeviceState::Pending);
    assert!(bus_node.children.is_empty() && bus_node.info.is_empty() && bus_node.driver.is_none());
    assert_eq!(registry.devices().count(), 1);
}

// The one driver linked into this test binary (through the linker-collected list `plan`
// reads); every other test names its drivers explicitly with `probe_with`.
registry::register_driver!(PLANNED = Driver {
    name: "planned",
    matches: &[Match::Compatible("virtio,mmio")],
    priority: 0,
    class: None,
    probe: fail,
    remove: None,
});

#[test]
fn plan_matches_without_probing() {
    let bus = Devices(|| {
        let mut off = dt("off", &["virtio,mmio"]);
        off.enabled = false;
        vec![dt("a", &["virtio,mmio"]), dt("b", &["nothing,here"]), off]
    });
    // `plan` uses the linked drivers: `PLANNED` above. Its probe would fail: a device it
    // matches ends `matched`, which shows nothing was probed.
    let registry = registry::plan(&[&bus]);
    let a = registry.find_by_path("/a").unwrap();
    assert_eq!((a.state.clone(), a.driver.map(|d| d.name)), (DeviceState::Matched, Some("planned")));
    let b = registry.find_by_path("/b").unwrap();
    assert_eq!((b.state.clone(), b.driver.map(|d| d.name)), (DeviceState::NoDriver, None));
    assert_eq!(registry.find_by_path("/off").unwrap().state, DeviceState::Disabled);
}
