//! A simulated PCI configuration space for tests: functions with BARs that size like real
//! ones, capability lists (well-formed or not), and bridges whose bus-number registers decide
//! which bus their functions answer on, as on real hardware.

use alloc::vec;
use alloc::vec::Vec;

use crate::caps::CAP_PCIE;
use crate::config::{Bdf, ConfigAccess};
use crate::regs::*;

/// One BAR's decoder.
#[derive(Clone, Copy, Debug)]
pub struct SimBar {
    pub size: u64,
    pub io: bool,
    pub is_64bit: bool,
    pub prefetchable: bool,
}

impl SimBar {
    pub fn memory32(size: u64) -> Self {
        SimBar { size, io: false, is_64bit: false, prefetchable: false }
    }
    pub fn memory64(size: u64, prefetchable: bool) -> Self {
        SimBar { size, io: false, is_64bit: true, prefetchable }
    }
    pub fn io(size: u64) -> Self {
        SimBar { size, io: true, is_64bit: false, prefetchable: false }
    }

    /// Flag bits the register always reads with.
    fn flags(&self) -> u32 {
        match (self.io, self.is_64bit) {
            (true, _) => 0x1,
            (false, true) => 0x4 | if self.prefetchable { 0x8 } else { 0 },
            (false, false) => if self.prefetchable { 0x8 } else { 0 },
        }
    }
}

/// What a BAR register decodes.
#[derive(Clone, Copy)]
enum BarRegister {
    Lower(SimBar),
    /// The upper half of a 64-bit BAR.
    Upper(SimBar),
    Unimplemented,
}

/// One function: 4 KiB of registers, its BAR decoders, and for a bridge the bus behind it.
#[derive(Clone, Debug)]
pub struct SimFunction {
    pub device: u8,
    pub function: u8,
    registers: Vec<u32>,
    bars: [Option<SimBar>; 6],
    behind: Option<SimBus>,
    /// Answers configuration requests whatever their device number (a device that ignores
    /// it, as many do behind a PCIe link).
    any_device: bool,
}

/// The functions on one bus.
#[derive(Clone, Debug, Default)]
pub struct SimBus {
    pub functions: Vec<SimFunction>,
}

impl SimBus {
    pub fn new() -> Self {
        SimBus::default()
    }

    pub fn with(mut self, function: SimFunction) -> Self {
        self.functions.push(function);
        self
    }
}

impl SimFunction {
    /// A type 0 function with the given IDs and `0xCCSSPP` class.
    pub fn endpoint(device: u8, function: u8, vendor: u16, id: u16, class: u32) -> Self {
        let mut registers = vec![0u32; 1024];
        registers[0] = u32::from(id) << 16 | u32::from(vendor);
        registers[2] = class << 8 | 1;
        SimFunction { device, function, registers, bars: [None; 6], behind: None, any_device: false }
    }

    /// A PCI-to-PCI bridge (class 0x060400) with `bus` behind it, not yet numbered.
    pub fn bridge(device: u8, function: u8, bus: SimBus) -> Self {
        let mut bridge = SimFunction::endpoint(device, function, 0x1b36, 0x0001, 0x06_04_00);
        bridge.registers[usize::from(HEADER_TYPE_WORD / 4)] = u32::from(HEADER_BRIDGE) << 16;
        bridge.behind = Some(bus);
        bridge
    }

    /// Sets the multi-function bit of the header type.
    pub fn multi_function(mut self) -> Self {
        self.registers[usize::from(HEADER_TYPE_WORD / 4)] |= u32::from(HEADER_MULTI_FUNCTION) << 16;
        self
    }

    /// Makes the function answer as every device number of its bus.
    pub fn on_every_device(mut self) -> Self {
        self.any_device = true;
        self
    }

    /// Gives the function a PCI Express capability (its only capability) of device/port
    /// type `port_type` (PCIe 6.0, 7.5.3.2: 4 root port, 6 switch downstream port, 7
    /// PCIe-to-PCI bridge, ...).
    pub fn pcie(self, port_type: u8) -> Self {
        self.capabilities(&[(CAP_PCIE, &[port_type << 4 | 2, 0])])
    }

    pub fn bar(mut self, index: usize, bar: SimBar) -> Self {
        self.bars[index] = Some(bar);
        self
    }

    /// INTx pin (1 = INTA) and the line firmware would have written.
    pub fn interrupt(mut self, pin: u8, line: u8) -> Self {
        self.registers[usize::from(INTERRUPT / 4)] = u32::from(pin) << 8 | u32::from(line);
        self
    }

    /// Writes a raw configuration word, for capability lists and hostile layouts.
    pub fn word(mut self, offset: u16, value: u32) -> Self {
        self.registers[usize::from(offset / 4)] = value;
        self
    }

    /// Appends capabilities `(id, body bytes after the 2-byte header)` at 0x40 upwards, each
    /// 4-byte aligned, linked in order.
    pub fn capabilities(mut self, caps: &[(u8, &[u8])]) -> Self {
        let mut bytes = vec![0u8; 256];
        let mut offset = 0x40usize;
        let mut previous_next = usize::from(CAPABILITIES_POINTER);
        for (id, body) in caps {
            bytes[previous_next] = offset as u8;
            bytes[offset] = *id;
            bytes[offset + 2..offset + 2 + body.len()].copy_from_slice(body);
            previous_next = offset + 1;
            offset = (offset + 2 + body.len()).next_multiple_of(4);
        }
        // The capabilities pointer word and everything from 0x40; 0x38-0x3f keep their values.
        let words = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        for (i, word) in words.enumerate().filter(|&(i, _)| i == 0x34 / 4 || i >= 0x40 / 4) {
            self.registers[i] = word;
        }
        self.registers[1] |= u32::from(STATUS_CAPABILITIES) << 16;
        self
    }

    fn read(&self, offset: u16) -> u32 {
        let index = usize::from(offset / 4);
        match self.bar_at(offset) {
            Some(BarRegister::Lower(bar)) => {
                let mask = !(bar.size - 1);
                (self.registers[index] & mask as u32 & !0xf) | bar.flags()
            }
            Some(BarRegister::Upper(bar)) => self.registers[index] & ((!(bar.size - 1)) >> 32) as u32,
            Some(BarRegister::Unimplemented) => 0,
            None => self.registers[index],
        }
    }

    fn write(&mut self, offset: u16, value: u32) {
        if offset < 8 || offset == CLASS_REVISION || offset == HEADER_TYPE_WORD {
            // Read-only identity; the command register half is writable.
            if offset == COMMAND {
                self.registers[1] = self.registers[1] & 0xffff_0000 | value & 0xffff;
            }
            return;
        }
        if !matches!(self.bar_at(offset), Some(BarRegister::Unimplemented)) {
            self.registers[usize::from(offset / 4)] = value;
        }
    }

    /// What the BAR register at `offset` is, or `None` for other registers.
    fn bar_at(&self, offset: u16) -> Option<BarRegister> {
        let count = if self.behind.is_some() { BRIDGE_BARS } else { ENDPOINT_BARS };
        let slot = usize::from(offset.checked_sub(BAR0)? / 4);
        if !offset.is_multiple_of(4) || slot >= usize::from(count) {
            return None;
        }
        Some(match (self.bars[slot], slot.checked_sub(1).and_then(|s| self.bars[s])) {
            (Some(bar), _) => BarRegister::Lower(bar),
            (None, Some(lower)) if lower.is_64bit => BarRegister::Upper(lower),
            // Unimplemented BARs are hardwired to zero.
            _ => BarRegister::Unimplemented,
        })
    }

    /// Bus numbers programmed into a bridge: (secondary, subordinate).
    pub fn bridge_buses(&self) -> (u8, u8) {
        let buses = self.registers[usize::from(BRIDGE_BUSES / 4)];
        ((buses >> 8) as u8, (buses >> 16) as u8)
    }

    /// A raw register, as last written.
    pub fn register(&self, offset: u16) -> u32 {
        self.registers[usize::from(offset / 4)]
    }
}

/// The whole configuration space, with the root bus at `root_bus`.
pub struct SimConfig {
    root_bus: u8,
    root: spin::Mutex<SimBus>,
}

impl SimConfig {
    pub fn new(root_bus: u8, root: SimBus) -> Self {
        SimConfig { root_bus, root: spin::Mutex::new(root) }
    }

    /// Runs `f` on the function that answers at `bdf`, if any.
    pub fn with_function<T>(&self, bdf: Bdf, f: impl FnOnce(&mut SimFunction) -> T) -> Option<T> {
        let mut root = self.root.lock();
        find(&mut root, self.root_bus, bdf).map(f)
    }
}

/// The function at `bdf`, looking through bridges whose bus range covers it.
fn find(bus: &mut SimBus, number: u8, bdf: Bdf) -> Option<&mut SimFunction> {
    if bdf.bus == number {
        return bus.functions.iter_mut().find(|f| (f.any_device || f.device == bdf.device) && f.function == bdf.function);
    }
    for function in &mut bus.functions {
        let (secondary, subordinate) = function.bridge_buses();
        if secondary > number && (secondary..=subordinate).contains(&bdf.bus) {
            if let Some(behind) = function.behind.as_mut() {
                return find(behind, secondary, bdf);
            }
        }
    }
    None
}

impl ConfigAccess for SimConfig {
    fn read32(&self, bdf: Bdf, offset: u16) -> u32 {
        if offset >= 4096 {
            return u32::MAX;
        }
        self.with_function(bdf, |f| f.read(offset & !3)).unwrap_or(u32::MAX)
    }

    fn write32(&self, bdf: Bdf, offset: u16, value: u32) {
        if offset < 4096 {
            self.with_function(bdf, |f| f.write(offset & !3, value));
        }
    }
}
