//! The kernel console: a PL011 UART behind a lock, the `print!` and
//! `println!` macros, and the backend of the `log` crate.
//!
//! Output before [`init`] is dropped.

use core::fmt::{self, Write};
use pl011::Pl011;
use spin::Mutex;

static CONSOLE: Mutex<Option<Pl011>> = Mutex::new(None);

/// Sends log records to the console as `[LEVEL] target: message`.
struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

/// Starts the console on the PL011 at `uart_base` and makes it the `log`
/// backend, letting records up to `max_level` through.
///
/// # Safety
///
/// `uart_base` must be the address of a PL011 register block, mapped as
/// device memory (the boot identity map covers the MMIO of QEMU virt), that
/// nothing else drives.
pub unsafe fn init(uart_base: usize, max_level: log::LevelFilter) {
    // SAFETY: the caller vouches for `uart_base`.
    let mut uart = unsafe { Pl011::new(uart_base) };
    uart.init();
    *CONSOLE.lock() = Some(uart);
    // Fails only if a logger is already set: by an earlier `init`, which
    // installed this same logger.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(max_level);
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
