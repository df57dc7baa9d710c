//! The kernel console: the board's early UART behind a lock, the `print!`
//! and `println!` macros, and the backend of the `log` crate.
//!
//! Output before [`init`] is dropped.

use boards::Console;
use core::fmt::{self, Write};
use registry::Registry;
use spin::Mutex;

/// The UART kind the boards of this architecture have.
#[cfg(target_arch = "aarch64")]
type Uart = pl011::Pl011;
#[cfg(target_arch = "x86_64")]
type Uart = uart16550::Uart16550<uart16550::PortIo>;

static CONSOLE: Mutex<Option<Uart>> = Mutex::new(None);

/// Sends log records to the console as `[LEVEL] target: message`.
struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

/// Starts the console on the UART `console` names and makes it the `log`
/// backend, letting records up to `max_level` through.
///
/// # Safety
///
/// `console` must name a UART the machine has, that nothing else drives: a
/// PL011 register block mapped as device memory (the boot identity map
/// covers the MMIO of QEMU virt), or the I/O ports of a 16550.
pub unsafe fn init(console: Console, max_level: log::LevelFilter) {
    // SAFETY: the caller vouches for `console`.
    let mut uart = unsafe { open(console) };
    uart.init();
    *CONSOLE.lock() = Some(uart);
    // Fails only if a logger is already set: by an earlier `init`, which
    // installed this same logger.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(max_level);
}

/// The driver for `console`.
///
/// # Safety
///
/// As for [`init`].
unsafe fn open(console: Console) -> Uart {
    match console {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: the caller vouches for the register block.
        Console::Pl011 { base } => unsafe { pl011::Pl011::new(base as usize) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller vouches for the ports.
        Console::Uart16550 { port, .. } => uart16550::Uart16550::new(unsafe { uart16550::PortIo::new(port) }),
        // A board file of this architecture naming another's UART: there is
        // nothing to report on, but the panic's exit status tells.
        other => panic!("console {other:?} cannot be driven on this architecture"),
    }
}

/// Writes formatted text to the console; what `print!` expands to.
#[doc(hidden)]
pub fn print(args: fmt::Arguments) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        // Writing to the UART itself cannot fail.
        let _ = uart.write_fmt(args);
    }
}

/// Writes formatted text even if the console lock is held, for reports
/// after which the kernel never resumes (panic, fatal exception).
pub fn print_fatal(args: fmt::Arguments) {
    let mut console = match CONSOLE.try_lock() {
        Some(console) => console,
        None => {
            // SAFETY: the lock is held by code that this panic or exception
            // interrupted on the only running CPU; the caller never returns
            // to it, so that code never touches the console again.
            unsafe { CONSOLE.force_unlock() };
            CONSOLE.lock()
        }
    };
    if let Some(uart) = console.as_mut() {
        let _ = uart.write_fmt(args);
    }
}

/// Prints to the kernel console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::print(::core::format_args!($($arg)*))
    };
}

/// Prints to the kernel console, with a newline.
#[macro_export]
macro_rules! println {
    () => {
        $crate::print!("\n")
    };
    ($($arg:tt)*) => {
        $crate::console::print(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}

impl log::Log for ConsoleLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            crate::println!(
                "[{}] {}: {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// A byte typed at the console, if one is waiting.
pub fn try_read_byte() -> Option<u8> {
    CONSOLE.lock().as_mut()?.try_read_byte()
}

/// Lets the next byte typed at the console (or one waiting) raise the UART's receive
/// interrupt, which wakes an idle wait; false when the UART has no interrupt, so that the
/// reader must look again on its own. The PL011's interrupt is hooked by its registry driver.
#[cfg(target_arch = "aarch64")]
pub fn arm_receive_interrupt(registry: &mut Registry) -> bool {
    let Console::Pl011 { base } = crate::BOARD.early_console else { return false };
    let mut receive = registry.driver_data::<pl011::ReceiveInterrupt>();
    receive.find(|(_, receive)| receive.phys() == base).map(|(_, receive)| receive.arm()).is_some()
}

/// Lets the next byte typed at the console (or one waiting) raise the UART's receive
/// interrupt, which wakes an idle wait; false when the UART has no interrupt, so that the
/// reader must look again on its own. The 16550's interrupt is hooked by its registry driver
/// (the board's ISA bus lists the console's port).
#[cfg(target_arch = "x86_64")]
pub fn arm_receive_interrupt(registry: &mut Registry) -> bool {
    let Console::Uart16550 { port, .. } = crate::BOARD.early_console else { return false };
    let hooked = registry.driver_data::<uart16550::ReceiveHooked>().any(|(_, hooked)| hooked.port == port);
    if let Some(uart) = CONSOLE.lock().as_mut().filter(|_| hooked) {
        uart.arm_receive_interrupt();
    }
    hooked
}
