//! The device tree the registry owns after enumeration and probing.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::fmt;

use crate::device::{BusAddress, DeviceIds, DeviceSpec, IoPortRange, Irq, MmioRegion};
use crate::driver::Driver;
use crate::health::DeviceHealth;
use crate::irq::IrqStats;
use crate::msi::MsiSource;
use crate::platform::Platform;

/// Index of a device in its [`Registry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub usize);

/// The outcome of matching and probing one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceState {
    /// Not probed yet.
    Pending,
    /// A driver matched (host-side planning only; nothing was probed).
    Matched,
    Bound,
    NoDriver,
    /// The driver found nothing behind the device (e.g. an unused virtio-mmio slot).
    Empty(String),
    /// DT `status` other than "okay": not probed.
    Disabled,
    /// The driver waits for something that never became ready.
    Deferred(String),
    Failed(String),
}

impl DeviceState {
    /// The word `lsdev` and the JSON use.
    pub fn label(&self) -> &'static str {
        match self {
            DeviceState::Pending => "pending",
            DeviceState::Matched => "matched",
            DeviceState::Bound => "bound",
            DeviceState::NoDriver => "no driver",
            DeviceState::Empty(_) => "empty",
            DeviceState::Disabled => "disabled",
            DeviceState::Deferred(_) => "deferred",
            DeviceState::Failed(_) => "failed",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            DeviceState::Empty(r) | DeviceState::Deferred(r) | DeviceState::Failed(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{}: {}", self.label(), reason),
            None => f.write_str(self.label()),
        }
    }
}

/// One device in the registry.
pub struct DeviceNode {
    pub id: DeviceId,
    pub parent: Option<DeviceId>,
    pub children: Vec<DeviceId>,
    pub name: String,
    /// Unique within the registry: the DT path, or the parent's path plus this name.
    pub path: String,
    pub address: BusAddress,
    pub ids: DeviceIds,
    pub regions: Vec<MmioRegion>,
    pub io_ports: Vec<IoPortRange>,
    pub irqs: Vec<Irq>,
    pub enabled: bool,
    pub notes: Vec<String>,
    pub state: DeviceState,
    pub driver: Option<&'static Driver>,
    /// Facts the driver reported for `lsdev` (capacity, MAC, ...), in the order given.
    pub info: Vec<(&'static str, String)>,
    /// The interrupts the driver hooked up: index into `irqs`, and how often each fired.
    pub irq_stats: Vec<(usize, Arc<IrqStats>)>,
    /// Message-signalled interrupts the driver allocated (for itself or its children).
    pub msi: Vec<(MsiSource, Irq)>,
    /// Created by its parent's driver (not by bus enumeration): removed with that driver.
    pub added_by_driver: bool,
    /// What the bound driver reported since the probe (a device it gave up on); see
    /// [`outcome`](DeviceNode::outcome).
    pub health: DeviceHealth,
    pub(crate) bus_data: Option<Box<dyn Any + Send>>,
    pub(crate) driver_data: Option<Box<dyn Any + Send>>,
}

impl DeviceNode {
    pub(crate) fn from_spec(id: DeviceId, parent: Option<&DeviceNode>, spec: DeviceSpec) -> (Self, Vec<DeviceSpec>) {
        let path = match (&spec.address, parent) {
            (BusAddress::Dt { path }, _) => path.clone(),
            (_, Some(parent)) if parent.path.ends_with('/') => alloc::format!("{}{}", parent.path, spec.name),
            (_, Some(parent)) => alloc::format!("{}/{}", parent.path, spec.name),
            (_, None) => alloc::format!("/{}", spec.name),
        };
        let node = DeviceNode {
            id,
            parent: parent.map(|p| p.id),
            children: Vec::new(),
            name: spec.name,
            path,
            address: spec.address,
            ids: spec.ids,
            regions: spec.regions,
            io_ports: spec.io_ports,
            irqs: spec.irqs,
            enabled: spec.enabled,
            notes: spec.notes,
            state: DeviceState::Pending,
            driver: None,
            info: Vec::new(),
            irq_stats: Vec::new(),
            msi: Vec::new(),
            added_by_driver: false,
            health: DeviceHealth::detached(),
            bus_data: spec.bus_data,
            driver_data: None,
        };
        (node, spec.children)
    }

    /// The device's state now: the probe's outcome ([`state`](DeviceNode::state)), except that a
    /// bound device whose driver has since given up on it is `Failed` with the driver's reason.
    pub fn outcome(&self) -> DeviceState {
        match (&self.state, self.health.failure()) {
            (DeviceState::Bound, Some(reason)) => DeviceState::Failed(String::from(reason)),
            (state, _) => state.clone(),
        }
    }

    /// The first `compatible` string, PCI ID or virtio ID, as `lsdev` shows it.
    pub fn ids_label(&self) -> String {
        match &self.ids {
            DeviceIds::Compatible(list) => list.first().cloned().unwrap_or_default(),
            DeviceIds::Pci(p) => alloc::format!("{:04x}:{:04x} {:06x}", p.vendor, p.device, p.class),
            DeviceIds::Virtio { device_id } => alloc::format!("virtio id {device_id}"),
            DeviceIds::None => String::new(),
        }
    }
}

/// All devices, their tree and their outcomes.
pub struct Registry {
    /// Indexed by [`DeviceId`]; a removed device leaves an empty slot so ids stay stable.
    nodes: Vec<Option<DeviceNode>>,
    roots: Vec<DeviceId>,
    /// The platform the devices were probed with (none when only planned).
    platform: Option<&'static dyn Platform>,
}

impl Registry {
    pub(crate) fn new(platform: Option<&'static dyn Platform>) -> Self {
        Registry { nodes: Vec::new(), roots: Vec::new(), platform }
    }

    /// Adds `spec` and its subtree; returns the ids added, parents before children.
    pub(crate) fn insert(&mut self, parent: Option<DeviceId>, spec: DeviceSpec, added_by_driver: bool) -> Vec<DeviceId> {
        let mut added = Vec::new();
        let mut pending = alloc::vec![(parent, spec)];
        while let Some((parent, spec)) = pending.pop() {
            let id = DeviceId(self.nodes.len());
            let (mut node, children) = DeviceNode::from_spec(id, parent.and_then(|p| self.get(p)), spec);
            node.added_by_driver = added_by_driver;
            self.nodes.push(Some(node));
            match parent.and_then(|p| self.get_mut(p)) {
                Some(parent_node) => parent_node.children.push(id),
                None => self.roots.push(id),
            }
            added.push(id);
            // Reversed so that popping visits children in their original order.
            pending.extend(children.into_iter().rev().map(|c| (Some(id), c)));
        }
        added
    }

    pub fn roots(&self) -> &[DeviceId] {
        &self.roots
    }

    pub fn get(&self, id: DeviceId) -> Option<&DeviceNode> {
        self.nodes.get(id.0)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, id: DeviceId) -> Option<&mut DeviceNode> {
        self.nodes.get_mut(id.0)?.as_mut()
    }

    /// Every device, in the order it was added.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceNode> {
        self.nodes.iter().flatten()
    }

    /// Replaces (or adds) the fact `key` that `lsdev` shows beside the device at `path`, for
    /// driver state that changed after the probe (a disk resized). False without such a device.
    pub fn set_info(&mut self, path: &str, key: &'static str, value: String) -> bool {
        let Some(node) = self.nodes.iter_mut().flatten().find(|n| n.path == path) else { return false };
        match node.info.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => *old = value,
            None => node.info.push((key, value)),
        }
        true
    }

    pub fn find_by_path(&self, path: &str) -> Option<&DeviceNode> {
        self.devices().find(|n| n.path == path)
    }

    /// Devices in tree order (depth first, parents before children) with their depth.
    pub fn walk(&self) -> Vec<(usize, &DeviceNode)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, DeviceId)> = self.roots.iter().rev().map(|&r| (0, r)).collect();
        while let Some((depth, id)) = stack.pop() {
            if let Some(node) = self.get(id) {
                out.push((depth, node));
                stack.extend(node.children.iter().rev().map(|&c| (depth + 1, c)));
            }
        }
        out
    }

    /// The driver state of every bound device whose driver keeps a `T`, with the device path.
    pub fn driver_data<T: Any + Send>(&mut self) -> impl Iterator<Item = (&str, &mut T)> {
        self.nodes.iter_mut().flatten().filter_map(|n| {
            let data = n.driver_data.as_mut()?.downcast_mut::<T>()?;
            Some((n.path.as_str(), data))
        })
    }

    /// How many devices ended in each state, for the probe summary.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for node in self.devices() {
            let counter = match node.outcome() {
                DeviceState::Bound | DeviceState::Matched => &mut s.bound,
                DeviceState::NoDriver | DeviceState::Pending => &mut s.no_driver,
                DeviceState::Empty(_) => &mut s.empty,
                DeviceState::Disabled => &mut s.disabled,
                DeviceState::Deferred(_) => &mut s.deferred,
                DeviceState::Failed(_) => &mut s.failed,
            };
            *counter += 1;
            s.total += 1;
        }
        s
    }

    /// Unbinds `id` and everything below it, children first, handing each driver's data to its
    /// `remove`. Devices a driver created go away with it; bus-enumerated ones stay, unbound.
    pub fn remove(&mut self, id: DeviceId) {
        let Some(node) = self.get(id) else { return };
        let children = node.children.clone();
        for &child in &children {
            self.remove(child);
        }
        let mut kept = Vec::with_capacity(children.len());
        for child in children {
            if self.get(child).is_some_and(|c| c.added_by_driver) {
                self.nodes[child.0] = None;
            } else {
                kept.push(child);
            }
        }
        let platform = self.platform;
        let Some(node) = self.get_mut(id) else { return };
        node.children = kept;
        node.info.clear();
        // The driver's copies of the old handle now report to nobody.
        node.health = DeviceHealth::detached();
        for (index, stats) in core::mem::take(&mut node.irq_stats) {
            if let (Some(irq), Some(platform)) = (node.irqs.get(index), platform) {
                platform.free_irq(irq, &stats);
            }
        }
        let driver = node.driver.take();
        let data = node.driver_data.take();
        if matches!(node.state, DeviceState::Bound | DeviceState::Matched) {
            node.state = DeviceState::Pending;
        }
        if let (Some(remove), Some(data)) = (driver.and_then(|d| d.remove), data) {
            remove(node, data);
        }
        // After the driver's remove, which stopped the device sending them.
        for (source, irq) in core::mem::take(&mut node.msi) {
            if let Some(platform) = platform {
                platform.free_msi(&source, &irq);
            }
        }
    }
}

/// Device counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub bound: usize,
    pub no_driver: usize,
    pub empty: usize,
    pub disabled: usize,
    pub deferred: usize,
    pub failed: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} devices: {} bound, {} empty, {} no driver, {} disabled, {} deferred, {} failed",
            self.total, self.bound, self.empty, self.no_driver, self.disabled, self.deferred, self.failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_info_replaces_a_fact_or_adds_it_and_names_a_missing_device() {
        let mut registry = Registry::new(None);
        registry.insert(None, DeviceSpec::new("disk", BusAddress::Virtio, DeviceIds::None), false);
        registry.get_mut(DeviceId(0)).unwrap().info.push(("capacity", String::from("64 sectors")));
        assert!(registry.set_info("/disk", "capacity", String::from("128 sectors")));
        assert!(registry.set_info("/disk", "link", String::from("up")));
        let info = &registry.find_by_path("/disk").unwrap().info;
        assert_eq!(info, &[("capacity", String::from("128 sectors")), ("link", String::from("up"))]);
        assert!(!registry.set_info("/nothing", "capacity", String::new()));
    }

    #[test]
    fn a_bound_device_its_driver_gave_up_on_is_failed_until_it_is_removed() {
        let mut registry = Registry::new(None);
        registry.insert(None, DeviceSpec::new("disk", BusAddress::Virtio, DeviceIds::None), false);
        let node = registry.get_mut(DeviceId(0)).unwrap();
        node.state = DeviceState::Bound;
        node.health = DeviceHealth::for_device("/disk");
        let driver_copy = node.health.clone();
        assert_eq!(registry.summary().bound, 1);
        driver_copy.fail("ring violation");
        let node = registry.get(DeviceId(0)).unwrap();
        assert_eq!(node.outcome(), DeviceState::Failed(String::from("ring violation")));
        assert_eq!(node.state, DeviceState::Bound, "the probe's outcome is kept");
        assert_eq!((registry.summary().bound, registry.summary().failed), (0, 1));
        registry.remove(DeviceId(0));
        assert_eq!(registry.get(DeviceId(0)).unwrap().outcome(), DeviceState::Pending, "unbound: no longer failed");
    }
}
