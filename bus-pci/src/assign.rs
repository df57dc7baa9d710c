//! BAR and bridge-window assignment from the host bridge's windows, for machines whose
//! firmware left PCI unconfigured (QEMU virt booted with `-kernel` has no firmware at all).
//!
//! One pass, depth first: each bus's BARs are placed at a cursor in the matching window
//! (largest first, each aligned to its size), then each bridge gets the span its subtree
//! used, aligned to the bridge window granules (1 MiB memory, 4 KiB I/O). 64-bit BARs go
//! into the 32-bit window when they fit (bridges forward it without a prefetchable window);
//! on the root bus they fall back to the 64-bit window.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::bar::{self, BarKind};
use crate::config::ConfigAccess;
use crate::regs::*;
use crate::scan::Scan;

/// A range of PCI bus addresses the host bridge forwards, and where the CPU sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub pci_base: u64,
    pub cpu_base: u64,
    pub size: u64,
}

impl Window {
    /// The CPU address of `pci..pci+size` if the window holds all of it and the CPU range
    /// does not run past 2^64 (every window comes from outside: a device tree's `ranges`).
    pub fn to_cpu(&self, pci: u64, size: u64) -> Option<u64> {
        let offset = pci.checked_sub(self.pci_base)?;
        if offset.checked_add(size)? > self.size {
            return None;
        }
        let cpu = self.cpu_base.checked_add(offset)?;
        cpu.checked_add(size).map(|_| cpu)
    }

    /// The PCI addresses the window covers, as a half-open range; `None` if it ends at or
    /// past 2^64.
    pub fn pci_range(&self) -> Option<core::ops::Range<u64>> {
        Some(self.pci_base..self.pci_base.checked_add(self.size)?)
    }

    /// The CPU addresses the window covers; `None` if it ends at or past 2^64.
    pub fn cpu_range(&self) -> Option<core::ops::Range<u64>> {
        Some(self.cpu_base..self.cpu_base.checked_add(self.size)?)
    }
}

/// The host bridge's windows by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostWindows {
    pub io: Option<Window>,
    pub memory32: Option<Window>,
    pub memory64: Option<Window>,
}

impl HostWindows {
    /// The CPU address of a BAR's range, if a window of its kind holds it.
    pub fn to_cpu(&self, kind: BarKind, pci: u64, size: u64) -> Option<u64> {
        let candidates = match kind {
            BarKind::Io => [self.io, None],
            BarKind::Memory32 => [self.memory32, None],
            BarKind::Memory64 => [self.memory32, self.memory64],
        };
        candidates.into_iter().flatten().find_map(|w| w.to_cpu(pci, size))
    }

    /// Whether every BAR already decodes inside a window: firmware assigned them.
    pub fn all_assigned(&self, scan: &Scan) -> bool {
        scan.functions
            .iter()
            .flat_map(|f| &f.bars)
            .all(|b| b.address != 0 && self.to_cpu(b.kind, b.address, b.size).is_some())
    }
}

const MEMORY_GRANULE: u64 = 1 << 20;
const IO_GRANULE: u64 = 1 << 12;

struct Cursor {
    next: u64,
    end: u64,
}

/// I/O BARs start above the legacy ISA ports, and so never at 0, which reads as unassigned.
const FIRST_IO_PORT: u64 = 0x1000;

/// I/O BARs, 32-bit memory BARs and bridges' I/O and memory windows hold 32-bit addresses.
const LIMIT_32BIT: u64 = 1 << 32;

impl Cursor {
    /// Hands out `window`'s PCI addresses from `floor` up to `limit` (exclusive); nothing
    /// from a window that ends at or past 2^64.
    fn of(window: Option<Window>, floor: u64, limit: u64) -> Self {
        match window.and_then(|w| w.pci_range()) {
            Some(range) => Cursor { next: range.start.max(floor), end: range.end.min(limit) },
            None => Cursor { next: 0, end: 0 },
        }
    }

    fn take(&mut self, size: u64, align: u64) -> Option<u64> {
        let start = self.next.checked_next_multiple_of(align)?;
        let end = start.checked_add(size)?;
        (end <= self.end).then(|| {
            self.next = end;
            start
        })
    }

    fn align(&mut self, granule: u64) {
        self.next = self.next.checked_next_multiple_of(granule).unwrap_or(u64::MAX);
    }
}

struct Assigner<'a> {
    config: &'a dyn ConfigAccess,
    io: Cursor,
    memory32: Cursor,
    memory64: Cursor,
    notes: Vec<String>,
}

/// Assigns every BAR and bridge window below `root_bus`, updating `scan` to match, and
/// enables decoding and bus mastering on bridges so the assignments are reachable.
/// BARs that do not fit are left unassigned with a note.
pub fn assign(config: &dyn ConfigAccess, scan: &mut Scan, root_bus: u8, windows: &HostWindows) -> Vec<String> {
    let mut assigner = Assigner {
        config,
        io: Cursor::of(windows.io, FIRST_IO_PORT, LIMIT_32BIT),
        memory32: Cursor::of(windows.memory32, 0, LIMIT_32BIT),
        memory64: Cursor::of(windows.memory64, 0, u64::MAX),
        notes: Vec::new(),
    };
    assigner.assign_bus(scan, None, root_bus);
    assigner.notes
}

impl Assigner<'_> {
    fn assign_bus(&mut self, scan: &mut Scan, upstream: Option<usize>, bus: u8) {
        let on_bus: Vec<usize> = (0..scan.functions.len())
            .filter(|&i| scan.functions[i].upstream == upstream && scan.functions[i].bdf.bus == bus)
            .collect();
        let mut bars: Vec<(usize, usize)> = on_bus
            .iter()
            .flat_map(|&f| (0..scan.functions[f].bars.len()).map(move |b| (f, b)))
            .collect();
        bars.sort_by_key(|&(f, b)| core::cmp::Reverse(scan.functions[f].bars[b].size));
        for (f, b) in bars {
            self.place_bar(scan, f, b, upstream.is_none());
        }
        for &f in &on_bus {
            if let Some(secondary) = scan.functions[f].secondary_bus.filter(|_| scan.functions[f].is_bridge()) {
                self.assign_bridge(scan, f, secondary);
            }
        }
    }

    fn place_bar(&mut self, scan: &mut Scan, f: usize, b: usize, root_bus: bool) {
        let function = &mut scan.functions[f];
        let bar = &mut function.bars[b];
        let address = match bar.kind {
            BarKind::Io => self.io.take(bar.size, bar.size),
            BarKind::Memory32 => self.memory32.take(bar.size, bar.size),
            BarKind::Memory64 => self
                .memory32
                .take(bar.size, bar.size)
                .or_else(|| if root_bus { self.memory64.take(bar.size, bar.size) } else { None }),
        };
        match address.map(|address| bar::program(self.config, function.bdf, bar, address).map(|()| address)) {
            Some(Ok(address)) => bar.address = address,
            Some(Err(error)) => {
                bar.address = 0;
                self.notes.push(format!("{}: {error}", function.bdf));
            }
            None => {
                bar.address = 0;
                self.notes.push(format!("{}: no room for BAR{} ({:#x} bytes)", function.bdf, bar.index, bar.size));
            }
        }
    }

    /// Gives the bridge's subtree a window span and programs the bridge to forward it.
    fn assign_bridge(&mut self, scan: &mut Scan, bridge: usize, secondary: u8) {
        self.io.align(IO_GRANULE);
        self.memory32.align(MEMORY_GRANULE);
        let (io_start, memory_start) = (self.io.next, self.memory32.next);
        self.assign_bus(scan, Some(bridge), secondary);
        self.io.align(IO_GRANULE);
        self.memory32.align(MEMORY_GRANULE);
        let bdf = scan.functions[bridge].bdf;
        let config = self.config;

        // The I/O and 32-bit memory cursors stay below 4 GiB (`LIMIT_32BIT`), so the casts
        // below keep every address bit; `next > start >= 0` for the `- 1`s.
        // Memory base/limit: address bits 31:20 in bits 15:4 of each half; base > limit
        // turns a window off.
        let memory = match self.memory32.next > memory_start {
            true => {
                let base = (memory_start >> 16) as u32 & 0xfff0;
                let limit = ((self.memory32.next - 1) >> 16) as u32 & 0xfff0;
                limit << 16 | base
            }
            false => 0x0000_fff0,
        };
        config.write32(bdf, BRIDGE_MEMORY, memory);
        // No prefetchable window: prefetchable BARs below are placed in the memory window.
        config.write32(bdf, BRIDGE_PREFETCH, 0x0000_fff0);
        config.write32(bdf, BRIDGE_PREFETCH_BASE_UPPER, 0);
        config.write32(bdf, BRIDGE_PREFETCH_LIMIT_UPPER, 0);
        let (io_base, io_limit) = match self.io.next > io_start {
            true => (io_start, self.io.next - 1),
            false => (0xf000, 0x0fff),
        };
        let io_low = config.read32(bdf, BRIDGE_IO) & 0xffff_0000;
        config.write32(bdf, BRIDGE_IO, io_low | ((io_limit >> 8) as u32 & 0xf0) << 8 | (io_base >> 8) as u32 & 0xf0);
        config.write32(bdf, BRIDGE_IO_UPPER, ((io_limit >> 16) as u32 & 0xffff) << 16 | (io_base >> 16) as u32 & 0xffff);
        let command = config.read16(bdf, COMMAND);
        config.write16(bdf, COMMAND, command | COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER);
    }
}
