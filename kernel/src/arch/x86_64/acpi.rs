//! The firmware's ACPI tables, read once: the RSDP the PVH start info points to (else one found
//! in the BIOS areas, where SeaBIOS leaves it), the tables it lists, the MADT (the I/O APIC,
//! where ISA IRQs arrive and how they signal) and the MCFG (the ECAM window). The interrupt
//! code and the PCI host take their addresses from here rather than from constants.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use acpi_tables::{find_rsdp, AcpiError, EcamWindow, Madt, Memory, Rsdp, Tables};

use super::paging;

/// What the kernel uses of the tables.
pub struct Firmware {
    pub rsdp: Rsdp,
    pub found_by: RsdpSource,
    pub tables: Tables,
    pub madt: Option<Madt>,
    pub ecam: Vec<EcamWindow>,
}

/// Where the RSDP's address came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsdpSource {
    /// The PVH start info's `rsdp_paddr`, as the loader found or built the tables.
    StartInfo,
    /// A search of the EBDA and the BIOS area.
    BiosSearch,
}

static FIRMWARE: spin::Once<Result<Firmware, String>> = spin::Once::new();

/// The tables, read on the first call; why not, if they cannot be.
pub fn firmware() -> Result<&'static Firmware, &'static str> {
    FIRMWARE.call_once(|| read().map_err(|error| format!("ACPI: {error}"))).as_ref().map_err(String::as_str)
}

/// The PVH `hvm_start_info` the loader passed (Xen's `arch-x86/hvm/start_info.h`): its magic,
/// and where its RSDP address is (0: none given).
const START_INFO_MAGIC: u32 = 0x336e_c578;
const START_INFO_RSDP: u64 = 32;

static START_INFO: AtomicU64 = AtomicU64::new(0);

/// Keeps the `hvm_start_info` address the PVH entry got, for the RSDP pointer in it.
pub fn set_start_info(address: u64) {
    START_INFO.store(address, Ordering::Relaxed);
}

/// The `hvm_start_info` address the PVH entry got (its memory map: ram.rs).
pub(super) fn start_info() -> u64 {
    START_INFO.load(Ordering::Relaxed)
}

/// The RSDP address the PVH start info gives, if it is a start info and gives one.
fn rsdp_from_start_info(memory: &dyn Memory) -> Option<u64> {
    let address = START_INFO.load(Ordering::Relaxed);
    let mut head = [0u8; 40];
    memory.read(address, &mut head).ok()?;
    let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let rsdp = u64::from_le_bytes(head[START_INFO_RSDP as usize..][..8].try_into().ok()?);
    (magic == START_INFO_MAGIC && rsdp != 0).then_some(rsdp)
}

fn read() -> Result<Firmware, AcpiError> {
    let memory = IdentityRam;
    let (rsdp, found_by) = match rsdp_from_start_info(&memory) {
        Some(address) => (Rsdp::read(&memory, address)?, RsdpSource::StartInfo),
        None => (find_rsdp(&memory)?, RsdpSource::BiosSearch),
    };
    let tables = Tables::load(&memory, &rsdp)?;
    for broken in &tables.broken {
        log::warn!("ACPI: table left out: {broken}");
    }
    let madt = tables.madt(&memory)?;
    let ecam = tables.ecam_windows(&memory)?;
    Ok(Firmware { rsdp, found_by, tables, madt, ecam })
}

/// RAM through the identity map.
struct IdentityRam;

impl Memory for IdentityRam {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<(), AcpiError> {
        let unreadable = AcpiError::Unreadable { address, len: buf.len() };
        let end = address.checked_add(buf.len() as u64).ok_or(unreadable.clone())?;
        // Firmware tables are in RAM: no pointer a table holds may make the kernel read
        // device registers.
        if address == 0 || !paging::is_write_back(address, end) {
            return Err(unreadable);
        }
        // SAFETY: `address..end` is non-null memory the identity map covers as write-back
        // (checked above), so reading it has no side effect; the kernel (one CPU, this
        // thread) does not write it meanwhile, and `buf` is the caller's own.
        unsafe { core::ptr::copy_nonoverlapping(address as *const u8, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }
}
