//! The Root System Description Pointer (ACPI 6.5, 5.2.5): "RSD PTR " on a 16-byte boundary in
//! the first KiB of the EBDA or in the BIOS area 0xe0000-0xfffff, pointing to the RSDT (and,
//! from revision 2, the XSDT).

use core::ops::Range;

use crate::memory::{sums_to_zero, u32_at, u64_at};
use crate::{AcpiError, Memory};

const SIGNATURE: &[u8; 8] = b"RSD PTR ";
/// The ACPI 1.0 part, which the first checksum covers.
const V1_LEN: usize = 20;
/// The revision 2 structure, which the extended checksum covers (its `length` says).
const V2_LEN: usize = 36;
/// The most extended-checksum bytes accepted: every revision so far defines 36, so a longer
/// length is nonsense, refused rather than checksummed in part.
const MAX_LEN: u64 = 4096;

/// Where a BIOS leaves the RSDP: the BIOS read-only area (the EBDA is searched by
/// [`find_rsdp`] when its segment word at 0x40e names one).
const BIOS_AREAS: Range<u64> = 0xe_0000..0x10_0000;
/// The BIOS data area word holding the EBDA's segment.
const EBDA_SEGMENT: u64 = 0x40e;
const EBDA_SEARCHED: u64 = 1024;

/// A checked RSDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rsdp {
    pub address: u64,
    pub revision: u8,
    pub oem_id: [u8; 6],
    pub rsdt: u32,
    /// From revision 2 on (0 when absent).
    pub xsdt: u64,
}

impl Rsdp {
    /// The RSDP at `address`, with its checksums verified.
    pub fn read(memory: &dyn Memory, address: u64) -> Result<Rsdp, AcpiError> {
        let mut bytes = [0u8; V2_LEN];
        memory.read(address, &mut bytes[..V1_LEN])?;
        if &bytes[..8] != SIGNATURE || !sums_to_zero(&bytes[..V1_LEN]) {
            return Err(AcpiError::Checksum { what: "RSDP", address });
        }
        let revision = bytes[15];
        let mut rsdp = Rsdp { address, revision, oem_id: [0; 6], rsdt: u32_at(&bytes, 16), xsdt: 0 };
        rsdp.oem_id.copy_from_slice(&bytes[9..15]);
        if revision >= 2 {
            memory.read(address, &mut bytes)?;
            let len = u64::from(u32_at(&bytes, 20));
            if !(V2_LEN as u64..=MAX_LEN).contains(&len) {
                return Err(AcpiError::Length { what: "RSDP", address, len });
            }
            // The extended checksum covers `length` bytes; fields past the 36 we know are
            // reserved, but count. `len` <= MAX_LEN fits a usize.
            let mut extended = alloc::vec![0u8; len as usize];
            memory.read(address, &mut extended)?;
            if !sums_to_zero(&extended) {
                return Err(AcpiError::Checksum { what: "RSDP (extended)", address });
            }
            rsdp.xsdt = u64_at(&bytes, 24);
        }
        Ok(rsdp)
    }
}

/// Searches the first KiB of the EBDA, then the BIOS area 0xe0000-0xfffff, for a valid RSDP
/// (ACPI 6.5, 5.2.5.1). Memory that cannot be read is skipped, not an error.
pub fn find_rsdp(memory: &dyn Memory) -> Result<Rsdp, AcpiError> {
    let mut segment = [0u8; 2];
    let ebda = match memory.read(EBDA_SEGMENT, &mut segment) {
        Ok(()) => u64::from(u16::from_le_bytes(segment)) << 4,
        Err(_) => 0,
    };
    let mut areas = [BIOS_AREAS, 0..0];
    if ebda != 0 {
        areas = [ebda..ebda + EBDA_SEARCHED, BIOS_AREAS];
    }
    for area in areas {
        let mut candidate = area.start.next_multiple_of(16);
        while candidate + V1_LEN as u64 <= area.end {
            let mut signature = [0u8; 8];
            if memory.read(candidate, &mut signature).is_ok() && &signature == SIGNATURE {
                if let Ok(rsdp) = Rsdp::read(memory, candidate) {
                    return Ok(rsdp);
                }
            }
            candidate += 16;
        }
    }
    Err(AcpiError::NoRsdp)
}
