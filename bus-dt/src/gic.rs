//! The Arm GIC's interrupt specifier `<type number flags>` (Linux bindings
//! `arm,gic.yaml` and `arm,gic-v3.yaml`), turned into a GIC INTID.

use alloc::format;
use alloc::string::String;

/// Compatibles of GICs whose specifiers follow that binding.
const GIC_COMPATIBLES: &[&str] = &[
    "arm,gic-v3",
    "arm,gic-400",
    "arm,cortex-a15-gic",
    "arm,cortex-a9-gic",
    "arm,cortex-a7-gic",
    "arm,cortex-a5-gic",
    "arm,arm11mp-gic",
    "arm,pl390",
];

/// Whether a `compatible` value (NUL-separated strings) names a GIC.
pub(crate) fn is_gic(compatible: &[u8]) -> bool {
    compatible
        .split(|&b| b == 0)
        .any(|entry| GIC_COMPATIBLES.iter().any(|gic| gic.as_bytes() == entry))
}

/// INTID and label of a GIC specifier, or `None` when it is not one this decodes.
pub(crate) fn decode(specifier: &[u32]) -> Option<(Option<u32>, String)> {
    let [kind, n, flags, ..] = *specifier else {
        return None;
    };
    // Interrupt type: (name, first INTID, how many of that type exist).
    let (name, first, count) = match kind {
        0 => ("SPI", 32, 988),
        1 => ("PPI", 16, 16),
        2 => ("ESPI", 4096, 1024),
        3 => ("EPPI", 1056, 64),
        _ => return None,
    };
    let number = if n < count {
        n.checked_add(first)
    } else {
        None
    };
    let range = if number.is_some() {
        ""
    } else {
        " (out of range)"
    };
    let trigger = match trigger(flags) {
        Some(trigger) => format!(" {trigger}"),
        None => String::new(),
    };
    Some((number, format!("{name} {n}{trigger}{range}")))
}

/// The trigger type in the low four bits of the flags cell; for PPIs on `GICv2`, bits 8-15
/// are a CPU mask and do not matter here.
fn trigger(flags: u32) -> Option<String> {
    let name = match flags & 0xf {
        0 => return None,
        1 => "edge-rising",
        2 => "edge-falling",
        3 => "edge-both",
        4 => "level-high",
        8 => "level-low",
        other => return Some(format!("trigger {other:#x}")),
    };
    Some(String::from(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spis_and_ppis_become_intids() {
        assert_eq!(
            decode(&[0, 1, 4]),
            Some((Some(33), String::from("SPI 1 level-high")))
        );
        assert_eq!(
            decode(&[0, 16, 1]),
            Some((Some(48), String::from("SPI 16 edge-rising")))
        );
        assert_eq!(
            decode(&[1, 14, 0xf08]),
            Some((Some(30), String::from("PPI 14 level-low")))
        );
        assert_eq!(
            decode(&[3, 2, 0]),
            Some((Some(1058), String::from("EPPI 2")))
        );
    }

    #[test]
    fn odd_specifiers_are_not_given_numbers() {
        assert_eq!(
            decode(&[1, 16, 4]),
            Some((None, String::from("PPI 16 level-high (out of range)")))
        );
        assert_eq!(decode(&[0, u32::MAX, 6]).map(|d| d.0), Some(None));
        assert_eq!(decode(&[7, 1, 4]), None);
        assert_eq!(decode(&[0, 1]), None);
    }

    #[test]
    fn compatible_lists_are_searched_whole() {
        assert!(is_gic(b"arm,gic-400\0"));
        assert!(is_gic(b"vendor,thing\0arm,cortex-a15-gic\0"));
        assert!(!is_gic(b"arm,gic-400-not\0"));
        assert!(!is_gic(b""));
    }
}
