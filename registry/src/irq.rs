//! Interrupts as drivers see them: a handler per line, per-line counters for `lsdev`, and the
//! errors a platform's interrupt hookup can give.
//!
//! A driver asks for the interrupt its device resource names with
//! [`ProbeContext::request_irq`](crate::ProbeContext::request_irq); the kernel integrator's
//! [`Platform::request_irq`](crate::Platform::request_irq) routes it through the interrupt
//! controller and calls the handler from its interrupt path, counting what the handler says.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

/// What a handler found when its line fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// The device had something to report, and the handler acknowledged it.
    Handled,
    /// Nothing to report (a shared line, or a spurious interrupt).
    NotMine,
}

/// Runs in interrupt context: must not block or take locks the interrupted code may hold.
pub type IrqHandler = Box<dyn FnMut() -> IrqReturn + Send>;

/// How often a device's interrupt fired, shown by `lsdev` like `/proc/interrupts`.
#[derive(Debug, Default)]
pub struct IrqStats {
    handled: AtomicU64,
    spurious: AtomicU64,
}

impl IrqStats {
    /// Records one interrupt and what the handler said about it.
    pub fn record(&self, outcome: IrqReturn) {
        let counter = match outcome {
            IrqReturn::Handled => &self.handled,
            IrqReturn::NotMine => &self.spurious,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    pub fn spurious(&self) -> u64 {
        self.spurious.load(Ordering::Relaxed)
    }
}

/// Why an interrupt could not be hooked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IrqError {
    /// The platform has no interrupt support: the driver polls instead.
    Unsupported,
    /// The line's controller has not been probed yet: the probe is deferred.
    ControllerNotReady(String),
    /// The line cannot be used (unknown controller, number out of range, already taken).
    Invalid(String),
}

impl fmt::Display for IrqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IrqError::Unsupported => f.write_str("the platform has no interrupt support"),
            IrqError::ControllerNotReady(controller) => write!(f, "interrupt controller {controller} is not ready"),
            IrqError::Invalid(reason) => write!(f, "interrupt not usable: {reason}"),
        }
    }
}
