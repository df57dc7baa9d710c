//! Device status bits (virtio 1.2, section 2.1). The driver only ever adds bits, except for
//! writing 0, which resets the device.

/// The guest OS has noticed the device.
pub const ACKNOWLEDGE: u8 = 1;
/// The guest OS knows how to drive the device.
pub const DRIVER: u8 = 2;
/// The driver is set up and ready to drive the device.
pub const DRIVER_OK: u8 = 4;
/// The driver has acknowledged the features it understands; feature negotiation is complete.
pub const FEATURES_OK: u8 = 8;
/// Set by the device: it hit an error from which it cannot recover without a reset.
pub const DEVICE_NEEDS_RESET: u8 = 64;
/// Set by the driver: something went wrong and it gave up on the device.
pub const FAILED: u8 = 128;
