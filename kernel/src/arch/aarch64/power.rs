//! Ending the run: PSCI power off (QEMU exits with status 0) and the
//! semihosting exit call (QEMU exits with the given status).

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

/// PSCI `SYSTEM_OFF` function id (SMC calling convention, 32-bit call).
const PSCI_SYSTEM_OFF: u32 = 0x8400_0008;

/// Semihosting `SYS_EXIT_EXTENDED`: exit with a reason and a status code.
const SEMIHOSTING_SYS_EXIT_EXTENDED: u32 = 0x20;
/// Semihosting exit reason `ADP_Stopped_ApplicationExit`: the program ended
/// with the status code that follows it.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Whether PSCI calls go through `smc` rather than `hvc`.
///
/// QEMU implements PSCI itself, through the conduit that the DT `/psci` node
/// names: `hvc` normally, `smc` when EL2 is emulated (`virtualization=on`),
/// as an `hvc` would then go to the EL2 we left behind.
static PSCI_USES_SMC: AtomicBool = AtomicBool::new(false);

/// Picks the PSCI conduit from the exception level the loader entered the
/// kernel at.
pub(super) fn select_psci_conduit(boot_el: u64) {
    PSCI_USES_SMC.store(boot_el >= 2, Ordering::Relaxed);
}

/// Powers the machine off through PSCI `SYSTEM_OFF`: QEMU exits with status 0.
pub fn poweroff() -> ! {
    // SAFETY: SYSTEM_OFF takes no arguments in memory and does not return
    // when it succeeds; `clobber_abi` covers the registers the SMC calling
    // convention lets the call change.
    unsafe {
        if PSCI_USES_SMC.load(Ordering::Relaxed) {
            asm!("smc #0", inout("w0") PSCI_SYSTEM_OFF => _, clobber_abi("C"), options(nomem, nostack));
        } else {
            asm!("hvc #0", inout("w0") PSCI_SYSTEM_OFF => _, clobber_abi("C"), options(nomem, nostack));
        }
    }
    park()
}

/// Makes QEMU exit with status `code`, through the semihosting
/// `SYS_EXIT_EXTENDED` call.
///
/// Needs QEMU's `-semihosting` flag; without it the call is an undefined
/// instruction, which the exception vectors report before powering off
/// (status 0).
pub fn exit_failure(code: u8) -> ! {
    let parameters: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, u64::from(code)];
    // SAFETY: the semihosting trap (`hlt #0xf000`, w0 = operation, x1 =
    // parameter block) only reads the two-word block, which lives on this
    // stack frame across the call; QEMU ends the process and does not return.
    unsafe {
        asm!(
            "hlt #0xf000",
            inout("w0") SEMIHOSTING_SYS_EXIT_EXTENDED => _,
            in("x1") parameters.as_ptr(),
            options(nostack, readonly),
        );
    }
    park()
}

/// Where the CPU waits if power off returns, which it does not on QEMU.
fn park() -> ! {
    loop {
        // SAFETY: `wfe` only pauses the CPU until an event.
        unsafe { asm!("wfe", options(nomem, nostack, preserves_flags)) };
    }
}
