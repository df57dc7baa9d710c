//! Cross-checks the node walk against the independent `fdt` crate: both must find the
//! same nodes with a `compatible` property.

use std::panic::{catch_unwind, AssertUnwindSafe};

use registry::DeviceIds;

use super::{all_devices, fixture, root_device};

/// (node name, compatible list) of every compatible node, sorted.
type Compatibles = Vec<(String, Vec<String>)>;

fn ours(blob: &[u8]) -> Compatibles {
    let root = root_device(blob);
    let mut found: Compatibles = all_devices(&root)
        .into_iter()
        .filter_map(|d| match &d.ids {
            DeviceIds::Compatible(list) if !list.is_empty() => Some((d.name.clone(), list.clone())),
            _ => None,
        })
        .collect();
    found.sort();
    found
}

/// The same list from the `fdt` crate, or `None` when it panics (it does on some valid
/// blobs, e.g. with NOP tokens between properties).
fn theirs(blob: &[u8]) -> Option<Compatibles> {
    let walk = || {
        let fdt = fdt::Fdt::new(blob).ok()?;
        let mut found: Compatibles = fdt
            .all_nodes()
            .filter_map(|node| {
                let list: Vec<String> = node.compatible()?.all().map(String::from).collect();
                Some((node.name.to_string(), list)).filter(|(_, list)| !list.is_empty())
            })
            .collect();
        found.sort();
        Some(found)
    };
    catch_unwind(AssertUnwindSafe(walk)).ok().flatten()
}

/// `Err` with the first difference when both parsers ran and disagree.
pub fn compare_with_fdt(blob: &[u8]) -> Result<(), String> {
    let Some(theirs) = theirs(blob) else {
        return Ok(());
    };
    let ours = ours(blob);
    match ours.iter().zip(&theirs).find(|(a, b)| a != b) {
        Some((a, b)) => Err(format!("bus-dt found {a:?} where fdt found {b:?}")),
        None if ours.len() != theirs.len() => Err(format!(
            "bus-dt found {} compatible nodes, fdt {}",
            ours.len(),
            theirs.len()
        )),
        None => Ok(()),
    }
}

#[test]
fn fixtures_agree_with_the_fdt_crate() {
    for name in [
        "qemu-virt.dtb",
        "qemu-virt-gicv3.dtb",
        "qemu-virt-smp4.dtb",
        "qemu-virt-pci.dtb",
        "handmade.dtb",
    ] {
        let blob = fixture(name);
        assert!(theirs(&blob).is_some(), "fdt could not walk {name}");
        compare_with_fdt(&blob).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
