//! The UART as the registry's serial class, on the register window the probe checked. The
//! console switches to it once the registry has probed (until then it writes through its own
//! early [`Pl011`](crate::Pl011) handle on the same registers; the two never run at once).

use registry::class::SerialPort;
use registry::mmio::MmioWindow;
use spin::Mutex;

use crate::{Register, FLAGS_RX_EMPTY, FLAGS_TX_FULL, POLL_LIMIT};

/// Interrupt mask set/clear: receive and receive-timeout let out (see the driver).
const IMSC: usize = 0x38;
const RX_INTERRUPTS: u32 = 1 << 4 | 1 << 6;

/// A PL011 as a `registry::class::SerialPort`; what the driver publishes.
pub struct Pl011Port {
    /// Behind a lock so that two writers' bytes do not interleave mid-call.
    regs: Mutex<MmioWindow>,
    /// Whether the driver hooked the receive interrupt.
    interrupt: bool,
}

impl Pl011Port {
    pub(crate) fn new(regs: MmioWindow, interrupt: bool) -> Self {
        Pl011Port { regs: Mutex::new(regs), interrupt }
    }
}

/// The flag register; a window checked at probe holds it, so a failed read only reads as
/// "nothing to do" (TX full, RX empty) rather than a stray access.
fn flags(regs: &MmioWindow) -> u32 {
    regs.read32(Register::Flags as usize).unwrap_or(FLAGS_TX_FULL | FLAGS_RX_EMPTY)
}

impl SerialPort for Pl011Port {
    fn write(&self, bytes: &[u8]) {
        let regs = self.regs.lock();
        for &byte in bytes {
            // Bounded: a UART that stopped draining loses a byte rather than hanging the kernel.
            for _ in 0..POLL_LIMIT {
                if flags(&regs) & FLAGS_TX_FULL == 0 {
                    break;
                }
                core::hint::spin_loop();
            }
            let _ = regs.write32(Register::Data as usize, u32::from(byte));
        }
    }

    fn read(&self, out: &mut [u8]) -> usize {
        let regs = self.regs.lock();
        let mut count = 0;
        while count < out.len() && flags(&regs) & FLAGS_RX_EMPTY == 0 {
            // The low 8 bits are the byte; the bits above are its error flags.
            let Ok(data) = regs.read32(Register::Data as usize) else { break };
            out[count] = data as u8;
            count += 1;
        }
        count
    }

    fn arm_receive_interrupt(&self) -> bool {
        if self.interrupt {
            let _ = self.regs.lock().write32(IMSC, RX_INTERRUPTS);
        }
        self.interrupt
    }
}
