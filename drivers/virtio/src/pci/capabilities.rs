//! The virtio-pci vendor capabilities (spec 4.1.4): which BAR range holds each part of the
//! modern interface, every offset and length checked against the BAR it names.

use bus_pci::caps::CAP_VENDOR;
use bus_pci::PciFunction;
use registry::MmioRegion;

use crate::VirtioError;

pub const COMMON_CFG: u8 = 1;
pub const NOTIFY_CFG: u8 = 2;
pub const ISR_CFG: u8 = 3;
pub const DEVICE_CFG: u8 = 4;

/// `struct virtio_pci_cap`: vendor, next, length, cfg_type, bar, id, padding, offset, length.
const CAP_MIN_LEN: u8 = 16;
/// `struct virtio_pci_notify_cap` adds the notify offset multiplier.
const NOTIFY_CAP_MIN_LEN: u8 = 20;

/// One located structure of the modern interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Located {
    /// CPU-physical range of the structure inside its BAR.
    pub region: MmioRegion,
    /// The capability's offset in configuration space (for error messages).
    pub capability: u16,
}

/// The first capability of `cfg_type` (the spec lets drivers use the first one they support),
/// located in its BAR. Returns `Ok(None)` when the function has none of that type.
pub fn find(function: &PciFunction, cfg_type: u8) -> Result<Option<Located>, VirtioError> {
    for cap in function.capabilities.iter().filter(|c| c.id == CAP_VENDOR) {
        let at = cap.offset;
        if function.read8(at + 3) != cfg_type {
            continue;
        }
        let invalid = |reason| VirtioError::PciCapabilityInvalid { offset: at, reason };
        let min_len = if cfg_type == NOTIFY_CFG { NOTIFY_CAP_MIN_LEN } else { CAP_MIN_LEN };
        if function.read8(at + 2) < min_len {
            return Err(invalid("shorter than its structure"));
        }
        let bar = function.read8(at + 4);
        if bar > 5 {
            return Err(invalid("names a BAR beyond BAR5"));
        }
        let offset = u64::from(function.read32(at + 8));
        let length = u64::from(function.read32(at + 12));
        let bar_region = function.memory_bar(bar).ok_or_else(|| invalid("names an unassigned or I/O BAR"))?;
        if length == 0 || offset.checked_add(length).is_none_or(|end| end > bar_region.size) {
            return Err(invalid("range lies outside its BAR"));
        }
        // bus-pci never gives a BAR a CPU range that wraps, but the sum is checked here too
        // rather than trusted across crates.
        let base = bar_region.base.checked_add(offset).ok_or_else(|| invalid("range runs past the address space"))?;
        let region = MmioRegion { base, size: length };
        return Ok(Some(Located { region, capability: at }));
    }
    Ok(None)
}

/// The notify capability's `notify_off_multiplier`.
pub fn notify_multiplier(function: &PciFunction, notify: &Located) -> u32 {
    function.read32(notify.capability + 16)
}
