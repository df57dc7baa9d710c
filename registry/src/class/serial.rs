//! The serial class: a byte stream to and from a UART (the console).

/// A serial port, whatever drives it. Bytes go out as given (no `\n` to `\r\n`: that is the
/// terminal's convention, the console's business).
pub trait SerialPort: Send + Sync {
    /// Sends `bytes`, waiting (a bounded time per byte) for room in the transmitter.
    fn write(&self, bytes: &[u8]);

    /// Takes the bytes received so far, up to `out.len()`; never waits. Returns how many.
    fn read(&self, out: &mut [u8]) -> usize;

    /// Lets the next received byte (or one already waiting) raise the port's interrupt, which
    /// wakes an idle CPU; false when the port has no interrupt hooked, so that a reader must
    /// look again on its own.
    fn arm_receive_interrupt(&self) -> bool;
}
