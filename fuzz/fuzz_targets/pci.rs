//! A simulated PCI configuration space from the fuzzer's bytes: enumeration, BAR sizing and
//! assignment, capability walks, MSI-X table lookup (see `fuzz::pci`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz::pci::run(data));
