//! Interrupt lines as the GIC device-tree binding describes them: `<type number flags>`, type 0
//! a shared peripheral interrupt (SPI, INTID 32 + number), type 1 a private one (PPI, INTID
//! 16 + number), the trigger in the low four bits of the flags.

use alloc::format;
use alloc::string::String;

use registry::Irq;

/// The first SPI's INTID; INTIDs below are private to each CPU (SGIs and PPIs).
pub const FIRST_SPI: u32 = 32;
const FIRST_PPI: u32 = 16;
const PPIS: u32 = 16;
/// INTIDs 1020-1023 are special (1023: no interrupt pending); SPIs end below them. (GICv3's
/// LPIs start at 8192: [`FIRST_LPI`](crate::FIRST_LPI).)
pub const FIRST_SPECIAL: u32 = 1020;

/// How a line signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Asserted until the device is acknowledged.
    Level,
    /// One interrupt per rising edge.
    Edge,
}

/// One GIC interrupt, ready for [`Gic::enable`](crate::Gic::enable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line {
    pub intid: u32,
    /// Programmed for SPIs only; a PPI's trigger is fixed by the CPU's design.
    pub trigger: Trigger,
}

impl Line {
    /// The private (per-CPU) interrupt `number` (0-15), e.g. the virtual timer's PPI 11.
    pub fn ppi(number: u32) -> Option<Line> {
        (number < PPIS).then_some(Line { intid: FIRST_PPI + number, trigger: Trigger::Level })
    }

    /// The line a GIC specifier names, if it is an SPI or PPI with a trigger the GIC has. SPIs
    /// are level-high or rising-edge only (an inverted line needs an inverter the GIC lacks);
    /// no trigger given means level.
    pub(crate) fn from_specifier(irq: &Irq) -> Result<Line, String> {
        let [kind, number, flags] = *irq.cells.as_slice() else {
            return Err(format!("{}: a GIC interrupt has three cells, not {}", irq.label, irq.cells.len()));
        };
        match kind {
            1 => Line::ppi(number).ok_or_else(|| format!("PPI {number} does not exist")),
            0 => {
                let trigger = match flags & 0xf {
                    0 | 4 => Trigger::Level,
                    1 => Trigger::Edge,
                    other => return Err(format!("{}: trigger {other:#x} is not one a GIC SPI has", irq.label)),
                };
                let intid = number.checked_add(FIRST_SPI).filter(|&intid| intid < FIRST_SPECIAL);
                let intid = intid.ok_or_else(|| format!("SPI {number} does not exist"))?;
                Ok(Line { intid, trigger })
            }
            other => Err(format!("{}: interrupt type {other} (extended ranges) is not supported", irq.label)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn irq(cells: &[u32]) -> Irq {
        Irq { controller: "/intc".into(), cells: cells.to_vec(), number: None, label: "test".into() }
    }

    #[test]
    fn specifiers_become_lines_with_their_trigger() {
        assert_eq!(Line::from_specifier(&irq(&[0, 1, 4])), Ok(Line { intid: 33, trigger: Trigger::Level }));
        assert_eq!(Line::from_specifier(&irq(&[0, 16, 1])), Ok(Line { intid: 48, trigger: Trigger::Edge }));
        assert_eq!(Line::from_specifier(&irq(&[0, 3, 0])), Ok(Line { intid: 35, trigger: Trigger::Level }));
        assert_eq!(Line::from_specifier(&irq(&[1, 11, 0xf08])), Ok(Line { intid: 27, trigger: Trigger::Level }));
    }

    #[test]
    fn what_a_gic_cannot_signal_is_refused_with_the_reason() {
        let refused = |cells: &[u32]| Line::from_specifier(&irq(cells)).unwrap_err();
        assert_eq!(refused(&[0, 1, 8]), "test: trigger 0x8 is not one a GIC SPI has");
        assert_eq!(refused(&[0, 2, 2]), "test: trigger 0x2 is not one a GIC SPI has");
        assert_eq!(refused(&[0, 988, 4]), "SPI 988 does not exist");
        assert_eq!(refused(&[0, u32::MAX, 4]), "SPI 4294967295 does not exist");
        assert_eq!(refused(&[1, 16, 4]), "PPI 16 does not exist");
        assert_eq!(refused(&[2, 0, 4]), "test: interrupt type 2 (extended ranges) is not supported");
        assert_eq!(refused(&[0, 1]), "test: a GIC interrupt has three cells, not 2");
    }
}
