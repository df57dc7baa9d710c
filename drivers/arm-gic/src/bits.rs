//! The three shapes of per-interrupt register arrays, shared by the distributor (shared
//! peripheral interrupts) and the GICv3 redistributor's SGI frame (private interrupts): one bit,
//! two bits or one byte per INTID, packed into 32-bit registers from a base offset; 64-bit
//! registers as two halves; and bounded waits on a register.

use registry::mmio::{MmioWindow, OutOfWindow};
use registry::wait::poll_until;
use registry::Platform;

use crate::GicError;

/// How long a register write, a redistributor wake-up or an ITS command may take: microseconds
/// on hardware.
pub(crate) const WAIT_TIMEOUT_NS: u64 = 100_000_000;

/// Sets the bit of `intid` in a write-1-to-act array (ISENABLER, ICENABLER, ...): the other
/// bits are written 0, which changes nothing, so no read is needed and no race is possible.
pub(crate) fn write_bit(regs: &MmioWindow, array: usize, intid: u32) -> Result<(), OutOfWindow> {
    regs.write32(array + 4 * (intid / 32) as usize, 1 << (intid % 32))
}

/// Writes `value` to every bit of the interrupts `first..end` (multiples of 32) in a
/// one-bit-per-INTID array.
pub(crate) fn write_all_bits(regs: &MmioWindow, array: usize, first: u32, end: u32, value: u32) -> Result<(), OutOfWindow> {
    (first / 32..end / 32).try_for_each(|index| regs.write32(array + 4 * index as usize, value))
}

/// Replaces the byte of `intid` in a byte-per-INTID array (IPRIORITYR, ITARGETSR), as a 32-bit
/// read-modify-write: the access width every GIC accepts.
pub(crate) fn write_byte(regs: &MmioWindow, array: usize, intid: u32, value: u8) -> Result<(), OutOfWindow> {
    let at = array + (intid as usize & !3);
    let shift = 8 * (intid % 4);
    let word = regs.read32(at)? & !(0xff << shift);
    regs.write32(at, word | u32::from(value) << shift)
}

/// Replaces the two bits of `intid` in a two-bits-per-INTID array (ICFGR).
pub(crate) fn write_pair(regs: &MmioWindow, array: usize, intid: u32, value: u32) -> Result<(), OutOfWindow> {
    let at = array + 4 * (intid / 16) as usize;
    let shift = 2 * (intid % 16);
    let word = regs.read32(at)? & !(0b11 << shift);
    regs.write32(at, word | (value & 0b11) << shift)
}

/// Reads a 64-bit register as two 32-bit halves, low first: GICv3 allows 32-bit accesses to
/// either half of its 64-bit registers, and the window has no 64-bit access.
pub(crate) fn read64(regs: &MmioWindow, offset: usize) -> Result<u64, OutOfWindow> {
    let low = regs.read32(offset)?;
    Ok(u64::from(regs.read32(offset + 4)?) << 32 | u64::from(low))
}

/// Writes a 64-bit register as two 32-bit halves, low first, so that a Valid bit in the high
/// half (GITS_BASER, GITS_CBASER) is set after the address it validates.
pub(crate) fn write64(regs: &MmioWindow, offset: usize, value: u64) -> Result<(), OutOfWindow> {
    regs.write32(offset, value as u32)?;
    regs.write32(offset + 4, (value >> 32) as u32)
}

/// Polls until the `mask` bits of the register at `offset` read 0 (a write-pending or
/// asleep flag), bounded by [`WAIT_TIMEOUT_NS`].
pub(crate) fn wait_clear(
    regs: &MmioWindow,
    offset: usize,
    mask: u32,
    platform: &dyn Platform,
    what: &'static str,
) -> Result<(), GicError> {
    wait_register(regs, offset, platform, what, |value| value & mask == 0).map(drop)
}

/// Polls the register at `offset` until `done` accepts its value, bounded by
/// [`WAIT_TIMEOUT_NS`]; returns that value.
pub(crate) fn wait_register(
    regs: &MmioWindow,
    offset: usize,
    platform: &dyn Platform,
    what: &'static str,
    mut done: impl FnMut(u32) -> bool,
) -> Result<u32, GicError> {
    let mut outcome = Ok(0);
    let waited = poll_until(platform, WAIT_TIMEOUT_NS, what, || match regs.read32(offset) {
        Ok(value) => {
            outcome = Ok(value);
            done(value)
        }
        Err(error) => {
            outcome = Err(error);
            true
        }
    });
    waited?;
    Ok(outcome?)
}
