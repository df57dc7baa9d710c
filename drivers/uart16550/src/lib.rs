//! Minimal polled driver for 16550-compatible UARTs: the PC's COM ports, QEMU's `isa-serial`.
//!
//! Enough for a kernel console: 8 data bits, no parity, one stop bit (8N1) at 115200 baud,
//! polled, with the receive interrupt for a reader that sleeps until a byte arrives
//! ([`ReceiveInterrupt`]), hooked by the registry driver of a PC's ISA serial port (`PNP0501`,
//! x86 only), which publishes the port in the registry's serial class ([`UartPort`], `ttyS0`...).
//! The driver reaches the UART's eight byte-wide registers through [`Registers`]:
//! [`PortIo`] is the x86 I/O-port wiring of the PC; the unit tests use a fake, so the crate
//! builds and is tested on any host. (Memory-mapped 16550s, common on other architectures,
//! would be one more `Registers` implementation.)
#![no_std]
extern crate alloc;

#[cfg(target_arch = "x86_64")]
mod driver;
#[cfg(target_arch = "x86_64")]
mod port_io;
mod receive;
mod serial;

#[cfg(target_arch = "x86_64")]
pub use driver::{IsaSerial, ReceiveHooked, PNP_ID};
#[cfg(target_arch = "x86_64")]
pub use port_io::PortIo;
pub use receive::ReceiveInterrupt;
pub use serial::UartPort;

use core::fmt;

/// Access to the UART's registers by offset from its base (0 to 7).
pub trait Registers {
    fn read(&mut self, offset: u8) -> u8;
    fn write(&mut self, offset: u8, value: u8);
}

// Register offsets (National Semiconductor PC16550D datasheet, table II). Several share an
// offset: which one is reached depends on the direction and on the divisor latch bit (DLAB).
/// Receive buffer (read), transmit holding register (write); divisor low byte with DLAB set.
const DATA: u8 = 0;
/// Interrupt enable; divisor high byte with DLAB set.
const INTERRUPT_ENABLE: u8 = 1;
/// Interrupt identification (read), FIFO control (write).
const INTERRUPT_ID_FIFO_CONTROL: u8 = 2;
const LINE_CONTROL: u8 = 3;
const MODEM_CONTROL: u8 = 4;
const LINE_STATUS: u8 = 5;

/// Line control: 8 data bits, no parity, one stop bit.
const LINE_CONTROL_8N1: u8 = 0b11;
/// Line control: offsets 0 and 1 reach the baud rate divisor latch.
const LINE_CONTROL_DIVISOR_LATCH: u8 = 1 << 7;

/// The PC's UART clock, 1.8432 MHz; the divisor counts 16 clocks per bit.
const CLOCK_HZ: u32 = 1_843_200;
const BAUD: u32 = 115_200;
const DIVISOR: u16 = (CLOCK_HZ / (16 * BAUD)) as u16;

/// FIFO control: enable both FIFOs.
const FIFO_ENABLE: u8 = 1 << 0;
/// FIFO control: empty the transmit FIFO (there is nothing in it worth keeping).
const FIFO_CLEAR_TRANSMIT: u8 = 1 << 2;
/// Interrupt identification bits 7-6: both set when the FIFOs are enabled (a 16550A).
const INTERRUPT_ID_FIFOS_ENABLED: u8 = 0b11 << 6;

/// Modem control: data terminal ready and request to send, so a peer using hardware flow
/// control sends to us, and OUT2, which connects the UART's interrupt output to its IRQ line on
/// PCs (no interrupt is enabled until a reader arms the receive interrupt).
const MODEM_CONTROL_DTR_RTS_OUT2: u8 = 0b1011;
/// Interrupt enable: received data available (with the FIFOs on, also the character timeout:
/// bytes waiting below the trigger level).
const INTERRUPT_ENABLE_RECEIVED: u8 = 1 << 0;

/// Line status: a received byte is waiting.
const LINE_STATUS_DATA_READY: u8 = 1 << 0;
/// Line status: the transmit holding register (or FIFO) has room.
const LINE_STATUS_TRANSMIT_EMPTY: u8 = 1 << 5;

/// How many times to poll the line status before sending anyway.
///
/// A console must never hang the machine because a UART stopped draining (a flow-controlled or
/// absent line on real hardware); at worst a byte is lost. Emulated UARTs never make us wait.
const POLL_LIMIT: u32 = 1_000_000;

/// A 16550 UART, driven by polling.
///
/// There is no `Clone`: one value stands for exclusive use of the UART.
#[derive(Debug)]
pub struct Uart16550<R: Registers> {
    registers: R,
}

impl<R: Registers> Uart16550<R> {
    pub const fn new(registers: R) -> Self {
        Self { registers }
    }

    /// Sets 8N1 at 115200 baud with interrupts off, and turns the FIFOs on unless that would
    /// lose input.
    ///
    /// Enabling the FIFOs empties the receive buffer (the datasheet and QEMU clear both FIFOs
    /// whenever the enable bit changes, whatever the clear bits say), which would drop a byte
    /// typed or piped in before the kernel started. So they are enabled only while nothing has
    /// been received; otherwise the UART keeps its one-byte buffer, which a polled console
    /// works with just as well.
    pub fn init(&mut self) {
        self.registers.write(INTERRUPT_ENABLE, 0);
        self.registers.write(LINE_CONTROL, LINE_CONTROL_DIVISOR_LATCH);
        let [divisor_low, divisor_high] = DIVISOR.to_le_bytes();
        self.registers.write(DATA, divisor_low);
        self.registers.write(INTERRUPT_ENABLE, divisor_high);
        self.registers.write(LINE_CONTROL, LINE_CONTROL_8N1);
        self.registers.write(MODEM_CONTROL, MODEM_CONTROL_DTR_RTS_OUT2);

        let fifos_on = self.registers.read(INTERRUPT_ID_FIFO_CONTROL) & INTERRUPT_ID_FIFOS_ENABLED
            == INTERRUPT_ID_FIFOS_ENABLED;
        if !fifos_on && self.registers.read(LINE_STATUS) & LINE_STATUS_DATA_READY == 0 {
            self.registers.write(INTERRUPT_ID_FIFO_CONTROL, FIFO_ENABLE | FIFO_CLEAR_TRANSMIT);
        }
    }

    /// Sends one byte, waiting (a bounded time) for room to hold it.
    pub fn write_byte(&mut self, byte: u8) {
        for _ in 0..POLL_LIMIT {
            if self.registers.read(LINE_STATUS) & LINE_STATUS_TRANSMIT_EMPTY != 0 {
                break;
            }
            core::hint::spin_loop();
        }
        self.registers.write(DATA, byte);
    }

    /// Lets the next received byte, or one already waiting, raise the UART's interrupt, until
    /// the interrupt path's [`ReceiveInterrupt::take`] disables it again.
    pub fn arm_receive_interrupt(&mut self) {
        self.registers.write(INTERRUPT_ENABLE, INTERRUPT_ENABLE_RECEIVED);
    }

    /// Takes one received byte, if there is one.
    pub fn try_read_byte(&mut self) -> Option<u8> {
        if self.registers.read(LINE_STATUS) & LINE_STATUS_DATA_READY == 0 {
            return None;
        }
        Some(self.registers.read(DATA))
    }
}

impl<R: Registers> fmt::Write for Uart16550<R> {
    /// Sends `text`, turning each `\n` into `\r\n` as serial terminals expect.
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use core::fmt::Write;
    use std::vec::Vec;

    /// Stands in for the UART: remembers every write, answers reads from `values`, and reports
    /// the transmitter busy for the first `busy_polls` reads of the line status.
    #[derive(Default)]
    struct FakeRegisters {
        values: [u8; 8],
        writes: Vec<(u8, u8)>,
        busy_polls: u32,
    }

    impl Registers for &mut FakeRegisters {
        fn read(&mut self, offset: u8) -> u8 {
            let value = self.values[usize::from(offset)];
            if offset == LINE_STATUS && self.busy_polls > 0 {
                self.busy_polls -= 1;
                return value & !LINE_STATUS_TRANSMIT_EMPTY;
            }
            value
        }

        fn write(&mut self, offset: u8, value: u8) {
            self.writes.push((offset, value));
        }
    }

    /// The writes `init` makes before it looks at the FIFOs.
    const LINE_SETUP: [(u8, u8); 6] = [
        (INTERRUPT_ENABLE, 0),
        (LINE_CONTROL, 0x80),
        (DATA, 1), // 115200 baud: divisor 1
        (INTERRUPT_ENABLE, 0),
        (LINE_CONTROL, 0x03),
        (MODEM_CONTROL, 0x0b),
    ];

    #[test]
    fn init_sets_115200_8n1_and_enables_the_fifos() {
        let mut fake = FakeRegisters::default();
        Uart16550::new(&mut fake).init();
        let mut expected = LINE_SETUP.to_vec();
        expected.push((INTERRUPT_ID_FIFO_CONTROL, 0x05));
        assert_eq!(fake.writes, expected);
    }

    #[test]
    fn init_keeps_a_received_byte_by_leaving_the_fifos_off() {
        let mut fake = FakeRegisters::default();
        fake.values[usize::from(LINE_STATUS)] = LINE_STATUS_DATA_READY;
        fake.values[usize::from(DATA)] = b'h';
        let mut uart = Uart16550::new(&mut fake);
        uart.init();
        assert_eq!(uart.try_read_byte(), Some(b'h'));
        assert_eq!(fake.writes, LINE_SETUP);
    }

    #[test]
    fn init_leaves_fifos_that_are_on_alone() {
        let mut fake = FakeRegisters::default();
        fake.values[usize::from(INTERRUPT_ID_FIFO_CONTROL)] = 0xc1; // FIFOs on, nothing pending
        Uart16550::new(&mut fake).init();
        assert_eq!(fake.writes, LINE_SETUP);
    }

    #[test]
    fn write_byte_waits_for_room() {
        let mut fake = FakeRegisters { busy_polls: 3, ..Default::default() };
        fake.values[usize::from(LINE_STATUS)] = LINE_STATUS_TRANSMIT_EMPTY;
        Uart16550::new(&mut fake).write_byte(b'x');
        assert_eq!(fake.busy_polls, 0);
        assert_eq!(fake.writes, [(DATA, b'x')]);
    }

    #[test]
    fn write_byte_gives_up_waiting_on_a_stuck_transmitter() {
        let mut fake = FakeRegisters::default(); // never reports room
        Uart16550::new(&mut fake).write_byte(b'y');
        assert_eq!(fake.writes, [(DATA, b'y')]);
    }

    #[test]
    fn try_read_byte_reads_only_when_data_is_ready() {
        let mut fake = FakeRegisters::default();
        fake.values[usize::from(DATA)] = b'z';
        assert_eq!(Uart16550::new(&mut fake).try_read_byte(), None);
        fake.values[usize::from(LINE_STATUS)] = LINE_STATUS_DATA_READY;
        assert_eq!(Uart16550::new(&mut fake).try_read_byte(), Some(b'z'));
    }

    #[test]
    fn text_gets_carriage_returns_before_newlines() {
        let mut fake = FakeRegisters::default();
        fake.values[usize::from(LINE_STATUS)] = LINE_STATUS_TRANSMIT_EMPTY;
        write!(Uart16550::new(&mut fake), "a\nb").unwrap();
        let sent: Vec<u8> = fake.writes.iter().map(|&(_, byte)| byte).collect();
        assert_eq!(sent, b"a\r\nb");
    }

    #[test]
    fn the_receive_interrupt_is_armed_by_the_reader_and_disabled_by_its_handler() {
        let mut fake = FakeRegisters::default();
        Uart16550::new(&mut fake).arm_receive_interrupt();
        assert_eq!(fake.writes, [(INTERRUPT_ENABLE, 0x01)]);

        fake.writes.clear();
        fake.values[usize::from(INTERRUPT_ID_FIFO_CONTROL)] = 0xc4; // FIFOs on, data available
        assert!(ReceiveInterrupt::new(&mut fake).take());
        fake.values[usize::from(INTERRUPT_ID_FIFO_CONTROL)] = 0xcc; // character timeout
        assert!(ReceiveInterrupt::new(&mut fake).take());
        assert_eq!(fake.writes, [(INTERRUPT_ENABLE, 0), (INTERRUPT_ENABLE, 0)]);
    }

    #[test]
    fn the_receive_handler_leaves_other_interrupts_alone() {
        let mut fake = FakeRegisters::default();
        // Nothing pending; then the transmit holding register empty, receiver line status and
        // modem status interrupts.
        for id in [0xc1, 0xc2, 0xc6, 0xc0] {
            fake.values[usize::from(INTERRUPT_ID_FIFO_CONTROL)] = id;
            assert!(!ReceiveInterrupt::new(&mut fake).take(), "IIR {id:#x}");
        }
        assert_eq!(fake.writes, []);
    }
}
