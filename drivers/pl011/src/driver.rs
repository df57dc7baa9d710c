//! The registry driver: binds `arm,pl011` nodes after checking the identification registers.

use alloc::format;

use registry::mmio::MmioWindow;
use registry::{Match, ProbeContext, ProbeError};

/// Peripheral ID 0..3 and PrimeCell ID 0..3, one byte in each word.
const PERIPH_ID0: usize = 0xfe0;
const PRIMECELL_ID0: usize = 0xff0;
/// The PrimeCell ID of every PrimeCell peripheral.
const PRIMECELL_ID: u32 = 0xb105_f00d;
/// Part number 0x011 in peripheral ID 0 and the low nibble of ID 1.
const PART_PL011: u32 = 0x011;
const REGISTER_BLOCK: u64 = 0x1000;

registry::register_driver!(PL011_DRIVER = registry::Driver {
    name: "pl011",
    matches: &[Match::Compatible("arm,pl011")],
    priority: 0,
    probe,
    remove: None,
});

/// Four ID registers holding one byte each, assembled little-end first.
fn id_word(window: &MmioWindow, first: usize) -> Result<u32, ProbeError> {
    (0..4).try_fold(0u32, |word, i| {
        let byte = window.read32(first + 4 * i).map_err(ProbeError::failed)? & 0xff;
        Ok(word | byte << (8 * i))
    })
}

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let region = *ctx.device.regions.first().ok_or_else(|| ProbeError::failed("no register window (reg)"))?;
    if region.size < REGISTER_BLOCK {
        return Err(ProbeError::failed(format!("register window of {:#x} bytes is too small", region.size)));
    }
    let window = MmioWindow::map(ctx.platform, region).map_err(ProbeError::failed)?;
    let primecell = id_word(&window, PRIMECELL_ID0)?;
    if primecell != PRIMECELL_ID {
        return Err(ProbeError::failed(format!("PrimeCell ID {primecell:#010x}, not a PrimeCell peripheral")));
    }
    let periph = id_word(&window, PERIPH_ID0)?;
    let part = periph & 0xfff;
    if part != PART_PL011 {
        return Err(ProbeError::failed(format!("PrimeCell part {part:#05x}, not a PL011")));
    }
    ctx.set_info("revision", format!("r{}", (periph >> 20) & 0xf));
    Ok(())
}
