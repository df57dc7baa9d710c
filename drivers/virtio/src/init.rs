//! Device initialisation (virtio 1.2, section 3.1), shared by every driver:
//! [`init_device`] does steps 1-6, the driver sets up its queues (step 7), [`finish_init`] does
//! step 8. Any failure leaves the device marked FAILED.

use registry::Platform;

use crate::features::{self, VERSION_1};
use crate::status::{ACKNOWLEDGE, DRIVER, DRIVER_OK, FAILED, FEATURES_OK};
use crate::{Transport, VirtioError};

/// The outcome of feature negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The features both sides agreed on, as written to the device.
    pub features: u64,
}

impl Negotiated {
    /// Whether every bit of `mask` was negotiated.
    pub fn has(&self, mask: u64) -> bool {
        self.features & mask == mask
    }

    /// True when the device runs its legacy interface (no VERSION_1): legacy layouts apply to
    /// device-specific structures too (e.g. the virtio-net header).
    pub fn is_legacy(&self) -> bool {
        !self.has(VERSION_1)
    }
}

/// Resets the device and negotiates features: `wanted_features` are the device-specific bits the
/// driver supports; the core adds the transport bits (VERSION_1 on modern transports) and drops
/// ring features it does not implement. On return the driver sets up its queues, then calls
/// [`finish_init`]. On error the device is marked FAILED.
pub fn init_device(
    transport: &mut dyn Transport,
    wanted_features: u64,
    platform: &dyn Platform,
) -> Result<Negotiated, VirtioError> {
    let negotiated = reset_and_negotiate(transport, wanted_features, platform);
    if negotiated.is_err() {
        fail_device(transport);
    }
    negotiated
}

fn reset_and_negotiate(
    transport: &mut dyn Transport,
    wanted_features: u64,
    platform: &dyn Platform,
) -> Result<Negotiated, VirtioError> {
    transport.reset(platform)?;
    add_status(transport, ACKNOWLEDGE)?;
    add_status(transport, DRIVER)?;
    let offered = transport.read_device_features()?;
    let features = features::negotiate(offered, wanted_features, transport.is_legacy())?;
    transport.write_driver_features(features)?;
    // Legacy devices have no FEATURES_OK step (spec 3.1.2); they accept what they offered.
    if !transport.is_legacy() {
        add_status(transport, FEATURES_OK)?;
        if transport.get_status()? & FEATURES_OK == 0 {
            return Err(VirtioError::FeaturesRefused(features));
        }
    }
    Ok(Negotiated { features })
}

/// Sets DRIVER_OK once the queues are set up: the device is live. On error the device is
/// marked FAILED.
pub fn finish_init(transport: &mut dyn Transport) -> Result<(), VirtioError> {
    let done = add_status(transport, DRIVER_OK);
    if done.is_err() {
        fail_device(transport);
    }
    done
}

/// Marks the device FAILED: the driver gave up on it (after any error from the device or from
/// setting it up). Best effort: a device that cannot even take this write is beyond help.
pub fn fail_device(transport: &mut dyn Transport) {
    if add_status(transport, FAILED).is_err() {
        // The read failed; set FAILED on its own rather than not at all.
        let _ = transport.set_status(FAILED);
    }
}

/// Adds `bits` to the device status: read, or, write back, as the spec's "set the bit" means.
fn add_status(transport: &mut dyn Transport, bits: u8) -> Result<(), VirtioError> {
    let current = transport.get_status()?;
    transport.set_status(current | bits)
}
