//! Everything that can go wrong between a virtio driver and its device, with reasons clear
//! enough to show in `lsdev`.

use core::fmt;

use registry::mmio::OutOfWindow;
use registry::wait::TimedOut;
use registry::PlatformError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VirtioError {
    // Transport discovery and access.
    /// The virtio-mmio magic value is wrong: no virtio device behind the window.
    BadMagic(u32),
    UnsupportedMmioVersion(u32),
    /// The register window cannot hold the virtio-mmio registers.
    WindowTooSmall { size: usize },
    Register(OutOfWindow),
    /// A virtio-pci function without the modern capability `what` (common/notify/ISR config).
    PciCapabilityMissing(&'static str),
    /// A virtio-pci capability that points outside its BAR or is malformed.
    PciCapabilityInvalid { offset: u16, reason: &'static str },
    /// A legacy virtio-pci function's I/O BAR 0 that cannot be reached.
    IoBarUnusable(&'static str),
    ConfigOutOfRange { offset: usize, width: usize, size: usize },
    ConfigMisaligned { offset: usize, width: usize },
    /// The config generation changed during every attempt to read a consistent snapshot.
    ConfigUnstable { attempts: u32 },
    /// Reset or a completion did not happen in time.
    TimedOut(TimedOut),

    // Initialisation.
    Version1NotOffered { offered: u64 },
    /// FEATURES_OK did not stick: the device does not support the accepted set.
    FeaturesRefused(u64),
    QueueNotAvailable(u16),
    QueueInUse(u16),
    /// The device did not take an MSI-X vector (it read back NO_VECTOR): for the queue, or
    /// for configuration changes when `None`.
    VectorRefused { queue: Option<u16>, vector: u16 },
    /// The device reports a queue size that is not a power of two (legacy virtio-pci, whose
    /// queue sizes are the device's to choose).
    QueueSizeInvalid { queue: u16, size: u16 },
    /// A queue of `wanted` entries on a device whose queue size is fixed at `device`
    /// (legacy virtio-pci).
    QueueSizeFixed { queue: u16, device: u16, wanted: u16 },
    /// The driver asked for a queue of zero entries.
    ZeroQueueSize(u16),
    /// The legacy interface locates a queue by a 32-bit page frame number.
    LegacyAddressTooHigh { queue: u16, phys: u64 },
    /// Queue addresses a legacy device would not compute from the page frame number.
    LegacyLayoutMismatch { queue: u16 },
    /// The queue's rings could not be allocated.
    Dma(PlatformError),
    /// Memory other than the rings (packet buffers, a framebuffer, a register window to map)
    /// could not be had: `what` it was for, and the platform's reason.
    Memory { what: &'static str, error: PlatformError },
    /// The driver's own bookkeeping (not DMA memory) could not be allocated.
    OutOfMemory { what: &'static str, bytes: usize },

    // Adding buffers (driver-side mistakes or a full queue).
    EmptyChain,
    /// A device-readable buffer follows a device-writable one (the spec forbids it).
    ReadableAfterWritable,
    ChainTooLong { descriptors: usize, size: u16 },
    /// The chain's device-writable part exceeds what a used length can report (4 GiB).
    ChainTooLarge,
    QueueFull { needed: usize, free: u16 },

    // What the device wrote back (the device is broken after any of these).
    UsedIdOutOfRange { id: u32, size: u16 },
    UsedIdNotInFlight { id: u16 },
    UsedLenTooLong { id: u16, len: u32, capacity: u32 },
    UsedIndexAhead { moved: u16, in_flight: u16, size: u16 },
}

impl fmt::Display for VirtioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VirtioError::BadMagic(magic) => write!(f, "bad magic {magic:#010x}, not a virtio-mmio device"),
            VirtioError::UnsupportedMmioVersion(version) => write!(f, "unsupported virtio-mmio version {version}"),
            VirtioError::WindowTooSmall { size } => write!(f, "register window of {size:#x} bytes is too small"),
            VirtioError::Register(outside) => write!(f, "{outside}"),
            VirtioError::PciCapabilityMissing(what) => write!(f, "no virtio-pci {what} capability (legacy-only device?)"),
            VirtioError::PciCapabilityInvalid { offset, reason } => {
                write!(f, "virtio-pci capability at {offset:#x}: {reason}")
            }
            VirtioError::IoBarUnusable(why) => write!(f, "legacy virtio-pci I/O BAR 0 {why}"),
            VirtioError::ConfigOutOfRange { offset, width, size } => write!(
                f,
                "config access at {offset:#x} (width {width}) beyond the device's {size}-byte config space"
            ),
            VirtioError::ConfigMisaligned { offset, width } => {
                write!(f, "config access at {offset:#x} is not aligned to its width {width}")
            }
            VirtioError::ConfigUnstable { attempts } => {
                write!(f, "config generation changed during each of {attempts} reads")
            }
            VirtioError::TimedOut(timeout) => write!(f, "{timeout}"),
            VirtioError::Version1NotOffered { offered } => {
                write!(f, "device does not offer VIRTIO_F_VERSION_1 (offered {offered:#x})")
            }
            VirtioError::FeaturesRefused(features) => write!(f, "device refused features {features:#x}"),
            VirtioError::QueueNotAvailable(queue) => write!(f, "queue {queue} not available"),
            VirtioError::QueueInUse(queue) => write!(f, "queue {queue} is already in use"),
            VirtioError::VectorRefused { queue: Some(queue), vector } => write!(f, "queue {queue}: MSI-X vector {vector} refused"),
            VirtioError::VectorRefused { queue: None, vector } => write!(f, "configuration changes: MSI-X vector {vector} refused"),
            VirtioError::QueueSizeInvalid { queue, size } => {
                write!(f, "queue {queue}: device reports size {size}, not a power of two")
            }
            VirtioError::QueueSizeFixed { queue, device, wanted } => {
                write!(f, "queue {queue}: {wanted} entries asked for, the device's size is fixed at {device}")
            }
            VirtioError::ZeroQueueSize(queue) => write!(f, "queue {queue} requested with 0 entries"),
            VirtioError::LegacyAddressTooHigh { queue, phys } => {
                write!(f, "queue {queue} at {phys:#x} is beyond a legacy device's 32-bit page frame number")
            }
            VirtioError::LegacyLayoutMismatch { queue } => {
                write!(f, "queue {queue} does not follow the legacy contiguous ring layout")
            }
            VirtioError::Dma(error) => write!(f, "queue memory: {error}"),
            VirtioError::Memory { what, error } => write!(f, "{what}: {error}"),
            VirtioError::OutOfMemory { what, bytes } => write!(f, "out of memory for {what} ({bytes} bytes)"),
            VirtioError::EmptyChain => write!(f, "descriptor chain without buffers"),
            VirtioError::ReadableAfterWritable => {
                write!(f, "device-readable buffer after a device-writable one in a descriptor chain")
            }
            VirtioError::ChainTooLong { descriptors, size } => {
                write!(f, "chain of {descriptors} descriptors does not fit a queue of {size}")
            }
            VirtioError::ChainTooLarge => write!(f, "chain's device-writable buffers exceed 4 GiB"),
            VirtioError::QueueFull { needed, free } => {
                write!(f, "queue full: chain needs {needed} descriptors, {free} free")
            }
            VirtioError::UsedIdOutOfRange { id, size } => {
                write!(f, "device reported used id {id} beyond queue size {size}")
            }
            VirtioError::UsedIdNotInFlight { id } => {
                write!(f, "device reported used id {id}, which is not the head of a chain in flight")
            }
            VirtioError::UsedLenTooLong { id, len, capacity } => write!(
                f,
                "device reported {len} bytes written to chain {id}, which has {capacity} device-writable bytes"
            ),
            VirtioError::UsedIndexAhead { moved, in_flight, size } if moved > size => {
                write!(f, "used index moved by {moved}, more than queue size {size} ({in_flight} in flight)")
            }
            VirtioError::UsedIndexAhead { moved, in_flight, .. } => {
                write!(f, "used index moved by {moved}, but only {in_flight} in flight")
            }
        }
    }
}

impl From<OutOfWindow> for VirtioError {
    fn from(outside: OutOfWindow) -> Self {
        VirtioError::Register(outside)
    }
}
