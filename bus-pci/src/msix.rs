//! MSI-X (PCI Local Bus 3.0, 6.8.2): a table in one of the function's memory BARs holding, per
//! vector, the message (address, data) the function writes to interrupt, and a mask bit. The
//! capability says which BAR, where in it, and how many vectors; its control word turns MSI-X
//! on, which also stops the function's INTx.

use core::fmt;

use registry::mmio::MmioWindow;
use registry::{MmioRegion, MsiMessage, Platform, PlatformError};

use crate::caps::CAP_MSIX;
use crate::function::PciFunction;
use crate::regs::{COMMAND, COMMAND_INTX_DISABLE};

/// Capability offsets: message control, then table offset/BIR.
const CONTROL: u16 = 2;
const TABLE: u16 = 4;
const CONTROL_ENABLE: u16 = 1 << 15;
const CONTROL_FUNCTION_MASK: u16 = 1 << 14;
const CONTROL_TABLE_SIZE: u16 = 0x7ff;
const TABLE_BIR: u32 = 0b111;
/// Table entries: message address low, high, data, vector control (bit 0 masks).
const ENTRY_SIZE: u64 = 16;
const VECTOR_MASKED: u32 = 1;

/// Register `register` of the capability at `capability`. Offsets from `caps::walk` are below
/// 0x100; any other saturates past the configuration space, where reads give all ones and
/// writes are dropped.
fn at(capability: u16, register: u16) -> u16 {
    capability.saturating_add(register)
}

/// Why a function's MSI-X table cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MsixError {
    /// The BAR the capability names is not an assigned memory BAR.
    TableBarMissing { bar: u8 },
    /// The table runs past the end of its BAR.
    TableOutsideBar { bar: u8, offset: u64, size: u64 },
    Map(PlatformError),
    /// More messages to program than the table has vectors.
    TooManyMessages { messages: usize, vectors: u16 },
}

impl fmt::Display for MsixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsixError::TableBarMissing { bar } => write!(f, "MSI-X table in BAR{bar}, which is no assigned memory BAR"),
            MsixError::TableOutsideBar { bar, offset, size } => {
                write!(f, "MSI-X table at {offset:#x} in BAR{bar} runs past its end ({size:#x} bytes)")
            }
            MsixError::Map(error) => write!(f, "MSI-X table: {error}"),
            MsixError::TooManyMessages { messages, vectors } => write!(f, "{messages} messages for {vectors} MSI-X vectors"),
        }
    }
}

/// A function's MSI-X table, mapped. Every vector starts masked (as after reset).
pub struct MsixTable {
    capability: u16,
    table: MmioWindow,
    vectors: u16,
}

impl MsixTable {
    /// The table of `function`'s MSI-X capability; `None` if it has none. The table's place
    /// is checked against its BAR before it is mapped.
    pub fn find(function: &PciFunction, platform: &dyn Platform) -> Result<Option<MsixTable>, MsixError> {
        let Some(capability) = function.capabilities.iter().find(|c| c.id == CAP_MSIX).map(|c| c.offset) else {
            return Ok(None);
        };
        // The table size field has 11 bits: no overflow.
        let vectors = (function.read16(at(capability, CONTROL)) & CONTROL_TABLE_SIZE) + 1;
        let table = function.read32(at(capability, TABLE));
        let (bar, offset) = ((table & TABLE_BIR) as u8, u64::from(table & !TABLE_BIR));
        let region = function.memory_bar(bar).ok_or(MsixError::TableBarMissing { bar })?;
        // At most 2048 vectors of 16 bytes: no overflow.
        let size = u64::from(vectors) * ENTRY_SIZE;
        let outside = MsixError::TableOutsideBar { bar, offset, size: region.size };
        if offset.checked_add(size).is_none_or(|end| end > region.size) {
            return Err(outside);
        }
        // The BAR's CPU range was checked not to pass 2^64, but `memory_bar` is only as good as
        // the `MappedBar` it was given.
        let base = region.base.checked_add(offset).ok_or(outside)?;
        let table = MmioWindow::map(platform, MmioRegion { base, size }).map_err(MsixError::Map)?;
        Ok(Some(MsixTable { capability, table, vectors }))
    }

    /// How many vectors the table has.
    pub fn vectors(&self) -> u16 {
        self.vectors
    }

    /// Turns MSI-X on with `messages` in vectors 0.. (unmasked; the rest stay masked), and the
    /// function's INTx off. The whole function is masked while the table is written, so no
    /// vector fires half-programmed. More messages than vectors is an error, and nothing is
    /// changed.
    pub fn enable(&self, function: &PciFunction, messages: &[MsiMessage]) -> Result<(), MsixError> {
        if messages.len() > usize::from(self.vectors) {
            return Err(MsixError::TooManyMessages { messages: messages.len(), vectors: self.vectors });
        }
        let control = function.read16(at(self.capability, CONTROL));
        function.write16(at(self.capability, CONTROL), control | CONTROL_ENABLE | CONTROL_FUNCTION_MASK);
        for (index, message) in messages.iter().enumerate() {
            self.program(index, message);
        }
        function.write16(COMMAND, function.read16(COMMAND) | COMMAND_INTX_DISABLE);
        function.write16(at(self.capability, CONTROL), (control | CONTROL_ENABLE) & !CONTROL_FUNCTION_MASK);
        Ok(())
    }

    /// Turns MSI-X off with every vector masked, and the function's INTx back on: for a driver
    /// letting go of a function whose vectors are being given back.
    pub fn disable(&self, function: &PciFunction) {
        let control = function.read16(at(self.capability, CONTROL));
        function.write16(at(self.capability, CONTROL), control | CONTROL_FUNCTION_MASK);
        for index in 0..usize::from(self.vectors) {
            self.write(index, 3, VECTOR_MASKED);
        }
        function.write16(at(self.capability, CONTROL), control & !(CONTROL_ENABLE | CONTROL_FUNCTION_MASK));
        function.write16(COMMAND, function.read16(COMMAND) & !COMMAND_INTX_DISABLE);
    }

    fn program(&self, index: usize, message: &MsiMessage) {
        self.write(index, 3, VECTOR_MASKED);
        self.write(index, 0, message.address as u32);
        self.write(index, 1, (message.address >> 32) as u32);
        self.write(index, 2, message.data);
        self.write(index, 3, 0);
    }

    /// Word `word` of entry `index`; both are below the table's size (checked by callers), and
    /// the window is the table's, so the write cannot fail.
    fn write(&self, index: usize, word: usize, value: u32) {
        // index < 2048, word < 4: no overflow.
        let _ = self.table.write32(index * ENTRY_SIZE as usize + 4 * word, value);
    }
}
