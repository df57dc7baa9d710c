//! The node tree as a [`DeviceSpec`] tree: one device per node with a `compatible`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use registry::{BusAddress, DeviceIds, DeviceSpec};

use crate::tree::{NodeId, Tree};
use crate::{interrupts, pci_host, translate};

/// The root device with every compatible node below it. Nodes without `compatible`
/// (`/cpus`, buses described only by their children) are left out, and their
/// devices hang under the nearest ancestor device instead.
pub(crate) fn device_tree(tree: &Tree) -> DeviceSpec {
    let root = tree.root();
    let mut root_device = describe(tree, root, String::from("/"));
    attach_descendants(tree, root, "", &mut root_device);
    root_device
}

/// Adds the devices below `node` (whose path is `path`, empty for the root) to
/// `ancestor`. Recursion depth is bounded by the tree's depth limit.
fn attach_descendants(tree: &Tree, node: NodeId, path: &str, ancestor: &mut DeviceSpec) {
    for &child in &tree.node(node).children {
        let child_path = format!("{path}/{}", tree.node(child).name);
        if tree.has_property(child, "compatible") {
            let mut device = describe(tree, child, child_path.clone());
            attach_descendants(tree, child, &child_path, &mut device);
            ancestor.children.push(device);
        } else {
            attach_descendants(tree, child, &child_path, ancestor);
        }
    }
}

/// The device for `node` alone, without its children.
fn describe(tree: &Tree, node: NodeId, path: String) -> DeviceSpec {
    let name = match tree.node(node).name {
        "" => "/",
        name => name,
    };
    let ids = DeviceIds::Compatible(string_list(tree.property(node, "compatible")));
    let mut device = DeviceSpec::new(name, BusAddress::Dt { path }, ids);

    let (regions, region_notes) = translate::regions(tree, node);
    let (irqs, irq_notes) = interrupts::irqs(tree, node);
    device.regions = regions;
    device.irqs = irqs;
    device.notes = region_notes;
    device.notes.extend(irq_notes);
    if let Some((host, notes)) = pci_host::host_info(tree, node) {
        device.notes.extend(notes);
        device.bus_data = Some(alloc::boxed::Box::new(host));
    }

    if let Some(status) = tree.property(node, "status") {
        let status = first_string(status);
        device.enabled = matches!(status.as_str(), "okay" | "ok");
        if !device.enabled && status != "disabled" {
            device.notes.push(format!("status = \"{status}\""));
        }
    }
    device
}

/// A string-list property (`compatible`): NUL-separated, empty entries dropped.
pub(crate) fn string_list(value: Option<&[u8]>) -> Vec<String> {
    let entries = value.unwrap_or_default().split(|&b| b == 0);
    entries
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn first_string(value: &[u8]) -> String {
    let first = value.split(|&b| b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(first).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_lists_split_on_nul() {
        let list = string_list(Some(b"arm,pl011\0arm,primecell\0"));
        assert_eq!(list, ["arm,pl011", "arm,primecell"]);
        assert!(string_list(None).is_empty());
        assert_eq!(string_list(Some(b"no-terminator")), ["no-terminator"]);
    }
}
