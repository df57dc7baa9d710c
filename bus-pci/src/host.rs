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
    let host = DtEcamHost::new(&info, region).map_err(ProbeError::failed)?;
    let window = MmioWindow::map(ctx.platform, host.ecam).map_err(ProbeError::failed)?;
    let config: Arc<dyn ConfigAccess> = Arc::new(crate::config::Ecam::new(window, host.first_bus));
    let found = host.enumerate(&config, &info);
    for child in found.children {
        ctx.add_child(child);
    }
    if found.assigned {
        ctx.set_info("resources", "assigned by the kernel");
    }
    ctx.set_info("buses", format!("{:02x}-{:02x}", host.first_bus, host.last_bus));
    ctx.set_info("msi", msi_summary(&info));
    ctx.set_info("functions", format!("{}", found.functions));
    for note in host.notes.iter().chain(&found.notes) {
        log::warn!("{}: {note}", ctx.device.path);
    }
    Ok(())
}

/// A device-tree ECAM host bridge (`pci-host-ecam-generic`), its description checked: the
/// part of its `reg` that holds configuration space for its `bus-range`, and the windows of
/// its `ranges` it can use. Every value comes from the device tree, so every computation on
/// them is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtEcamHost {
    /// The ECAM space of buses `first_bus..=last_bus`.
    pub ecam: MmioRegion,
    pub first_bus: u8,
    pub last_bus: u8,
    pub windows: HostWindows,
    /// Windows left out, and why.
    pub notes: Vec<String>,
}

/// What enumerating a host found.
pub struct HostFunctions {
    /// The functions on the root bus, those behind bridges nested below them.
    pub children: Vec<DeviceSpec>,
    /// How many functions in all.
    pub functions: usize,
    /// Whether the kernel assigned the BARs (firmware had not).
    pub assigned: bool,
    /// What the scan and the assignment had to leave alone.
    pub notes: Vec<String>,
}

impl DtEcamHost {
    /// The host of `info` whose `reg` is `reg`; an error if no bus's configuration space fits.
    pub fn new(info: &PciHostInfo, reg: MmioRegion) -> Result<Self, String> {
        let buses = info
            .last_bus
            .checked_sub(info.first_bus)
            .map(|span| u64::from(span) + 1)
            .ok_or_else(|| format!("bus-range {}-{} is backwards", info.first_bus, info.last_bus))?;
        // At most 256 buses of 1 MiB: no overflow.
        let ecam = MmioRegion { base: reg.base, size: reg.size.min(buses * ECAM_BUS_SIZE) };
        if ecam.size < ECAM_BUS_SIZE {
            return Err(format!("ECAM window of {:#x} bytes holds no bus", reg.size));
        }
        let ecam_end = reg.base.checked_add(ecam.size).ok_or_else(|| format!("ECAM window at {:#x} ends at or past 2^64", reg.base))?;
        // 1..=256 buses, so the added count is 0..=255 and `first_bus` plus it at most
        // `last_bus`.
        let last_bus = info.first_bus.saturating_add((ecam.size / ECAM_BUS_SIZE - 1) as u8);
        let (windows, notes) = host_windows(&info.windows, reg.base..ecam_end);
        Ok(DtEcamHost { ecam, first_bus: info.first_bus, last_bus, windows, notes })
    }

    /// Scans the buses through `config` (the ECAM space, or a simulation of it), assigns the
    /// BARs unless firmware did, and makes every function a device: its BARs as CPU regions,
    /// its INTx through `info`'s `interrupt-map`, its MSIs through `info`'s `msi-map`.
    pub fn enumerate(&self, config: &Arc<dyn ConfigAccess>, info: &PciHostInfo) -> HostFunctions {
        let mut found = scan::scan(config.as_ref(), self.first_bus, self.last_bus);
        let mut notes = core::mem::take(&mut found.notes);
        let assigned = !self.windows.all_assigned(&found);
        if assigned {
            notes.extend(assign::assign(config.as_ref(), &mut found, self.first_bus, &self.windows));
        }
        let route = |bdf: Bdf, pin: u8, _line: u8| info.route_intx(bdf.bus, bdf.device, bdf.function, u32::from(pin)).cloned();
        let msi = |rid: u32| info.route_msi(rid);
        let children = tree::devices(config, &found, 0, &self.windows, &route, &msi);
        HostFunctions { children, functions: found.functions.len(), assigned, notes }
    }
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

/// The first usable window of each kind from the DT's `ranges`, with a note for each left
/// out: empty; ending at or past 2^64 in PCI or CPU addresses; an I/O or 32-bit memory window past
/// 4 GiB (its BARs and bridge windows hold 32 bits); overlapping the ECAM space or a window
/// already taken in CPU addresses, or one of the same address space in PCI addresses (BARs
/// would be placed twice at the same place).
fn host_windows(windows: &[PciWindow], ecam: core::ops::Range<u64>) -> (HostWindows, Vec<String>) {
    let mut taken: Vec<(PciSpace, Window)> = Vec::new();
    let mut notes = Vec::new();
    for found in windows {
        let window = Window { pci_base: found.pci_base, cpu_base: found.cpu_base, size: found.size };
        let label = format!("{:?} window {:#x}+{:#x} at CPU {:#x}", found.space, found.pci_base, found.size, found.cpu_base);
        let why = match (window.pci_range(), window.cpu_range()) {
            _ if found.size == 0 => Some("empty"),
            (None, _) | (_, None) => Some("ends at or past 2^64"),
            (Some(pci), _) if found.space != PciSpace::Memory64 && pci.end > 1 << 32 => Some("holds 32-bit addresses but runs past 4 GiB"),
            (_, Some(cpu)) if overlaps(&cpu, &ecam) => Some("overlaps the ECAM space"),
            (Some(pci), Some(cpu)) => taken.iter().find_map(|(space, other)| {
                let same_space = (*space == PciSpace::Io) == (found.space == PciSpace::Io);
                let pci_clash = same_space && other.pci_range().is_some_and(|r| overlaps(&r, &pci));
                let cpu_clash = other.cpu_range().is_some_and(|r| overlaps(&r, &cpu));
                (pci_clash || cpu_clash).then_some("overlaps an earlier window")
            }),
        };
        match why {
            Some(why) => notes.push(format!("{label} left out: {why}")),
            None if taken.iter().any(|(space, _)| *space == found.space) => {}
            None => taken.push((found.space, window)),
        }
    }
    let first = |space: PciSpace| taken.iter().find(|(s, _)| *s == space).map(|(_, w)| *w);
    (HostWindows { io: first(PciSpace::Io), memory32: first(PciSpace::Memory32), memory64: first(PciSpace::Memory64) }, notes)
}

fn overlaps(a: &core::ops::Range<u64>, b: &core::ops::Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
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
