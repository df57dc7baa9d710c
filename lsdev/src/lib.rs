//! Host-side `lsdev`: reads a DTB file, runs the same DT bus code and driver matching as the
//! kernel, and prints the tree with the driver each device would bind to.
//!
//! Nothing is probed on the host, so devices a bus driver would discover at run time (the
//! virtio device behind a virtio-mmio slot) are not shown; their slots are.

use registry::Registry;

// The drivers whose match tables the prediction uses: the same crates the kernel links.
use arm_gic as _;
use bus_pci as _;
use pl011 as _;
use virtio as _;

/// Matches every device of `blob` against the linked drivers without probing.
pub fn plan_dtb(blob: &[u8]) -> Result<Registry, bus_dt::DtError> {
    let bus = bus_dt::DtBus::new(blob)?;
    Ok(registry::plan(&[&bus]))
}

/// The `lsdev --json` output for `blob`.
pub fn json_for_dtb(blob: &[u8]) -> Result<String, bus_dt::DtError> {
    plan_dtb(blob).map(|r| registry::lsdev::json(&r))
}
