//! A scan turned into registry devices: functions under the bridges they sit behind.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use registry::{BusAddress, DeviceIds, DeviceSpec, IoPortRange, Irq, MmioRegion, MsiSource};

use crate::assign::HostWindows;
use crate::bar::BarKind;
use crate::config::{Bdf, ConfigAccess};
use crate::function::{MappedBar, PciFunction};
use crate::pcie;
use crate::scan::{Function, Scan};

/// Where a root-bus function's INTx pin goes: the host's routing (DT `interrupt-map`, or the
/// line firmware wrote on a PC).
pub type IntxRouter<'a> = &'a dyn Fn(Bdf, u8, u8) -> Option<Irq>;

/// Where a function's messages go, by its requester ID: the host's MSI controller (DT
/// `msi-map`), or the platform's own (a PC); `None` if the host has none.
pub type MsiRouter<'a> = &'a dyn Fn(u32) -> Option<MsiSource>;

/// The devices of `scan`, nested under their bridges, each carrying a [`PciFunction`].
pub fn devices(
    config: &Arc<dyn ConfigAccess>,
    scan: &Scan,
    segment: u16,
    windows: &HostWindows,
    route: IntxRouter<'_>,
    msi: MsiRouter<'_>,
) -> Vec<DeviceSpec> {
    let mut specs: Vec<Option<DeviceSpec>> = scan
        .functions
        .iter()
        .map(|f| {
            let bars: Vec<MappedBar> = f
                .bars
                .iter()
                .map(|&bar| MappedBar {
                    bar,
                    cpu_address: (bar.address != 0).then(|| windows.to_cpu(bar.kind, bar.address, bar.size)).flatten(),
                })
                .collect();
            let address = BusAddress::Pci { segment, bus: f.bdf.bus, device: f.bdf.device, function: f.bdf.function };
            let mut spec = DeviceSpec::new(format!("{}", f.bdf), address, DeviceIds::Pci(f.ids));
            spec.regions = bars
                .iter()
                .filter(|m| m.bar.kind != BarKind::Io)
                .filter_map(|m| Some(MmioRegion { base: m.cpu_address?, size: m.bar.size }))
                .collect();
            // I/O BARs by port address (the PCI I/O space), where a host window reaches them.
            spec.io_ports = bars
                .iter()
                .filter(|m| m.bar.kind == BarKind::Io && m.cpu_address.is_some())
                .map(|m| IoPortRange { base: m.bar.address, size: m.bar.size })
                .collect();
            spec.irqs.extend(intx(scan, f, route));
            let capabilities = match &f.capabilities {
                Ok(list) => list.clone(),
                Err(e) => {
                    spec.notes.push(format!("capabilities ignored: {e}"));
                    Vec::new()
                }
            };
            spec.notes.extend(bars.iter().filter(|m| m.cpu_address.is_none()).map(unassigned_note));
            // A bridge on the way may tag the function's messages with another requester ID.
            let requester_id = pcie::requester_id_upstream(scan, f);
            if requester_id != f.bdf.requester_id() {
                spec.notes.push(format!("messages tagged {} by the bridge above", rid_label(requester_id)));
            }
            spec.bus_data = Some(Box::new(PciFunction::new(Arc::clone(config), f.bdf, f.ids, bars, capabilities, msi(requester_id))));
            Some(spec)
        })
        .collect();
    // Children were added after their bridge, so attaching from the end moves each subtree
    // complete into its parent.
    for index in (0..specs.len()).rev() {
        if let Some(upstream) = scan.functions[index].upstream {
            if let Some(child) = specs[index].take() {
                if let Some(Some(parent)) = specs.get_mut(upstream) {
                    parent.children.insert(0, child);
                }
            }
        }
    }
    specs.into_iter().flatten().collect()
}

/// A requester ID as bus:device.function.
fn rid_label(requester_id: u32) -> String {
    format!("{:02x}:{:02x}.{}", requester_id >> 8 & 0xff, requester_id >> 3 & 0x1f, requester_id & 0x7)
}

fn unassigned_note(mapped: &MappedBar) -> String {
    format!("BAR{} ({:#x} bytes) unassigned", mapped.bar.index, mapped.bar.size)
}

/// The INTx of `pin` on `bdf`, swizzled through every bridge up to the root bus (PCI-to-PCI
/// Bridge 1.2, 9.1: pin' = (pin - 1 + device) mod 4 + 1).
/// The router also gets the line firmware wrote into the function itself (on a PC it already
/// accounts for the swizzle).
fn intx(scan: &Scan, function: &Function, route: IntxRouter<'_>) -> Option<Irq> {
    if function.interrupt_pin == 0 {
        return None;
    }
    let (mut bdf, mut pin, mut upstream) = (function.bdf, function.interrupt_pin, function.upstream);
    while let Some(bridge) = upstream.and_then(|i| scan.functions.get(i)) {
        pin = (pin - 1 + bdf.device % 4) % 4 + 1;
        bdf = bridge.bdf;
        upstream = bridge.upstream;
    }
    route(bdf, pin, function.interrupt_line)
}
