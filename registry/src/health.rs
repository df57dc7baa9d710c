//! A bound device's health after its probe: the driver reports a device it gave up on at run
//! time (a ring violation, a timeout, a garbled response), and `lsdev` shows it `failed` with
//! the reason, as it does for a probe that failed.
//!
//! The registry hands each probed device a [`DeviceHealth`] ([`ProbeContext::health`]); the
//! driver keeps a clone with its device state and calls [`fail`](DeviceHealth::fail) where it
//! marks the device failed. Clones share one record, so the registry sees what the driver
//! reported without the driver reaching the registry.
//!
//! [`ProbeContext::health`]: crate::ProbeContext::health

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;

use spin::Once;

/// Whether a bound device still works, as its driver last said. Cheap to clone; the first
/// failure reported is kept (later ones are consequences of it).
#[derive(Clone, Default)]
pub struct DeviceHealth {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// The device's registry path, for the log line; empty for a detached handle.
    path: String,
    failure: Once<String>,
}

impl DeviceHealth {
    /// A handle for the device at `path` (the registry makes one per probe).
    pub(crate) fn for_device(path: &str) -> Self {
        DeviceHealth { shared: Arc::new(Shared { path: String::from(path), failure: Once::new() }) }
    }

    /// A handle no registry reads: for a device driven without one (tests, a kernel's own use).
    pub fn detached() -> Self {
        DeviceHealth::default()
    }

    /// Reports that the driver gave up on the device; `lsdev` shows `failed: REASON` from now
    /// on. Only the first report counts (and is logged): call it from thread context, where the
    /// driver marks its device FAILED, not from an interrupt handler.
    pub fn fail(&self, reason: impl fmt::Display) {
        let mut first = false;
        self.shared.failure.call_once(|| {
            first = true;
            alloc::format!("{reason}")
        });
        if first && !self.shared.path.is_empty() {
            log::warn!("device {} failed: {reason}", self.shared.path);
        }
    }

    /// The reason the device was given up on, if it was.
    pub fn failure(&self) -> Option<&str> {
        self.shared.failure.get().map(String::as_str)
    }

    /// True while no failure was reported.
    pub fn is_ok(&self) -> bool {
        self.failure().is_none()
    }
}

impl fmt::Debug for DeviceHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceHealth").field("path", &self.shared.path).field("failure", &self.failure()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_first_failure() {
        let health = DeviceHealth::for_device("/disk");
        let driver_copy = health.clone();
        assert!(health.is_ok());
        driver_copy.fail("ring violation");
        driver_copy.fail("timed out");
        assert_eq!(health.failure(), Some("ring violation"));
        assert!(!health.is_ok());
        assert!(DeviceHealth::detached().is_ok(), "a new handle shares nothing");
    }
}
