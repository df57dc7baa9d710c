//! What can go wrong with a NIC, with reasons clear enough for `lsdev` and the shell.

use core::fmt;

use virtio::VirtioError;

use crate::MacAddress;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetError {
    /// From the virtio core: transport access, setup, or a used ring entry it refused.
    Virtio(VirtioError),
    /// The config space's MAC is multicast or all zeros: no station address.
    MacNotUnicast(MacAddress),
    /// The device reported a received buffer with fewer bytes than a header and an Ethernet header.
    ReceivedTooShort { len: u32, header_len: usize },
    /// A received header asks for segmentation, which was never negotiated.
    ReceivedSegmentationOffload { gso_type: u8 },
    /// A frame to send that is shorter than an Ethernet header or longer than the largest frame.
    FrameLength { len: usize },
    /// Every transmit buffer is in flight (only ever returned where one was promised).
    NoTransmitBuffer,
}

impl From<VirtioError> for NetError {
    fn from(error: VirtioError) -> Self {
        NetError::Virtio(error)
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Virtio(error) => write!(f, "{error}"),
            NetError::MacNotUnicast(mac) => write!(f, "device MAC {mac} is not a unicast address"),
            NetError::ReceivedTooShort { len, header_len } => write!(
                f,
                "device reported a {len}-byte receive, shorter than the {header_len}-byte header and an Ethernet header"
            ),
            NetError::ReceivedSegmentationOffload { gso_type } => {
                write!(f, "device delivered a segmentation-offload frame (gso_type {gso_type}), never negotiated")
            }
            NetError::FrameLength { len } => write!(f, "cannot send a {len}-byte frame"),
            NetError::NoTransmitBuffer => write!(f, "no free transmit buffer"),
        }
    }
}
