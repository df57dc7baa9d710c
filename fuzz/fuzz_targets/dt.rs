//! The device-tree parser and bus enumeration over arbitrary bytes (seeded with the real DTBs of
//! tests/dtb), then driver matching and the lsdev renderings, as the host `lsdev` runs them:
//! errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(registry) = lsdev::plan_dtb(data) {
        let _ = registry::lsdev::text(&registry);
        let _ = registry::lsdev::json(&registry);
        let _ = registry::lsdev::interrupts(&registry);
    }
});
