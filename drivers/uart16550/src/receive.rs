//! The interrupt path's side of the receive interrupt: a console reader arms it
//! ([`Uart16550::arm_receive_interrupt`](crate::Uart16550::arm_receive_interrupt)) and sleeps;
//! the handler tells its interrupt apart and disables it, so that it does not fire again while
//! the reader takes the bytes.

use crate::{Registers, INTERRUPT_ENABLE, INTERRUPT_ID_FIFO_CONTROL};

/// Interrupt identification bit 0: set while no interrupt is pending.
const INTERRUPT_ID_NONE_PENDING: u8 = 1 << 0;
/// Interrupt identification bits 3-1: the pending interrupt of highest priority.
const INTERRUPT_ID_CAUSE: u8 = 0b1110;
/// The receiver's causes: data available (at the trigger level), character timeout (bytes
/// below it waiting).
const CAUSE_RECEIVED: u8 = 0b0100;
const CAUSE_TIMEOUT: u8 = 0b1100;

/// The interrupt handler's handle on a UART the console drives as a [`Uart16550`](crate::Uart16550).
pub struct ReceiveInterrupt<R: Registers> {
    registers: R,
}

impl<R: Registers> ReceiveInterrupt<R> {
    /// `registers` is a second handle on the console's UART, used only to read the interrupt
    /// identification and write the interrupt enable register, which the polled driver leaves
    /// alone once `init` has set the line up.
    pub fn new(registers: R) -> Self {
        ReceiveInterrupt { registers }
    }

    /// Whether received bytes raised the UART's interrupt; if so, it is disabled until the
    /// reader arms it again.
    pub fn take(&mut self) -> bool {
        let id = self.registers.read(INTERRUPT_ID_FIFO_CONTROL);
        let received =
            id & INTERRUPT_ID_NONE_PENDING == 0 && matches!(id & INTERRUPT_ID_CAUSE, CAUSE_RECEIVED | CAUSE_TIMEOUT);
        if received {
            self.registers.write(INTERRUPT_ENABLE, 0);
        }
        received
    }
}
