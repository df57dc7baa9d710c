//! ACPI tables (RSDP, RSDT/XSDT, MADT, MCFG) through the `Memory` trait over the fuzzer's
//! bytes; see `fuzz::acpi` for how the image is laid out.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz::acpi::run(data));
