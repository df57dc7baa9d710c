//! Enumeration: every bus, device and function reachable from the root bus, through
//! PCI-to-PCI bridges, numbering bridges' buses where firmware has not.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use registry::PciIds;

use crate::bar::{self, Bar};
use crate::caps::{self, Capability, CapabilityError};
use crate::config::{Bdf, ConfigAccess};
use crate::pcie::PortType;
use crate::regs::*;

/// Bridges nested deeper than this are not followed (real systems stay under ten).
const MAX_BRIDGE_DEPTH: usize = 32;

/// One function found by the scan.
#[derive(Clone, Debug)]
pub struct Function {
    pub bdf: Bdf,
    pub ids: PciIds,
    pub header_kind: u8,
    pub bars: Vec<Bar>,
    /// 0 = none, 1 = INTA .. 4 = INTD.
    pub interrupt_pin: u8,
    /// What firmware wrote into the interrupt line register (PC: the legacy IRQ).
    pub interrupt_line: u8,
    /// For a bridge: the bus behind it.
    pub secondary_bus: Option<u8>,
    /// The bridge (index into [`Scan::functions`]) this function sits behind.
    pub upstream: Option<usize>,
    pub capabilities: Result<Vec<Capability>, CapabilityError>,
    /// The device/port type from the PCI Express capability; `None` for conventional PCI.
    pub port_type: Option<PortType>,
}

impl Function {
    pub fn is_bridge(&self) -> bool {
        self.header_kind == HEADER_BRIDGE
    }
}

/// What a scan found, and what it had to leave alone.
#[derive(Debug, Default)]
pub struct Scan {
    pub functions: Vec<Function>,
    pub notes: Vec<String>,
}

struct Scanner<'a> {
    config: &'a dyn ConfigAccess,
    last_bus: u8,
    /// The next bus number free for a bridge that firmware did not number.
    next_bus: u16,
    visited: [bool; 256],
    scan: Scan,
}

/// Enumerates buses `first_bus..=last_bus` starting at `first_bus`.
pub fn scan(config: &dyn ConfigAccess, first_bus: u8, last_bus: u8) -> Scan {
    let mut scanner = Scanner {
        config,
        last_bus,
        next_bus: u16::from(first_bus) + 1,
        visited: [false; 256],
        scan: Scan::default(),
    };
    scanner.scan_bus(first_bus, None, 0);
    scanner.scan
}

impl Scanner<'_> {
    fn scan_bus(&mut self, bus: u8, upstream: Option<usize>, depth: usize) {
        self.visited[usize::from(bus)] = true;
        // A PCIe link carries device 0 only: whatever answers as another device number there
        // is device 0 again (see `PortType::has_link_below`).
        let behind_link = upstream
            .and_then(|index| self.scan.functions.get(index))
            .and_then(|bridge| bridge.port_type)
            .is_some_and(PortType::has_link_below);
        let devices = if behind_link { 1 } else { 32 };
        for device in 0..devices {
            let first = Bdf { bus, device, function: 0 };
            if self.config.read32(first, VENDOR_DEVICE) & 0xffff == 0xffff {
                continue;
            }
            let multi = self.config.read8(first, HEADER_TYPE_WORD + 2) & HEADER_MULTI_FUNCTION != 0;
            for function in 0..if multi { 8 } else { 1 } {
                let bdf = Bdf { bus, device, function };
                if self.config.read32(bdf, VENDOR_DEVICE) & 0xffff != 0xffff {
                    self.add_function(bdf, upstream, depth);
                }
            }
        }
    }

    fn add_function(&mut self, bdf: Bdf, upstream: Option<usize>, depth: usize) {
        let config = self.config;
        let id = config.read32(bdf, VENDOR_DEVICE);
        let class_revision = config.read32(bdf, CLASS_REVISION);
        let header_kind = config.read8(bdf, HEADER_TYPE_WORD + 2) & HEADER_KIND_MASK;
        let subsystem = if header_kind == HEADER_ENDPOINT { config.read32(bdf, SUBSYSTEM) } else { 0 };
        let bar_count = match header_kind {
            HEADER_ENDPOINT => ENDPOINT_BARS,
            HEADER_BRIDGE => BRIDGE_BARS,
            _ => 0,
        };
        let interrupt = config.read16(bdf, INTERRUPT);
        let capabilities = caps::walk(config, bdf);
        let port_type = capabilities.as_deref().ok().and_then(|list| PortType::of(config, bdf, list));
        let function = Function {
            bdf,
            ids: PciIds {
                vendor: id as u16,
                device: (id >> 16) as u16,
                class: class_revision >> 8,
                revision: class_revision as u8,
                subsystem_vendor: subsystem as u16,
                subsystem: (subsystem >> 16) as u16,
            },
            header_kind,
            bars: bar::probe(config, bdf, bar_count),
            interrupt_pin: ((interrupt >> 8) as u8).min(4),
            interrupt_line: interrupt as u8,
            secondary_bus: None,
            upstream,
            capabilities,
            port_type,
        };
        let index = self.scan.functions.len();
        self.scan.functions.push(function);
        if header_kind == HEADER_BRIDGE {
            self.enter_bridge(index, bdf, depth);
        }
    }

    /// Scans the bus behind a bridge, numbering it first if firmware has not.
    fn enter_bridge(&mut self, index: usize, bdf: Bdf, depth: usize) {
        if depth >= MAX_BRIDGE_DEPTH {
            self.scan.notes.push(format!("{bdf}: bridges nested deeper than {MAX_BRIDGE_DEPTH}, not followed"));
            return;
        }
        let buses = self.config.read32(bdf, BRIDGE_BUSES);
        let (secondary, subordinate) = ((buses >> 8) as u8, (buses >> 16) as u8);
        let numbered = secondary > bdf.bus
            && subordinate >= secondary
            && subordinate <= self.last_bus
            && !self.visited[usize::from(secondary)];
        if numbered {
            self.next_bus = self.next_bus.max(u16::from(subordinate) + 1);
            self.set_secondary(index, secondary);
            self.scan_bus(secondary, Some(index), depth + 1);
            return;
        }
        let Ok(secondary) = u8::try_from(self.next_bus) else {
            self.scan.notes.push(format!("{bdf}: no bus number left for the bridge"));
            return;
        };
        if secondary > self.last_bus {
            self.scan.notes.push(format!("{bdf}: no bus number left for the bridge"));
            return;
        }
        self.next_bus += 1;
        // Open the subordinate range to the end while scanning below, then close it to what
        // was used, so configuration cycles for buses below reach them meanwhile.
        let keep_latency = buses & 0xff00_0000;
        let config = self.config;
        let write_buses = |subordinate: u8| {
            let value = keep_latency | u32::from(subordinate) << 16 | u32::from(secondary) << 8 | u32::from(bdf.bus);
            config.write32(bdf, BRIDGE_BUSES, value);
        };
        write_buses(self.last_bus);
        self.set_secondary(index, secondary);
        self.scan_bus(secondary, Some(index), depth + 1);
        let used = u8::try_from(self.next_bus - 1).unwrap_or(u8::MAX);
        write_buses(used);
    }

    fn set_secondary(&mut self, index: usize, secondary: u8) {
        if let Some(bridge) = self.scan.functions.get_mut(index) {
            bridge.secondary_bus = Some(secondary);
        }
    }
}
