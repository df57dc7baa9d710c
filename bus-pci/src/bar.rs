//! Base address registers: decoding, sizing, programming.

use crate::config::{Bdf, ConfigAccess};
use crate::regs::{BAR0, COMMAND, COMMAND_IO, COMMAND_MEMORY};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    Io,
    Memory32,
    Memory64,
}

/// One implemented BAR: where it decodes on the PCI bus and how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// 0-5; a 64-bit BAR also uses the next register.
    pub index: u8,
    pub kind: BarKind,
    pub prefetchable: bool,
    /// PCI bus address (0 while unassigned).
    pub address: u64,
    /// A power of two.
    pub size: u64,
}

fn register(index: u8) -> u16 {
    BAR0 + 4 * u16::from(index)
}

/// Sizes every BAR of the function (the first `count` registers) by writing all ones and
/// reading back, with decoding turned off meanwhile so the probe addresses never decode.
/// Values that make no sense (a size that is not a power of two, a 64-bit BAR in the last
/// slot) leave that BAR out.
pub fn probe(config: &dyn ConfigAccess, bdf: Bdf, count: u8) -> alloc::vec::Vec<Bar> {
    let command = config.read16(bdf, COMMAND);
    config.write16(bdf, COMMAND, command & !(COMMAND_IO | COMMAND_MEMORY));
    let mut bars = alloc::vec::Vec::new();
    let mut index = 0;
    while index < count {
        let (bar, used) = probe_one(config, bdf, index, count);
        bars.extend(bar);
        // `count` is at most 6 from the scan; saturating keeps any other ending.
        index = index.saturating_add(used);
    }
    config.write16(bdf, COMMAND, command);
    bars
}

/// Sizes BAR `index`; returns it (if implemented and sane) and how many registers it uses.
fn probe_one(config: &dyn ConfigAccess, bdf: Bdf, index: u8, count: u8) -> (Option<Bar>, u8) {
    let reg = register(index);
    let original = config.read32(bdf, reg);
    config.write32(bdf, reg, u32::MAX);
    let mask = config.read32(bdf, reg);
    config.write32(bdf, reg, original);

    if original & 1 == 1 {
        let size_mask = mask & !0x3;
        // I/O BARs may implement only 16 address bits: the upper half reads back as zero.
        let size = (!size_mask & 0xffff).wrapping_add(1) & 0xffff;
        let bar = (size_mask != 0 && size.is_power_of_two()).then_some(Bar {
            index,
            kind: BarKind::Io,
            prefetchable: false,
            address: u64::from(original & !0x3),
            size: u64::from(size),
        });
        return (bar, 1);
    }
    let prefetchable = original & 0x8 != 0;
    match (original >> 1) & 0b11 {
        0b10 if index + 1 < count => {
            let high_reg = register(index + 1);
            let high = config.read32(bdf, high_reg);
            config.write32(bdf, high_reg, u32::MAX);
            let high_mask = config.read32(bdf, high_reg);
            config.write32(bdf, high_reg, high);
            let full_mask = u64::from(high_mask) << 32 | u64::from(mask & !0xf);
            let size = (!full_mask).wrapping_add(1);
            let bar = (full_mask != 0 && size.is_power_of_two()).then_some(Bar {
                index,
                kind: BarKind::Memory64,
                prefetchable,
                address: u64::from(high) << 32 | u64::from(original & !0xf),
                size,
            });
            (bar, 2)
        }
        0b00 => {
            let size_mask = mask & !0xf;
            let size = (!size_mask).wrapping_add(1);
            let bar = (size_mask != 0 && size.is_power_of_two()).then_some(Bar {
                index,
                kind: BarKind::Memory32,
                prefetchable,
                address: u64::from(original & !0xf),
                size: u64::from(size),
            });
            (bar, 1)
        }
        // Reserved type, or a 64-bit BAR with no register left for its upper half.
        _ => (None, 1),
    }
}

/// Why a BAR cannot be programmed with an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramError {
    pub index: u8,
    pub address: u64,
}

impl core::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "BAR{} holds 32-bit addresses, not {:#x}", self.index, self.address)
    }
}

/// Programs `bar` to decode at `address` (a PCI bus address). An I/O or 32-bit memory BAR
/// refuses an address past 4 GiB rather than decode a truncated one.
pub fn program(config: &dyn ConfigAccess, bdf: Bdf, bar: &Bar, address: u64) -> Result<(), ProgramError> {
    if bar.kind != BarKind::Memory64 && u32::try_from(address).is_err() {
        return Err(ProgramError { index: bar.index, address });
    }
    let reg = register(bar.index);
    let flags = config.read32(bdf, reg) & if bar.kind == BarKind::Io { 0x3 } else { 0xf };
    config.write32(bdf, reg, address as u32 | flags);
    if bar.kind == BarKind::Memory64 {
        // A 64-bit BAR was sized with a register after it (`probe_one`): index <= 4.
        config.write32(bdf, reg + 4, (address >> 32) as u32);
    }
    Ok(())
}
