//! Inputs the fuzz targets (fuzz/, `cargo xtask fuzz pci`) found to crash, reduced to the
//! calls that crashed; the raw inputs are kept in fuzz/regressions/pci/ too.

use bus_pci::assign::{HostWindows, Window};
use bus_pci::bar::BarKind;

/// crash-080bd939: a host window near the top of the CPU address space (the device tree's
/// `ranges` says where, whatever it is) and a BAR inside it: the CPU address overflowed u64.
/// Such a BAR has no CPU address.
#[test]
fn a_window_running_past_the_top_of_the_address_space_gives_no_cpu_address() {
    let window = Window { pci_base: 0x1000_0000, cpu_base: u64::MAX - 0xffff, size: 0x100_0000 };
    assert_eq!(window.to_cpu(0x1000_0000, 0x1000), Some(u64::MAX - 0xffff), "the start is still addressable");
    assert_eq!(window.to_cpu(0x1001_0000, 0x1000), None, "past 2^64");
    assert_eq!(window.to_cpu(0x1000_f000, 0x1000), None, "ends exactly at 2^64: its end is not addressable");
    let windows = HostWindows { io: None, memory32: Some(window), memory64: None };
    assert_eq!(windows.to_cpu(BarKind::Memory64, 0x1080_0000, 0x10_0000), None);
}
