//! Hash indexes from device identities to drivers, built once from the driver list.
//!
//! Lookup cost depends on the device's own IDs, not on how many drivers are linked.

use alloc::vec::Vec;
use hashbrown::HashMap;

use crate::device::{DeviceIds, PciIds};
use crate::driver::{Driver, Match};

/// How well a driver matched; lower sorts first (better).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// DT: position in the node's `compatible` list. PCI: 0 exact ID, 1 ID range, 2 class
    /// with prog-if, 3 class only. Virtio: 0.
    specificity: usize,
    /// Negated driver priority, so a higher priority sorts first.
    neg_priority: i16,
}

pub(crate) struct DriverIndex {
    compatible: HashMap<&'static str, Vec<&'static Driver>>,
    pci_id: HashMap<(u16, u16), Vec<&'static Driver>>,
    pci_range: HashMap<u16, Vec<(u16, u16, &'static Driver)>>,
    pci_class: HashMap<(u8, u8, Option<u8>), Vec<&'static Driver>>,
    virtio: HashMap<u32, Vec<&'static Driver>>,
}

impl DriverIndex {
    pub(crate) fn new(drivers: impl IntoIterator<Item = &'static Driver>) -> Self {
        let mut index = DriverIndex {
            compatible: HashMap::new(),
            pci_id: HashMap::new(),
            pci_range: HashMap::new(),
            pci_class: HashMap::new(),
            virtio: HashMap::new(),
        };
        for driver in drivers {
            for entry in driver.matches {
                match *entry {
                    Match::Compatible(c) => index.compatible.entry(c).or_default().push(driver),
                    Match::PciId { vendor, device } => {
                        index.pci_id.entry((vendor, device)).or_default().push(driver)
                    }
                    Match::PciIdRange { vendor, first, last } => {
                        index.pci_range.entry(vendor).or_default().push((first, last, driver))
                    }
                    Match::PciClass { class, subclass, prog_if } => {
                        index.pci_class.entry((class, subclass, prog_if)).or_default().push(driver)
                    }
                    Match::Virtio(id) => index.virtio.entry(id).or_default().push(driver),
                }
            }
        }
        index
    }

    /// The best driver for these IDs: the most specific match, then the highest priority,
    /// then the first registered (the order is stable within one image).
    pub(crate) fn best_match(&self, ids: &DeviceIds) -> Option<&'static Driver> {
        let mut best: Option<(Rank, &'static Driver)> = None;
        let mut consider = |specificity: usize, driver: &'static Driver| {
            let rank = Rank { specificity, neg_priority: -i16::from(driver.priority) };
            if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, driver));
            }
        };
        match ids {
            DeviceIds::Compatible(list) => {
                for (position, compatible) in list.iter().enumerate() {
                    for driver in self.compatible.get(compatible.as_str()).into_iter().flatten() {
                        consider(position, driver);
                    }
                }
            }
            DeviceIds::Pci(pci) => self.pci_candidates(pci, &mut consider),
            DeviceIds::Virtio { device_id } => {
                for driver in self.virtio.get(device_id).into_iter().flatten() {
                    consider(0, driver);
                }
            }
            DeviceIds::None => {}
        }
        best.map(|(_, driver)| driver)
    }

    fn pci_candidates(&self, pci: &PciIds, consider: &mut impl FnMut(usize, &'static Driver)) {
        for driver in self.pci_id.get(&(pci.vendor, pci.device)).into_iter().flatten() {
            consider(0, driver);
        }
        for &(first, last, driver) in self.pci_range.get(&pci.vendor).into_iter().flatten() {
            if (first..=last).contains(&pci.device) {
                consider(1, driver);
            }
        }
        let [_, class, subclass, prog_if] = pci.class.to_be_bytes();
        for driver in self.pci_class.get(&(class, subclass, Some(prog_if))).into_iter().flatten() {
            consider(2, driver);
        }
        for driver in self.pci_class.get(&(class, subclass, None)).into_iter().flatten() {
            consider(3, driver);
        }
    }
}
