//! The panic handler: report on the console, then exit QEMU with a failure
//! status.

use core::panic::PanicInfo;

/// QEMU's exit status after a panic (needs `-semihosting`).
const PANIC_EXIT_CODE: u8 = 101;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    // `info` reads "panicked at FILE:LINE:COLUMN:\nMESSAGE".
    crate::console::print_fatal(format_args!("\nPANIC: {info}\n"));
    crate::arch::exit_failure(PANIC_EXIT_CODE)
}
