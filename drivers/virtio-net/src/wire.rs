//! What the device and the driver agree on (virtio 1.2, section 5.1): queue numbers, feature
//! bits, the configuration layout, and the `virtio_net_hdr` before every frame.

use virtio::features::VERSION_1;
use virtio::Negotiated;

/// receiveq1 and transmitq1; no multiqueue, no control queue.
pub(crate) const RX_QUEUE: u16 = 0;
pub(crate) const TX_QUEUE: u16 = 1;

/// The device has a MAC address in its config space.
pub(crate) const F_MAC: u64 = 1 << 5;
/// Mergeable receive buffers: not negotiated (every receive buffer holds a whole frame), but it
/// decides the header size on legacy devices.
pub(crate) const F_MRG_RXBUF: u64 = 1 << 15;
/// The config space's `status` field reports the link state.
pub(crate) const F_STATUS: u64 = 1 << 16;
/// What the driver asks for. No checksum or segmentation offloads: frames are whole and
/// checksummed both ways, so every receive buffer needs room for one Ethernet frame only.
pub(crate) const WANTED_FEATURES: u64 = F_MAC | F_STATUS;

/// `struct virtio_net_config`: `mac[6]`, then `status` (le16).
pub(crate) const CONFIG_MAC: usize = 0;
pub(crate) const CONFIG_STATUS: usize = 6;
pub(crate) const STATUS_LINK_UP: u16 = 1;

/// Offset of `gso_type` in the header (after `flags`).
pub(crate) const HEADER_GSO_TYPE: usize = 1;
pub(crate) const GSO_NONE: u8 = 0;
/// The largest header (with `num_buffers`); a packet buffer reserves this much before the frame.
pub(crate) const MAX_HEADER_LEN: usize = 12;

/// Destination, source, EtherType: the shortest frame that is one.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// The largest frame sent: 1500 bytes of IP MTU plus the Ethernet header (no FCS; no VLAN tag).
pub const MAX_FRAME_LEN: usize = 1514;

/// The size of `struct virtio_net_hdr` (spec 5.1.6): 12 bytes, ending in `num_buffers`, when
/// VERSION_1 or MRG_RXBUF is negotiated; the legacy header without MRG_RXBUF stops before
/// `num_buffers`, at 10 bytes. The device writes exactly this many bytes before each received
/// frame and reads this many before each sent one.
pub(crate) fn header_len(negotiated: &Negotiated) -> usize {
    if negotiated.has(VERSION_1) || negotiated.has(F_MRG_RXBUF) {
        MAX_HEADER_LEN
    } else {
        10
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_12_bytes_unless_legacy_without_mergeable_buffers() {
        let with = |features| header_len(&Negotiated { features });
        assert_eq!(with(VERSION_1 | F_MAC), 12);
        assert_eq!(with(VERSION_1 | F_MRG_RXBUF), 12);
        assert_eq!(with(F_MRG_RXBUF | F_STATUS), 12, "legacy with mergeable buffers");
        assert_eq!(with(F_MAC | F_STATUS), 10, "legacy");
    }
}
