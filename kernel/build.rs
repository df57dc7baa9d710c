//! Hands the target architecture's linker script to the linker.
//!
//! The kernel is a bare-metal image whose load address and section layout
//! the boot protocol fixes, so it cannot use the linker's default layout.

use std::env;
use std::path::PathBuf;

fn main() {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = match arch.as_str() {
        "aarch64" => manifest_dir.join("src/arch/aarch64/link.ld"),
        "x86_64" => {
            // x86_64-unknown-none links a static PIE by default, whose relocations nothing
            // would apply: QEMU loads the segments where they are linked and jumps in. The
            // 32-bit entry code needs absolute addresses too.
            println!("cargo:rustc-link-arg-bins=--no-pie");
            manifest_dir.join("src/arch/x86_64/link.ld")
        }
        // Other architectures get their own script beside their arch code.
        _ => return,
    };
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
}
