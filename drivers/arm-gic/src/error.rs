//! What can go wrong bringing a GIC up or programming it.

use core::fmt;

use registry::mmio::OutOfWindow;
use registry::wait::TimedOut;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GicError {
    /// A register beyond the window the device tree gave.
    Register(OutOfWindow),
    /// No redistributor in the region has this CPU's affinity (`GICR_TYPER`).
    NoRedistributor { affinity: u32 },
    /// The redistributor did not wake, or a register write did not take effect, in time.
    TimedOut(TimedOut),
    /// `ICC_SRE_EL1.SRE` does not stick: a higher exception level keeps the system register
    /// interface from this one.
    SystemRegistersDisabled,
    /// The system registers of the GICv3 CPU interface exist on aarch64 only.
    NoSystemRegisters,
    /// An INTID this distributor does not have.
    NoSuchLine { intid: u32, lines: u32 },
}

impl fmt::Display for GicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GicError::Register(error) => write!(f, "{error}"),
            GicError::NoRedistributor { affinity } => write!(f, "no redistributor for the CPU with affinity {affinity:#x}"),
            GicError::TimedOut(timeout) => write!(f, "{timeout}"),
            GicError::SystemRegistersDisabled => f.write_str("the GICv3 system register interface is disabled at a higher exception level"),
            GicError::NoSystemRegisters => f.write_str("the GICv3 CPU interface needs aarch64 system registers"),
            GicError::NoSuchLine { intid, lines } => write!(f, "INTID {intid} beyond the {lines} interrupts the GIC has"),
        }
    }
}

impl From<OutOfWindow> for GicError {
    fn from(error: OutOfWindow) -> Self {
        GicError::Register(error)
    }
}

impl From<TimedOut> for GicError {
    fn from(error: TimedOut) -> Self {
        GicError::TimedOut(error)
    }
}
