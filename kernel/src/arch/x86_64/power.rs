//! Ending the run: ACPI soft-off (QEMU exits with status 0) and isa-debug-exit (QEMU exits with
//! a failure status).

use super::{port, timer};
use core::arch::asm;

/// The isa-debug-exit device's port (the boards' `-device isa-debug-exit,iobase=0xf4`).
const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The ACPI PM1a control register: PM base + 4, with the PM base (the ICH9's or PIIX4's PMBASE)
/// where SeaBIOS puts it on both q35 and pc when QEMU supplies the ACPI tables, as it does by
/// default (its debug log says "Moving pm_base to 0x600"; 0xb000 otherwise).
const PM1A_CONTROL_PORT: u16 = 0x604;

/// PM1 control: SLP_EN, with SLP_TYP (bits 10-12) 0, the S5 (soft-off) type of QEMU's DSDT.
const PM1_CONTROL_SLEEP_S5: u16 = 1 << 13;

/// How long QEMU gets to act on the soft-off request: it shuts down from its main loop, while
/// the CPU runs on.
const POWEROFF_WAIT_NS: u64 = 1_000_000_000;

/// QEMU's exit code when soft-off did not end the run.
const POWEROFF_FAILED_EXIT_CODE: u8 = 103;

/// Powers the machine off through ACPI soft-off: QEMU exits with status 0. If the machine is
/// still running a second later, exits with a failure status.
pub fn poweroff() -> ! {
    // SAFETY: the port is the PM1a control register the firmware set up; entering S5 is what
    // was asked for.
    unsafe { port::outw(PM1A_CONTROL_PORT, PM1_CONTROL_SLEEP_S5) };
    let deadline = timer::now_ns() + POWEROFF_WAIT_NS;
    while timer::now_ns() < deadline {
        core::hint::spin_loop();
    }
    exit_failure(POWEROFF_FAILED_EXIT_CODE)
}

/// Makes QEMU exit through isa-debug-exit, which exits with `(value << 1) | 1`: status
/// `2 * code + 1` (its low 8 bits), odd and so never success. Panic (101) gives 203, a fatal
/// exception (102) 205.
///
/// Without the device (QEMU run without the board's arguments) the write goes nowhere and the
/// CPU halts.
pub fn exit_failure(code: u8) -> ! {
    // SAFETY: writing isa-debug-exit's port ends QEMU, as asked; on a machine without the
    // device nothing decodes it.
    unsafe { port::outb(DEBUG_EXIT_PORT, code) };
    loop {
        // SAFETY: with interrupts off, `hlt` stops the CPU for good; nothing is left to do.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
