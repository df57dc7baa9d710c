//! Host bridges: the device-tree ECAM host (`pci-host-ecam-generic`, e.g. QEMU virt) as a
//! registry driver, and the fixed PC host (no device tree) as a registry bus.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use bus_dt::{PciHostInfo, PciSpace, PciWindow};
use registry::mmio::MmioWindow;
use registry::{Bus, BusAddress, BusError, DeviceIds, DeviceSpec, Irq, Match, MmioRegion, MsiSource, ProbeContext, ProbeError};

use crate::assign::{self, HostWindows, Window};
use crate::config::{Bdf, ConfigAccess};
use crate::scan;
use crate::tree;

registry::register_driver!(PCI_HOST_ECAM_DRIVER = registry::Driver {
    name: "pci-ecam",
    matches: &[Match::Compatible("pci-host-ecam-generic")],
    priority: 0,
    class: None,
    probe: probe_ecam_host,
    remove: None,
});

/// One bus of ECAM space.
const ECAM_BUS_SIZE: u64 = 1 << 20;

fn probe_ecam_host(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let info = *ctx
        .take_bus_data::<PciHostInfo>()
        .ok_or_else(|| ProbeError::failed("no PCI host description (ranges, bus-range) from the device tree"))?;
    let region = *ctx.device.regions.first().ok_or_else(|| ProbeError::failed("no ECAM window (reg)"))?;
    let buses = u64::from(info.last_bus - info.first_bus) + 1;
    let ecam = MmioRegion { base: region.base, size: region.size.min(buses * ECAM_BUS_SIZE) };
    if ecam.size < ECAM_BUS_SIZE {
        return Err(ProbeError::failed(format!("ECAM window of {:#x} bytes holds no bus", region.size)));
    }
    let last_bus = info.first_bus + ((ecam.size / ECAM_BUS_SIZE - 1) as u8);
    let window = MmioWindow::map(ctx.platform, ecam).map_err(ProbeError::failed)?;
    let config: Arc<dyn ConfigAccess> = Arc::new(crate::config::Ecam::new(window, info.first_bus));
    let windows = host_windows(&info.windows);

    let mut found = scan::scan(config.as_ref(), info.first_bus, last_bus);
    let mut notes = core::mem::take(&mut found.notes);
    if !windows.all_assigned(&found) {
        notes.extend(assign::assign(config.as_ref(), &mut found, info.first_bus, &windows));
        ctx.set_info("resources", "assigned by the kernel");
    }
    let route = |bdf: Bdf, pin: u8, _line: u8| info.route_intx(bdf.bus, bdf.device, bdf.function, u32::from(pin)).cloned();
    let msi = |rid: u32| info.route_msi(rid);
    for child in tree::devices(&config, &found, 0, &windows, &route, &msi) {
        ctx.add_child(child);
    }
    ctx.set_info("buses", format!("{:02x}-{:02x}", info.first_bus, last_bus));
    ctx.set_info("msi", msi_summary(&info));
    ctx.set_info("functions", format!("{}", found.functions.len()));
    for note in notes {
        log::warn!("{}: {note}", ctx.device.path);
    }
    Ok(())
}

/// Where the functions' messages go, for `lsdev`: each MSI controller `msi-map` names, or none.
fn msi_summary(info: &PciHostInfo) -> String {
    let mut controllers: Vec<&str> = info.msi_routes.iter().map(|route| route.controller.as_str()).collect();
    controllers.dedup();
    match controllers.is_empty() {
        true => String::from("none: functions use INTx"),
        false => controllers.join(", "),
    }
}

/// The first window of each kind from the DT's `ranges`.
fn host_windows(windows: &[PciWindow]) -> HostWindows {
    let first = |space: PciSpace| {
        windows
            .iter()
            .find(|w| w.space == space)
            .map(|w| Window { pci_base: w.pci_base, cpu_base: w.cpu_base, size: w.size })
    };
    HostWindows { io: first(PciSpace::Io), memory32: first(PciSpace::Memory32), memory64: first(PciSpace::Memory64) }
}

/// The PCI host of a machine without a device tree (a PC): one segment, firmware-assigned
/// resources, CPU addresses equal to bus addresses, INTx as firmware's interrupt line.
pub struct PcPciBus {
    config: Arc<dyn ConfigAccess>,
    name: String,
    first_bus: u8,
    last_bus: u8,
}

impl PcPciBus {
    pub fn new(config: Arc<dyn ConfigAccess>, name: &str, first_bus: u8, last_bus: u8) -> Self {
        PcPciBus { config, name: String::from(name), first_bus, last_bus }
    }
}

/// Identity windows: a PC's PCI addresses are CPU addresses.
const PC_WINDOWS: HostWindows = HostWindows {
    io: Some(Window { pci_base: 0, cpu_base: 0, size: 0x1_0000 }),
    memory32: Some(Window { pci_base: 0, cpu_base: 0, size: 1 << 32 }),
    memory64: Some(Window { pci_base: 0, cpu_base: 0, size: u64::MAX }),
};

impl Bus for PcPciBus {
    fn name(&self) -> &str {
        &self.name
    }

    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let found = scan::scan(self.config.as_ref(), self.first_bus, self.last_bus);
        if found.functions.is_empty() {
            return Err(BusError(String::from("no PCI function answered on the root bus")));
        }
        // Firmware routes INTx through the legacy interrupt controllers and writes the IRQ
        // into each function's interrupt line register.
        let route = |_: Bdf, pin: u8, line: u8| {
            (line != 0xff).then(|| Irq {
                controller: String::from("legacy"),
                cells: vec![u32::from(pin), u32::from(line)],
                number: Some(u32::from(line)),
                label: format!("IRQ {line} INT{}", char::from(b'A' + pin - 1)),
            })
        };
        let mut host = DeviceSpec::new(self.name.as_str(), BusAddress::Other(String::from("pci")), DeviceIds::None);
        host.notes.extend(found.notes.iter().cloned());
        // Messages go to the local APIC, which needs no device ID.
        let msi = |rid: u32| Some(MsiSource { controller: None, device_id: rid });
        host.children = tree::devices(&self.config, &found, 0, &PC_WINDOWS, &route, &msi);
        Ok(vec![host])
    }
}
