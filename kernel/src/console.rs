//! The kernel console: the board's early UART behind a lock, the `print!`
//! and `println!` macros, and the backend of the `log` crate.
//!
//! Output before [`init`] is dropped. Until the registry has probed, the console drives the
//! board's UART itself (the early handle); [`attach`] then moves it onto that UART's serial
//! class instance (`ttyS0`), which reads, writes and arms the receive interrupt from then on.
//! Reports after which the kernel never resumes ([`print_fatal`]) keep using the early handle,
//! which takes no lock of the driver's.

use alloc::sync::Arc;
use boards::Console;
use core::fmt::{self, Write};
use registry::class::SerialPort;
use registry::{Class, DeviceNode, Registry};
use spin::Mutex;

/// The UART kind the boards of this architecture have.
#[cfg(target_arch = "aarch64")]
type Uart = pl011::Pl011;
#[cfg(target_arch = "x86_64")]
type Uart = uart16550::Uart16550<uart16550::PortIo>;

static CONSOLE: Mutex<Option<Uart>> = Mutex::new(None);
/// The console UART's serial class instance, once [`attach`] found it.
static PORT: Mutex<Option<Arc<dyn SerialPort>>> = Mutex::new(None);

/// Writes text to a serial class port, turning each `\n` into `\r\n` as terminals expect.
struct PortWriter<'a>(&'a dyn SerialPort);

impl Write for PortWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.0.write(b"\r\n");
            }
            self.0.write(line.as_bytes());
        }
        Ok(())
    }
}

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

/// Moves the console onto the serial class instance of the board's console UART, if a driver
/// published one; returns its instance name. Called once the registry has probed.
pub fn attach(registry: &Registry) -> Option<alloc::string::String> {
    let node = registry.devices().find(|node| node.class == Some(Class::Serial) && is_console(node))?;
    let port = registry.instance::<dyn SerialPort>(&node.path)?;
    // Taken in the order `print` takes them, so no output interleaves with the switch.
    let _early = CONSOLE.lock();
    *PORT.lock() = Some(port.device);
    Some(port.name)
}

/// Whether `node` is the UART the board names as its console.
fn is_console(node: &DeviceNode) -> bool {
    match crate::BOARD.early_console {
        Console::Pl011 { base } => node.regions.first().is_some_and(|region| region.base == base),
        #[cfg(target_arch = "x86_64")]
        Console::Uart16550 { port, .. } => node.address == crate::isa::serial_address(port),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Writes formatted text to the console; what `print!` expands to.
#[doc(hidden)]
pub fn print(args: fmt::Arguments) {
    let early = CONSOLE.lock();
    if let Some(port) = PORT.lock().as_deref() {
        // Writing to the UART itself cannot fail.
        let _ = PortWriter(port).write_fmt(args);
        return;
    }
    let mut early = early;
    if let Some(uart) = early.as_mut() {
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
    let mut early = CONSOLE.lock();
    if let Some(port) = PORT.lock().as_deref() {
        let mut byte = [0];
        return (port.read(&mut byte) == 1).then_some(byte[0]);
    }
    early.as_mut()?.try_read_byte()
}

/// Lets the next byte typed at the console (or one waiting) raise the UART's receive
/// interrupt, which wakes an idle wait; false when the UART has no interrupt (or the console
/// is not attached to its serial class instance yet), so that the reader must look again on
/// its own. The interrupt is hooked by the UART's registry driver.
pub fn arm_receive_interrupt() -> bool {
    PORT.lock().as_deref().is_some_and(|port| port.arm_receive_interrupt())
}
