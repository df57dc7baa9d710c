//! The firmware's ACPI tables, read once: the RSDP found in the BIOS areas (SeaBIOS leaves it
//! there before the PVH entry), the tables it lists, the MADT (the I/O APIC, where ISA IRQs
//! arrive and how they signal) and the MCFG (the ECAM window). The interrupt code and the PCI
//! host take their addresses from here rather than from constants.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use acpi_tables::{find_rsdp, AcpiError, EcamWindow, Madt, Memory, Rsdp, Tables};

use super::paging;

/// The identity map's write-back RAM ends here (paging.rs): firmware tables are in RAM, and
/// no pointer a table holds may make the kernel read device registers.
const RAM_END: u64 = 2 << 30;

/// What the kernel uses of the tables.
pub struct Firmware {
    pub rsdp: Rsdp,
    pub tables: Tables,
    pub madt: Option<Madt>,
    pub ecam: Vec<EcamWindow>,
}

static FIRMWARE: spin::Once<Result<Firmware, String>> = spin::Once::new();

/// The tables, read on the first call; why not, if they cannot be.
pub fn firmware() -> Result<&'static Firmware, &'static str> {
    FIRMWARE.call_once(|| read().map_err(|error| format!("ACPI: {error}"))).as_ref().map_err(String::as_str)
}

fn read() -> Result<Firmware, AcpiError> {
    let memory = IdentityRam;
    let rsdp = find_rsdp(&memory)?;
    let tables = Tables::load(&memory, &rsdp)?;
    for broken in &tables.broken {
        log::warn!("ACPI: table left out: {broken}");
    }
    let madt = tables.madt(&memory)?;
    let ecam = tables.ecam_windows(&memory)?;
    Ok(Firmware { rsdp, tables, madt, ecam })
}

/// RAM through the identity map.
struct IdentityRam;

impl Memory for IdentityRam {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<(), AcpiError> {
        let unreadable = AcpiError::Unreadable { address, len: buf.len() };
        let end = address.checked_add(buf.len() as u64).ok_or(unreadable.clone())?;
        if address == 0 || end > RAM_END || paging::is_device_memory(address, end) {
            return Err(unreadable);
        }
        // SAFETY: `address..end` is non-null RAM the boot identity map covers as write-back
        // memory (checked above), so reading it has no side effect; the kernel (one CPU, this
        // thread) does not write it meanwhile, and `buf` is the caller's own.
        unsafe { core::ptr::copy_nonoverlapping(address as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }
}
