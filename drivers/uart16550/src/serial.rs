//! The UART as the registry's serial class. The console switches to it once the registry has
//! probed (until then it drives the UART through its own early handle; the two never run at
//! once).

use registry::class::SerialPort;
use spin::Mutex;

use crate::{Registers, Uart16550};

/// A 16550 as a `registry::class::SerialPort`; what the driver publishes (over [`PortIo`] on a
/// PC).
///
/// [`PortIo`]: crate::PortIo
pub struct UartPort<R: Registers> {
    uart: Mutex<Uart16550<R>>,
    /// Whether the driver hooked the receive interrupt.
    interrupt: bool,
}

impl<R: Registers> UartPort<R> {
    /// The UART as its firmware or the early console set it up (not set up again, which could
    /// lose a byte already received).
    pub fn new(registers: R, interrupt: bool) -> Self {
        UartPort { uart: Mutex::new(Uart16550::new(registers)), interrupt }
    }
}

impl<R: Registers + Send> SerialPort for UartPort<R> {
    fn write(&self, bytes: &[u8]) {
        let mut uart = self.uart.lock();
        for &byte in bytes {
            uart.write_byte(byte);
        }
    }

    fn read(&self, out: &mut [u8]) -> usize {
        let mut uart = self.uart.lock();
        let mut count = 0;
        while count < out.len() {
            let Some(byte) = uart.try_read_byte() else { break };
            out[count] = byte;
            count += 1;
        }
        count
    }

    fn arm_receive_interrupt(&self) -> bool {
        if self.interrupt {
            self.uart.lock().arm_receive_interrupt();
        }
        self.interrupt
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::{DATA, INTERRUPT_ENABLE, INTERRUPT_ENABLE_RECEIVED, LINE_STATUS, LINE_STATUS_DATA_READY, LINE_STATUS_TRANSMIT_EMPTY};
    use std::vec::Vec;

    /// A UART whose transmitter is always ready and which has `received` waiting.
    struct Fake {
        received: Vec<u8>,
        writes: std::sync::Arc<spin::Mutex<Vec<(u8, u8)>>>,
    }

    impl Registers for Fake {
        fn read(&mut self, offset: u8) -> u8 {
            match offset {
                LINE_STATUS if self.received.is_empty() => LINE_STATUS_TRANSMIT_EMPTY,
                LINE_STATUS => LINE_STATUS_TRANSMIT_EMPTY | LINE_STATUS_DATA_READY,
                DATA if !self.received.is_empty() => self.received.remove(0),
                _ => 0,
            }
        }

        fn write(&mut self, offset: u8, value: u8) {
            self.writes.lock().push((offset, value));
        }
    }

    #[test]
    fn the_class_port_sends_bytes_as_given_takes_what_waits_and_arms_only_a_hooked_interrupt() {
        let writes = std::sync::Arc::new(spin::Mutex::new(Vec::new()));
        let port: &dyn SerialPort = &UartPort::new(Fake { received: b"abc".to_vec(), writes: writes.clone() }, true);
        port.write(b"h\n");
        assert_eq!(*writes.lock(), [(DATA, b'h'), (DATA, b'\n')], "no \\r added: that is the console's");
        let mut out = [0; 2];
        assert_eq!((port.read(&mut out), out), (2, *b"ab"));
        assert_eq!((port.read(&mut out), out[0]), (1, b'c'));
        assert_eq!(port.read(&mut out), 0);
        assert!(port.arm_receive_interrupt());
        assert_eq!(writes.lock().last(), Some(&(INTERRUPT_ENABLE, INTERRUPT_ENABLE_RECEIVED)));
        let polled = UartPort::new(Fake { received: Vec::new(), writes: writes.clone() }, false);
        let before = writes.lock().len();
        assert!(!polled.arm_receive_interrupt());
        assert_eq!(writes.lock().len(), before, "nothing written without a hooked interrupt");
    }
}
