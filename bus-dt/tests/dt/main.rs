//! Integration tests: QEMU-made and hand-written fixture blobs, malformed blobs, and
//! optionally a directory of real boards' blobs (`BUS_DT_EXTRA_DTB_DIR`).

mod builder;
mod dt_oracle;
mod extra_dtbs;
mod fdt_oracle;
mod handmade;
mod malformed;
mod pci_host;
mod qemu;

use bus_dt::DtBus;
use registry::{Bus, BusAddress, DeviceSpec};

/// A blob from the workspace's `tests/dtb/`.
fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../tests/dtb/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The root device of a blob that must be valid.
fn root_device(blob: &[u8]) -> DeviceSpec {
    let bus = DtBus::new(blob).expect("fixture is valid");
    let mut roots = bus.enumerate().expect("enumerate");
    assert_eq!(roots.len(), 1, "one root device");
    roots.remove(0)
}

/// Every device in the tree, depth first.
fn all_devices(root: &DeviceSpec) -> Vec<&DeviceSpec> {
    let mut found = vec![root];
    for child in &root.children {
        found.extend(all_devices(child));
    }
    found
}

fn path_of(device: &DeviceSpec) -> &str {
    match &device.address {
        BusAddress::Dt { path } => path,
        other => panic!("not a DT address: {other:?}"),
    }
}

/// The device whose node path is `path`.
fn device<'a>(root: &'a DeviceSpec, path: &str) -> &'a DeviceSpec {
    let found = all_devices(root).into_iter().find(|d| path_of(d) == path);
    found.unwrap_or_else(|| panic!("no device at {path}"))
}
