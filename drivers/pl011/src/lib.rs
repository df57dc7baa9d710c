//! Minimal driver for the ARM PrimeCell PL011 UART.
//!
//! [`Pl011`] only knows the address of the UART's register block and polls; it
//! never touches interrupts or DMA. It is enough for a kernel console: 8 data bits,
//! no parity, one stop bit (8N1), FIFOs on, with the baud rate left as the
//! firmware (or the emulator, which ignores it) configured it.
//!
//! The registry driver (`arm,pl011`) checks the PrimeCell identification registers, so a
//! node that points at something else fails its probe instead of being used as a console, and
//! hooks the receive interrupt ([`ReceiveInterrupt`]): the console reader sleeps until a byte
//! arrives instead of polling. It publishes the UART in the registry's serial class
//! ([`Pl011Port`], instance `ttyS0`...), which the kernel's console uses once probed.
//!
//! The crate is `no_std` and builds on the host too, where the unit tests
//! drive it against an ordinary memory buffer standing in for the registers.
#![no_std]
extern crate alloc;

mod driver;
mod serial;

pub use driver::ReceiveInterrupt;
pub use serial::Pl011Port;

use core::fmt;

/// Register offsets from the base of the PL011 register block
/// (ARM PrimeCell UART (PL011) Technical Reference Manual, table 3-1).
#[derive(Clone, Copy)]
#[repr(usize)]
enum Register {
    /// Data register: writing sends a byte, reading takes one from the RX FIFO.
    Data = 0x00,
    /// Flag register: FIFO and busy status.
    Flags = 0x18,
    /// Line control: word length, FIFO enable, parity, stop bits.
    LineControl = 0x2c,
    /// Control: UART, transmitter and receiver enables.
    Control = 0x30,
}

/// Flag register: the receive FIFO is empty.
const FLAGS_RX_EMPTY: u32 = 1 << 4;
/// Flag register: the transmit FIFO is full.
const FLAGS_TX_FULL: u32 = 1 << 5;
/// Flag register: the UART is still sending a byte.
const FLAGS_BUSY: u32 = 1 << 3;

/// Line control: enable the TX and RX FIFOs.
const LINE_CONTROL_FIFO_ENABLE: u32 = 1 << 4;
/// Line control: 8-bit words (WLEN = 0b11).
const LINE_CONTROL_WORD_8_BITS: u32 = 0b11 << 5;

/// Control: the UART as a whole is enabled.
const CONTROL_UART_ENABLE: u32 = 1 << 0;
/// Control: the transmitter is enabled.
const CONTROL_TX_ENABLE: u32 = 1 << 8;
/// Control: the receiver is enabled.
const CONTROL_RX_ENABLE: u32 = 1 << 9;

/// How many times to poll a status flag before giving up.
///
/// A console must never hang the machine because a UART stopped draining (a
/// disconnected or flow-controlled line on real hardware); at worst a byte is
/// lost. Emulated UARTs never make us wait at all.
const POLL_LIMIT: u32 = 1_000_000;

/// A PL011 UART, driven by polling.
///
/// There is no `Clone`: one value stands for exclusive use of the UART.
#[derive(Debug)]
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// Wraps the PL011 whose register block starts at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the address, as the caller's memory map sees it, of the
    /// 4 KiB register block of a PL011 UART, mapped as device memory for as
    /// long as the returned value lives, and nothing else may program that
    /// UART meanwhile.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    /// Sets up 8N1 and enables the transmitter and the receiver.
    ///
    /// The baud rate divisors are left alone: the firmware set them, and
    /// QEMU ignores them. So is the FIFO enable: changing it empties the
    /// receive FIFO, losing what was typed (or piped in) before the kernel
    /// started, and a console gains nothing from the FIFO.
    pub fn init(&mut self) {
        // The line control register must only change while the UART is
        // disabled and idle (TRM section 3.3.8).
        self.write_register(Register::Control, 0);
        self.wait_while(FLAGS_BUSY);
        let fifo = self.read_register(Register::LineControl) & LINE_CONTROL_FIFO_ENABLE;
        self.write_register(Register::LineControl, fifo | LINE_CONTROL_WORD_8_BITS);
        self.write_register(
            Register::Control,
            CONTROL_UART_ENABLE | CONTROL_TX_ENABLE | CONTROL_RX_ENABLE,
        );
    }

    /// Sends one byte, waiting (a bounded time) for room in the TX FIFO.
    pub fn write_byte(&mut self, byte: u8) {
        self.wait_while(FLAGS_TX_FULL);
        self.write_register(Register::Data, u32::from(byte));
    }

    /// Takes one received byte, if the RX FIFO has any.
    pub fn try_read_byte(&mut self) -> Option<u8> {
        if self.read_register(Register::Flags) & FLAGS_RX_EMPTY != 0 {
            return None;
        }
        // The low 8 bits are the byte; the bits above are its error flags.
        Some(self.read_register(Register::Data) as u8)
    }

    /// Polls until none of the `flags` is set, or [`POLL_LIMIT`] reads passed.
    fn wait_while(&self, flags: u32) {
        for _ in 0..POLL_LIMIT {
            if self.read_register(Register::Flags) & flags == 0 {
                return;
            }
            core::hint::spin_loop();
        }
    }

    fn read_register(&self, register: Register) -> u32 {
        // SAFETY: `new`'s contract makes `base` the start of a mapped PL011
        // register block; every `Register` offset lies inside it and is 4-byte
        // aligned, and PL011 registers are read as 32-bit words.
        unsafe { core::ptr::read_volatile((self.base + register as usize) as *const u32) }
    }

    fn write_register(&mut self, register: Register, value: u32) {
        // SAFETY: as in `read_register`; `&mut self` is the exclusive use of
        // the UART that `new` hands over.
        unsafe { core::ptr::write_volatile((self.base + register as usize) as *mut u32, value) }
    }
}

impl fmt::Write for Pl011 {
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
    use super::*;

    /// Ordinary memory standing in for a PL011 register block.
    #[repr(C, align(4096))]
    struct FakeRegisters([u32; 1024]);

    impl FakeRegisters {
        fn new() -> Self {
            Self([0; 1024])
        }

        fn uart(&mut self) -> Pl011 {
            // SAFETY: the buffer is a 4 KiB, 4-byte aligned block that lives
            // as long as the test, which uses it for nothing else meanwhile.
            unsafe { Pl011::new(self.0.as_mut_ptr() as usize) }
        }

        fn get(&self, register: Register) -> u32 {
            self.0[register as usize / 4]
        }

        fn set(&mut self, register: Register, value: u32) {
            self.0[register as usize / 4] = value;
        }
    }

    #[test]
    fn init_enables_8n1_tx_and_rx_and_keeps_the_fifo_setting() {
        let mut registers = FakeRegisters::new();
        registers.uart().init();
        assert_eq!(registers.get(Register::LineControl), 0x60);
        assert_eq!(registers.get(Register::Control), 0x301);

        registers.set(Register::LineControl, LINE_CONTROL_FIFO_ENABLE);
        registers.uart().init();
        assert_eq!(registers.get(Register::LineControl), 0x70);
    }

    #[test]
    fn write_byte_stores_into_data_register() {
        let mut registers = FakeRegisters::new();
        registers.uart().write_byte(b'x');
        assert_eq!(registers.get(Register::Data), u32::from(b'x'));
    }

    #[test]
    fn write_byte_gives_up_waiting_on_a_full_fifo() {
        let mut registers = FakeRegisters::new();
        registers.set(Register::Flags, FLAGS_TX_FULL);
        registers.uart().write_byte(b'y');
        assert_eq!(registers.get(Register::Data), u32::from(b'y'));
    }

    #[test]
    fn try_read_byte_reports_empty_fifo_and_strips_error_bits() {
        let mut registers = FakeRegisters::new();
        registers.set(Register::Flags, FLAGS_RX_EMPTY);
        assert_eq!(registers.uart().try_read_byte(), None);
        registers.set(Register::Flags, 0);
        registers.set(Register::Data, 0x400 | u32::from(b'z'));
        assert_eq!(registers.uart().try_read_byte(), Some(b'z'));
    }
}
