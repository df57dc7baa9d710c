//! What the NIC tells about its link: the station address and whether the link is up. The
//! types are the net class's (a device that does not report its link, i.e. has no
//! VIRTIO_NET_F_STATUS, is `Link::Unreported`: the spec says to assume it up).

pub use registry::class::net::{Link, MacAddress};
