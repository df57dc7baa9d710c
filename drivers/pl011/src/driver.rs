//! The registry driver: binds `arm,pl011` nodes after checking the identification registers,
//! and hooks the receive interrupt ([`ReceiveInterrupt`]) so a console reader can sleep until
//! a byte arrives.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::format;

use registry::mmio::MmioWindow;
use registry::{IrqReturn, Match, ProbeContext, ProbeError};

/// Peripheral ID 0..3 and PrimeCell ID 0..3, one byte in each word.
const PERIPH_ID0: usize = 0xfe0;
const PRIMECELL_ID0: usize = 0xff0;
/// The PrimeCell ID of every PrimeCell peripheral.
const PRIMECELL_ID: u32 = 0xb105_f00d;
/// Part number 0x011 in peripheral ID 0 and the low nibble of ID 1.
const PART_PL011: u32 = 0x011;
const REGISTER_BLOCK: u64 = 0x1000;
/// Interrupt mask set/clear: a 1 bit lets that interrupt out.
const IMSC: usize = 0x38;
/// Masked interrupt status: what is raising the line now.
const MIS: usize = 0x40;
/// Interrupt clear.
const ICR: usize = 0x44;
/// Receive (the FIFO reached its trigger level) and receive timeout (bytes wait in the FIFO):
/// together, any received byte.
const RX_INTERRUPTS: u32 = 1 << 4 | 1 << 6;
const ALL_INTERRUPTS: u32 = 0x7ff;

registry::register_driver!(PL011_DRIVER = registry::Driver {
    name: "pl011",
    matches: &[Match::Compatible("arm,pl011")],
    priority: 0,
    class: Some(registry::Class::Serial),
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
    let port = window.alias();
    let interrupt = hook_receive_interrupt(ctx, window)?;
    ctx.publish_serial(Arc::new(crate::Pl011Port::new(port, interrupt)));
    Ok(())
}

/// The UART's receive interrupt, hooked at probe (the driver data when the platform has
/// interrupts). The handler masks it when bytes have arrived, so it does not fire again while
/// the reader takes them; the reader [`arm`](Self::arm)s it before sleeping. Its level
/// semantics close the race: a byte that came in between raises the line as soon as it is armed.
pub struct ReceiveInterrupt {
    regs: MmioWindow,
}

impl ReceiveInterrupt {
    /// The UART's physical address, to tell the console's apart.
    pub fn phys(&self) -> u64 {
        self.regs.phys()
    }

    /// Lets the next received byte (or one already waiting) raise the interrupt.
    pub fn arm(&self) {
        // IMSC lies in the window checked at probe.
        let _ = self.regs.write32(IMSC, RX_INTERRUPTS);
    }
}

/// Whether the interrupt is hooked.
fn hook_receive_interrupt(ctx: &mut ProbeContext<'_>, regs: MmioWindow) -> Result<bool, ProbeError> {
    if ctx.device.irqs.is_empty() {
        return Ok(false);
    }
    // Nothing may fire before the reader asks for it, nor from what happened before.
    regs.write32(IMSC, 0).and_then(|()| regs.write32(ICR, ALL_INTERRUPTS)).map_err(ProbeError::failed)?;
    let handler_regs = regs.alias();
    let handler = Box::new(move || match handler_regs.read32(MIS) {
        Ok(raised) if raised & RX_INTERRUPTS != 0 => {
            let _ = handler_regs.write32(IMSC, 0);
            IrqReturn::Handled
        }
        _ => IrqReturn::NotMine,
    });
    let hooked = ctx.request_irq(0, handler)?;
    if hooked {
        ctx.set_driver_data(ReceiveInterrupt { regs });
    }
    Ok(hooked)
}
