//! The capability list (PCI 3.0, 6.7): a linked list in configuration space, walked with
//! every pointer checked, so a looping or out-of-range list is an error, not a hang.

use alloc::vec::Vec;
use core::fmt;

use crate::config::{Bdf, ConfigAccess};
use crate::regs::{CAPABILITIES_POINTER, STATUS, STATUS_CAPABILITIES};

pub const CAP_MSI: u8 = 0x05;
pub const CAP_VENDOR: u8 = 0x09;
pub const CAP_PCIE: u8 = 0x10;
pub const CAP_MSIX: u8 = 0x11;

/// Capabilities live after the 64-byte header and inside the 256-byte legacy space.
const FIRST: u16 = 0x40;
const END: u16 = 0x100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    pub id: u8,
    /// Where the capability starts in configuration space.
    pub offset: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapabilityError {
    /// A pointer into the header or past the legacy configuration space.
    OutOfRange { from: u16, pointer: u16 },
    /// The list comes back to an entry it already visited.
    Loop { at: u16 },
}

impl fmt::Display for CapabilityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapabilityError::OutOfRange { from, pointer } => {
                write!(f, "capability pointer {pointer:#x} at {from:#x} is outside 0x40-0xff")
            }
            CapabilityError::Loop { at } => write!(f, "capability list loops back to {at:#x}"),
        }
    }
}

/// Every capability of the function, in list order.
pub fn walk(config: &dyn ConfigAccess, bdf: Bdf) -> Result<Vec<Capability>, CapabilityError> {
    let mut found = Vec::new();
    if config.read16(bdf, STATUS) & STATUS_CAPABILITIES == 0 {
        return Ok(found);
    }
    // The low two bits of every pointer are reserved (PCI 3.0, 6.7).
    let mut from = CAPABILITIES_POINTER;
    let mut pointer = u16::from(config.read8(bdf, CAPABILITIES_POINTER)) & !3;
    let mut visited = [false; (END / 4) as usize];
    while pointer != 0 {
        if !(FIRST..END).contains(&pointer) {
            return Err(CapabilityError::OutOfRange { from, pointer });
        }
        let seen = &mut visited[usize::from(pointer / 4)];
        if *seen {
            return Err(CapabilityError::Loop { at: pointer });
        }
        *seen = true;
        let header = config.read16(bdf, pointer);
        found.push(Capability { id: header as u8, offset: pointer });
        from = pointer + 1;
        pointer = (header >> 8) & !3;
    }
    Ok(found)
}
