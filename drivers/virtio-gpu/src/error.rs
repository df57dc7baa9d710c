//! What can go wrong between the driver and the GPU, worded for `lsdev` and the shell.

use core::fmt;

use virtio::VirtioError;

use crate::protocol::{command_name, error_name, MAX_SCANOUTS};
use crate::Rect;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuError {
    /// The transport or the virtqueue failed (including a device that lies in the used ring).
    Virtio(VirtioError),
    /// The device answered `command` with an error response (VIRTIO_GPU_RESP_ERR_*).
    Device { command: u32, code: u32 },
    /// The device answered `command` with a response type that does not belong to it.
    UnexpectedResponse { command: u32, response: u32 },
    /// The device wrote fewer bytes than `command`'s response has.
    ShortResponse { command: u32, len: usize, expected: usize },
    /// The config's num_scanouts is outside 1..=16.
    BadScanoutCount(u32),
    /// GET_DISPLAY_INFO reports no enabled scanout.
    NoEnabledScanout,
    /// The enabled scanout's size is empty or beyond what the driver accepts.
    BadDisplaySize { scanout: u32, width: u32, height: u32 },
    /// The control queue has fewer than two entries: no request fits.
    ControlQueueTooSmall(u16),
    /// A rectangle does not fit the framebuffer.
    RectOutOfBounds { rect: Rect, width: u32, height: u32 },
    /// Every request slot is in flight.
    Busy,
}

impl fmt::Display for GpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuError::Virtio(error) => write!(f, "{error}"),
            GpuError::Device { command, code } => {
                write!(f, "device answered {} with {} ({code:#x})", command_name(*command), error_name(*code))
            }
            GpuError::UnexpectedResponse { command, response } => {
                write!(f, "device answered {} with response type {response:#x}", command_name(*command))
            }
            GpuError::ShortResponse { command, len, expected } => {
                write!(f, "device wrote {len} bytes in answer to {}, expected {expected}", command_name(*command))
            }
            GpuError::BadScanoutCount(count) => {
                write!(f, "device reports {count} scanouts, expected 1 to {MAX_SCANOUTS}")
            }
            GpuError::NoEnabledScanout => write!(f, "device reports no enabled scanout"),
            GpuError::BadDisplaySize { scanout, width, height } => {
                write!(f, "scanout {scanout} reports an unusable size {width}x{height}")
            }
            GpuError::ControlQueueTooSmall(size) => write!(f, "control queue of {size} entries is too small"),
            GpuError::RectOutOfBounds { rect, width, height } => write!(
                f,
                "rectangle {}x{} at ({}, {}) is outside the {width}x{height} framebuffer",
                rect.width, rect.height, rect.x, rect.y
            ),
            GpuError::Busy => write!(f, "every control request slot is in flight"),
        }
    }
}

impl From<VirtioError> for GpuError {
    fn from(error: VirtioError) -> Self {
        GpuError::Virtio(error)
    }
}

impl GpuError {
    /// Whether the device broke the protocol, rather than refused a request, was slow, or was
    /// asked for something impossible: the GPU is then marked FAILED and refuses further work.
    pub(crate) fn breaks_device(&self) -> bool {
        match self {
            GpuError::Virtio(VirtioError::TimedOut(_)) => false,
            GpuError::Virtio(_) | GpuError::UnexpectedResponse { .. } | GpuError::ShortResponse { .. } => true,
            _ => false,
        }
    }
}
