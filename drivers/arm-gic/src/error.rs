//! What can go wrong bringing a GIC up or programming it.

use alloc::string::String;
use core::fmt;
use core::ops::Range;

use registry::mmio::OutOfWindow;
use registry::wait::TimedOut;
use registry::PlatformError;

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
    /// An LPI INTID (8192 and up) outside the LPIs the GIC hands out (`handed_out`, empty
    /// while no ITS has set LPIs up).
    NoSuchLpi { intid: u32, handed_out: Range<u32> },
    /// The GIC cannot serve LPIs, and why (no support, too few INTID bits, LPIs already on).
    NoLpis(String),
    /// Memory for the GIC's tables or command queue could not be had.
    Dma(PlatformError),
    /// The ITS cannot be used as it is, and why (no physical LPIs, a table it cannot take).
    Its(String),
    /// The ITS stopped processing commands on an error (`GITS_CREADR.Stalled`), at the command
    /// at `offset` in the queue.
    ItsStalled { command: &'static str, offset: usize },
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
            GicError::NoSuchLpi { intid, handed_out } if handed_out.is_empty() => {
                write!(f, "INTID {intid} is an LPI, and no ITS has set LPIs up")
            }
            GicError::NoSuchLpi { intid, handed_out } => {
                write!(f, "LPI {intid} is not one of the LPIs {}-{} the GIC hands out", handed_out.start, handed_out.end - 1)
            }
            GicError::NoLpis(reason) => write!(f, "no LPIs: {reason}"),
            GicError::Dma(error) => write!(f, "{error}"),
            GicError::Its(reason) => f.write_str(reason),
            GicError::ItsStalled { command, offset } => {
                write!(f, "the ITS stalled on the {command} command at queue offset {offset:#x} (GITS_CREADR.Stalled)")
            }
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
