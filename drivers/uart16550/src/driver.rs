//! The registry driver: binds a PC's ISA serial port (`PNP0501`, the ACPI ID of a
//! 16550A-compatible COM port) that a board lists with its I/O ports ([`IsaSerial`] as bus
//! data) and ISA IRQ, and hooks the receive interrupt so a console reader can sleep until a
//! byte arrives. The console keeps driving the UART itself; the driver only owns its interrupt.

use alloc::boxed::Box;
use alloc::format;

use registry::{IrqReturn, Match, ProbeContext, ProbeError};

use crate::{PortIo, ReceiveInterrupt};

/// The ACPI / PnP ID of a 16550A-compatible serial port.
pub const PNP_ID: &str = "PNP0501";

registry::register_driver!(UART16550_DRIVER = registry::Driver {
    name: "uart16550",
    matches: &[Match::Compatible(PNP_ID)],
    priority: 0,
    class: Some(registry::Class::Serial),
    probe,
    remove: None,
});

/// What the bus that lists a serial port hands its driver: where its registers are.
pub struct IsaSerial {
    /// The first of its eight I/O ports (COM1: 0x3f8).
    pub port: u16,
}

/// Driver data of a port whose receive interrupt is hooked: the console arms the interrupt on
/// its own handle of the UART at `port`, and the handler disables it again once it fired.
pub struct ReceiveHooked {
    pub port: u16,
}

fn probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    let port = ctx.bus_data::<IsaSerial>().ok_or_else(|| ProbeError::failed("no I/O ports from the bus"))?.port;
    ctx.set_info("ports", format!("{port:#x}-{:#x}", port + 7));
    if ctx.device.irqs.is_empty() {
        return Ok(());
    }
    // SAFETY: the bus lists the ports of a 16550 its board has; the handler's handle only reads
    // the interrupt identification and writes the interrupt enable register, which the
    // console's polled driver leaves alone once it set the line up (`ReceiveInterrupt::new`).
    let mut receive = ReceiveInterrupt::new(unsafe { PortIo::new(port) });
    let handler = Box::new(move || if receive.take() { IrqReturn::Handled } else { IrqReturn::NotMine });
    if ctx.request_irq(0, handler)? {
        ctx.set_driver_data(ReceiveHooked { port });
    }
    Ok(())
}
