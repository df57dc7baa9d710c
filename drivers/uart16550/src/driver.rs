//! The registry driver: binds a PC's ISA serial port (`PNP0501`, the ACPI ID of a
//! 16550A-compatible COM port) that a board lists with its I/O ports ([`IsaSerial`] as bus
//! data) and ISA IRQ, and hooks the receive interrupt so a console reader can sleep until a
//! byte arrives. The console keeps driving the UART itself; the driver only owns its interrupt.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::format;

use registry::{IrqReturn, Match, ProbeContext, ProbeError};

use crate::{PortIo, ReceiveInterrupt, UartPort};

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
    let hooked = hook_receive_interrupt(ctx, port)?;
    // SAFETY: the bus lists the ports of a 16550 its board has. The console's early handle on
    // the same UART is no longer used once the console switched to this one (it does so
    // after probing, on one CPU); the interrupt handler's handle touches only the interrupt
    // registers, as below.
    ctx.publish_serial(Arc::new(UartPort::new(unsafe { PortIo::new(port) }, hooked)));
    Ok(())
}

/// Whether the receive interrupt is hooked.
fn hook_receive_interrupt(ctx: &mut ProbeContext<'_>, port: u16) -> Result<bool, ProbeError> {
    if ctx.device.irqs.is_empty() {
        return Ok(false);
    }
    // SAFETY: the bus lists the ports of a 16550 its board has; the handler's handle only reads
    // the interrupt identification and writes the interrupt enable register, which the
    // console's polled driver leaves alone once it set the line up (`ReceiveInterrupt::new`).
    let mut receive = ReceiveInterrupt::new(unsafe { PortIo::new(port) });
    let handler = Box::new(move || if receive.take() { IrqReturn::Handled } else { IrqReturn::NotMine });
    let hooked = ctx.request_irq(0, handler)?;
    if hooked {
        ctx.set_driver_data(ReceiveHooked { port });
    }
    Ok(hooked)
}
