//! Naming class instances and finding them: all of a class, by instance name, by device path.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{instance_name, Class, ClassInterface, ClassObject};
use crate::tree::{DeviceId, Registry};

/// One class instance as the registry hands it out: its handle, which the caller may keep as
/// long as it likes (the device stays alive while a handle does), and where it came from.
pub struct Instance<T: ?Sized> {
    /// `blk0`, `net0`, ...
    pub name: String,
    /// The device path, as `lsdev` shows it.
    pub path: String,
    pub device: Arc<T>,
}

impl<T: ?Sized> Clone for Instance<T> {
    fn clone(&self) -> Self {
        Instance { name: self.name.clone(), path: self.path.clone(), device: Arc::clone(&self.device) }
    }
}

impl Registry {
    /// Gives every device with a class its instance name: per class, in tree order (depth
    /// first, parents before children), so the host's `plan` and the kernel's `probe_all` name
    /// the same devices the same way whatever order the probes ran in. Names already given
    /// stay (a device probed later gets the next free number).
    pub(crate) fn name_instances(&mut self) {
        let named: Vec<(DeviceId, Class, bool)> = self
            .walk()
            .into_iter()
            .filter_map(|(_, node)| Some((node.id, node.class?, node.instance.is_some())))
            .collect();
        let mut next = [0usize; Class::ALL.len()];
        let slot = |class: Class| Class::ALL.iter().position(|&c| c == class).unwrap_or(0);
        // Numbers held by devices named before (an earlier probe round) are not given again.
        for node in self.devices() {
            if let (Some(class), Some(name)) = (node.class, &node.instance) {
                let number = name.strip_prefix(class.instance_prefix()).and_then(|n| n.parse::<usize>().ok());
                if let Some(number) = number {
                    next[slot(class)] = next[slot(class)].max(number + 1);
                }
            }
        }
        for (id, class, already) in named {
            if already {
                continue;
            }
            let number = &mut next[slot(class)];
            let name = instance_name(class, *number);
            *number += 1;
            if let Some(node) = self.get_mut(id) {
                node.instance = Some(name);
            }
        }
    }

    /// Every published instance of the class `T`, in instance-name order (`blk0` first).
    pub fn instances<T: ClassInterface + ?Sized>(&self) -> Vec<Instance<T>> {
        let mut found: Vec<(usize, Instance<T>)> = self
            .devices()
            .filter(|node| node.class == Some(T::CLASS))
            .filter_map(|node| {
                let device = T::from_object(node.class_object.as_ref()?)?;
                let name = node.instance.clone()?;
                let number = name.strip_prefix(T::CLASS.instance_prefix())?.parse().ok()?;
                Some((number, Instance { name, path: node.path.clone(), device }))
            })
            .collect();
        found.sort_by_key(|(number, _)| *number);
        found.into_iter().map(|(_, instance)| instance).collect()
    }

    /// The instance of class `T` named `name` (`blk0`) or at device path `name`.
    pub fn instance<T: ClassInterface + ?Sized>(&self, name: &str) -> Option<Instance<T>> {
        self.instances::<T>().into_iter().find(|i| i.name == name || i.path == name)
    }

    /// The class object published for the device `name` (instance name or path), of any class.
    pub fn class_object(&self, name: &str) -> Option<&ClassObject> {
        self.devices()
            .find(|node| node.instance.as_deref() == Some(name) || node.path == name)
            .and_then(|node| node.class_object.as_ref())
    }
}
