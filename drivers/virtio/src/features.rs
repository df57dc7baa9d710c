//! Transport feature bits (virtio 1.2, section 6) as masks, and the core's part of feature
//! negotiation: drivers ask for device-specific bits, the core decides the transport bits.

use crate::VirtioError;

/// Indirect descriptors (not implemented by this core: never accepted).
pub const RING_INDIRECT_DESC: u64 = 1 << 28;
/// used_event / avail_event notification suppression (spec 2.7.7, 2.7.10). The core's queues
/// implement it for every driver, so it is accepted whenever the device offers it.
pub const RING_EVENT_IDX: u64 = 1 << 29;
/// The device complies with virtio 1.0 or later; required on modern transports.
pub const VERSION_1: u64 = 1 << 32;
/// The device reaches memory through the platform's translation (an IOMMU). The core only ever
/// hands the device addresses the platform gave it, so it accepts this whenever it is offered.
pub const ACCESS_PLATFORM: u64 = 1 << 33;
/// The packed virtqueue layout (not implemented: never accepted).
pub const RING_PACKED: u64 = 1 << 34;

/// Ring features the core's split virtqueue does not implement.
const NOT_IMPLEMENTED: u64 = RING_INDIRECT_DESC | RING_PACKED;
/// A legacy interface has 32 feature bits.
const LEGACY_FEATURES: u64 = 0xffff_ffff;

/// The features to write back: what the driver wants and the device offers, minus what the core
/// cannot do, plus the transport bits the core requires or supports ([`RING_EVENT_IDX`] on
/// either interface, its bit being below 32).
///
/// A modern device must offer [`VERSION_1`]. A legacy device has no such bit (it predates it):
/// the core accepts neither it nor any other bit above 31 there, since the legacy interface
/// cannot carry them.
pub(crate) fn negotiate(offered: u64, wanted: u64, legacy: bool) -> Result<u64, VirtioError> {
    let common = offered & wanted & !NOT_IMPLEMENTED | offered & RING_EVENT_IDX;
    if legacy {
        return Ok(common & LEGACY_FEATURES);
    }
    if offered & VERSION_1 == 0 {
        return Err(VirtioError::Version1NotOffered { offered });
    }
    Ok(common | VERSION_1 | (offered & ACCESS_PLATFORM))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE_BIT: u64 = 1 << 5;

    #[test]
    fn modern_devices_must_offer_version_1_and_always_get_it() {
        assert_eq!(negotiate(DEVICE_BIT, DEVICE_BIT, false), Err(VirtioError::Version1NotOffered { offered: DEVICE_BIT }));
        assert_eq!(negotiate(VERSION_1 | DEVICE_BIT, DEVICE_BIT, false), Ok(VERSION_1 | DEVICE_BIT));
        assert_eq!(negotiate(VERSION_1 | ACCESS_PLATFORM, 0, false), Ok(VERSION_1 | ACCESS_PLATFORM));
    }

    #[test]
    fn unimplemented_ring_features_and_unwanted_bits_are_dropped() {
        let offered = VERSION_1 | NOT_IMPLEMENTED | DEVICE_BIT | 1;
        assert_eq!(negotiate(offered, NOT_IMPLEMENTED | DEVICE_BIT, false), Ok(VERSION_1 | DEVICE_BIT));
    }

    #[test]
    fn event_idx_is_taken_whenever_offered_without_the_driver_asking() {
        assert_eq!(negotiate(VERSION_1 | RING_EVENT_IDX, 0, false), Ok(VERSION_1 | RING_EVENT_IDX));
        assert_eq!(negotiate(RING_EVENT_IDX | DEVICE_BIT, DEVICE_BIT, true), Ok(RING_EVENT_IDX | DEVICE_BIT));
        assert_eq!(negotiate(VERSION_1, RING_EVENT_IDX, false), Ok(VERSION_1), "not offered, not taken");
    }

    #[test]
    fn legacy_devices_never_get_version_1_or_high_bits() {
        let offered = VERSION_1 | (1 << 40) | DEVICE_BIT;
        assert_eq!(negotiate(offered, u64::MAX, true), Ok(DEVICE_BIT));
        assert_eq!(negotiate(DEVICE_BIT, DEVICE_BIT, true), Ok(DEVICE_BIT));
    }
}
