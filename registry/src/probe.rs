//! `probe_all`: enumerate the buses, match, probe, retry deferred probes, record outcomes.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::device::{Bus, BusAddress, DeviceIds, DeviceSpec};
use crate::driver::{Driver, ProbeContext, ProbeError, DRIVERS};
use crate::health::DeviceHealth;
use crate::index::DriverIndex;
use crate::platform::Platform;
use crate::tree::{DeviceId, DeviceState, Registry};

/// Enumerates `buses`, probes every device with the best of the linked drivers, and returns
/// the registry with every device's outcome. One failing bus or probe never stops the others.
pub fn probe_all(platform: &'static dyn Platform, buses: &[&dyn Bus]) -> Registry {
    probe_with(platform, buses, DRIVERS.iter())
}

/// [`probe_all`] with an explicit driver list (tests, or a kernel that filters drivers).
pub fn probe_with(
    platform: &'static dyn Platform,
    buses: &[&dyn Bus],
    drivers: impl IntoIterator<Item = &'static Driver>,
) -> Registry {
    let index = DriverIndex::new(drivers);
    let (mut registry, mut queue) = enumerate(buses, Some(platform));
    loop {
        let mut deferred = Vec::new();
        let mut progress = false;
        while let Some(id) = queue.pop_front() {
            match probe_one(&mut registry, &index, platform, id) {
                Some(ProbeStep::Bound(children)) => {
                    progress = true;
                    queue.extend(children);
                }
                Some(ProbeStep::Deferred) => deferred.push(id),
                None => {}
            }
        }
        // Retry deferred probes only while something new bound since they asked to wait.
        if deferred.is_empty() || !progress {
            break;
        }
        log::debug!("retrying {} deferred probe(s)", deferred.len());
        queue.extend(deferred);
    }
    log::info!("probe_all: {}", registry.summary());
    registry
}

/// Enumerates and matches without probing: what the host-side `lsdev` shows for a DTB.
/// Devices get [`DeviceState::Matched`] (driver known), `NoDriver` or `Disabled`.
pub fn plan(buses: &[&dyn Bus]) -> Registry {
    let index = DriverIndex::new(DRIVERS.iter());
    let (mut registry, queue) = enumerate(buses, None);
    for id in queue {
        let Some(node) = registry.get_mut(id) else { continue };
        node.driver = index.best_match(&node.ids);
        node.state = match (node.enabled, node.driver) {
            (false, _) => DeviceState::Disabled,
            (true, Some(_)) => DeviceState::Matched,
            (true, None) => DeviceState::NoDriver,
        };
    }
    registry
}

fn enumerate(buses: &[&dyn Bus], platform: Option<&'static dyn Platform>) -> (Registry, VecDeque<DeviceId>) {
    let mut registry = Registry::new(platform);
    let mut queue = VecDeque::new();
    for bus in buses {
        match bus.enumerate() {
            Ok(roots) => {
                for root in roots {
                    queue.extend(registry.insert(None, root, false));
                }
            }
            Err(error) => {
                log::error!("bus {}: enumeration failed: {error}", bus.name());
                // Kept as a device so `lsdev` shows the failure where the bus would have been.
                let spec = DeviceSpec::new(bus.name(), BusAddress::Other(bus.name().into()), DeviceIds::None);
                for id in registry.insert(None, spec, false) {
                    if let Some(node) = registry.get_mut(id) {
                        node.state = DeviceState::Failed(alloc::format!("enumeration failed: {error}"));
                    }
                }
            }
        }
    }
    (registry, queue)
}

enum ProbeStep {
    Bound(Vec<DeviceId>),
    Deferred,
}

fn probe_one(
    registry: &mut Registry,
    index: &DriverIndex,
    platform: &'static dyn Platform,
    id: DeviceId,
) -> Option<ProbeStep> {
    let node = registry.get_mut(id)?;
    if node.state != DeviceState::Pending && !matches!(node.state, DeviceState::Deferred(_)) {
        return None;
    }
    if !node.enabled {
        node.state = DeviceState::Disabled;
        return None;
    }
    let Some(driver) = index.best_match(&node.ids) else {
        node.state = DeviceState::NoDriver;
        return None;
    };
    node.driver = Some(driver);
    let bus_data = node.bus_data.take();

    let node = registry.get(id)?;
    let mut ctx = ProbeContext {
        device: node,
        platform,
        bus_data,
        driver_data: None,
        children: Vec::new(),
        info: Vec::new(),
        irq_stats: Vec::new(),
        msi: Vec::new(),
        health: DeviceHealth::for_device(&node.path),
    };
    let result = (driver.probe)(&mut ctx);
    let ProbeContext { bus_data, driver_data, children, info, irq_stats, msi, health, .. } = ctx;

    let node = registry.get_mut(id)?;
    node.bus_data = bus_data;
    let state = match result {
        Ok(()) => DeviceState::Bound,
        Err(ProbeError::Empty(reason)) => DeviceState::Empty(reason),
        Err(ProbeError::Defer(reason)) => DeviceState::Deferred(reason),
        Err(ProbeError::Failed(reason)) => DeviceState::Failed(reason),
    };
    match &state {
        DeviceState::Failed(_) => log::warn!("probe {} [{}]: {state}", node.path, driver.name),
        _ => log::info!("probe {} [{}]: {state}", node.path, driver.name),
    }
    node.state = state;
    match node.state {
        DeviceState::Bound => {
            node.info = info;
            node.irq_stats = irq_stats;
            node.msi = msi;
            node.driver_data = driver_data;
            node.health = health;
            let mut added = Vec::new();
            for child in children {
                added.extend(registry.insert(Some(id), child, true));
            }
            Some(ProbeStep::Bound(added))
        }
        // A probe that did not bind must not leave a handler behind.
        _ => {
            for (index, stats) in irq_stats {
                if let Some(irq) = node.irqs.get(index) {
                    platform.free_irq(irq, &stats);
                }
            }
            for (source, irq) in &msi {
                platform.free_msi(source, irq);
            }
            matches!(node.state, DeviceState::Deferred(_)).then_some(ProbeStep::Deferred)
        }
    }
}
