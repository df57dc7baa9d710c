//! What the end-to-end tests check about interrupts: the devices they exercised took some while
//! they did, as the kernel's `lsdev --json` counts them (`irq_counts`), so their I/O completed
//! in interrupt mode rather than by polling.

use std::collections::BTreeMap;
use std::fmt::Write;

use boards::Board;

use super::{by_path, has_device_tree, parse_json_block, run_command};
use crate::qemu::Session;
use crate::{fail, XtaskResult};

/// `driver`, and the driver of the console UART, whose receive interrupts the test's typing
/// raises: the PL011 on the device-tree boards, the 16550 on the PCs' ISA bus.
pub fn with_console_driver(board: &Board, driver: &'static str) -> Vec<&'static str> {
    let console = if has_device_tree(board) { "pl011" } else { "uart16550" };
    vec![driver, console]
}

/// Per device path: its driver, and the interrupts it handled and found spurious (over all
/// its interrupts).
pub struct InterruptCounts(BTreeMap<String, (String, u64, u64)>);

/// The counts `lsdev --json` shows now.
pub fn interrupt_counts(session: &mut Session) -> XtaskResult<InterruptCounts> {
    let json = parse_json_block(&run_command(session, "lsdev --json")?)?;
    let mut counts = BTreeMap::new();
    for (path, device) in by_path(&json)? {
        let Some(driver) = device["driver"].as_str() else { continue };
        // A line, or MSI-X vectors (configuration changes, queues): all of them count.
        let counts_of = device["irq_counts"].as_array();
        let count = |field: &str| counts_of.map_or(0, |counts| counts.iter().filter_map(|c| c[field].as_u64()).sum());
        counts.insert(path, (driver.to_string(), count("handled"), count("spurious")));
    }
    Ok(InterruptCounts(counts))
}

impl InterruptCounts {
    /// Checks that every device bound by one of `drivers` (at least one per driver) handled
    /// more interrupts than at `earlier`; returns the counts as lines for the test's log.
    pub fn expect_more_than(&self, earlier: &InterruptCounts, drivers: &[&str]) -> XtaskResult<String> {
        let mut summary = String::new();
        for &driver in drivers {
            let bound: Vec<_> = self.0.iter().filter(|(_, (bound_by, _, _))| bound_by == driver).collect();
            if bound.is_empty() {
                return Err(fail(format!("no device is bound by {driver}")));
            }
            for (path, &(_, handled, spurious)) in bound {
                let before = earlier.0.get(path).map_or(0, |&(_, handled, _)| handled);
                if handled <= before {
                    return Err(fail(format!("{path} ({driver}) handled no interrupt while the test ran ({before} before, {handled} after)")));
                }
                let _ = writeln!(summary, "xtask:   {path}: {handled} interrupts (+{spurious} spurious), {before} before the test");
            }
        }
        Ok(summary)
    }
}

/// Checks that the device `driver` bound interrupts through LPIs of the GICv3 ITS (MSI-X on
/// QEMU virt with `gic-version=3`): every interrupt of it is an `LPI n` of the ITS node.
pub fn expect_lpis(session: &mut Session, driver: &str) -> XtaskResult {
    let json = parse_json_block(&run_command(session, "lsdev --json")?)?;
    let devices = by_path(&json)?;
    let device = devices.values().find(|d| d["driver"] == driver).ok_or_else(|| fail(format!("no device is bound by {driver}")))?;
    let interrupts = device["interrupts"].as_array().map(Vec::as_slice).unwrap_or_default();
    let through_its = |irq: &serde_json::Value| {
        irq["label"].as_str().is_some_and(|l| l.starts_with("LPI ")) && irq["controller"].as_str().is_some_and(|c| c.contains("/its@"))
    };
    if interrupts.len() < 2 || !interrupts.iter().all(through_its) {
        return Err(fail(format!("{}: interrupts {}, expected MSI-X vectors as ITS LPIs", device["path"], device["interrupts"])));
    }
    Ok(())
}
