//! Builds the test kernel for a board with Debian's Rust (the rustup toolchain here has only the
//! host target) and turns it into what QEMU's `-kernel` wants.

use std::path::PathBuf;
use std::process::Command;

use boards::{Board, KernelFormat};

use crate::{fail, workspace_root, XtaskResult};

/// Builds the kernel and returns the file to boot.
pub fn build(board: &Board) -> XtaskResult<PathBuf> {
    build_with_features(board, &[])
}

/// Builds the kernel with extra cargo `features` of the test kernel (e.g. the bench's
/// `virtio-drivers-peer`) and returns the file to boot. Each feature set has its own target
/// directory, so builds with and without features do not keep rebuilding over each other.
pub fn build_with_features(board: &Board, features: &[&str]) -> XtaskResult<PathBuf> {
    let root = workspace_root();
    let target_dir = root.join("target").join(["kernel"].iter().chain(features).copied().collect::<Vec<_>>().join("-"));
    eprintln!(
        "xtask: building the test kernel for {} ({}); the first build also compiles core and alloc",
        board.name, board.target
    );
    let mut cargo = Command::new("/usr/bin/cargo");
    // The outer `cargo xtask` (rustup's cargo) exports its own toolchain settings; the inner
    // build must see only Debian's.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO") || key.starts_with("RUSTUP") || key.starts_with("RUSTC") || key == "RUSTFLAGS" {
            cargo.env_remove(key);
        }
    }
    cargo.args(["build", "--release", "--package", "test-kernel", "--target", board.target]);
    // Boards that share a target are told apart by a feature of the kernel.
    for feature in board.kernel_feature.iter().chain(features) {
        cargo.args(["--features", feature]);
    }
    let status = cargo
        .current_dir(&root)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        // Debian's rust-lld may point at an lld that is not installed; ld.lld (package lld) is.
        .env(format!("CARGO_TARGET_{}_LINKER", board.target.to_uppercase().replace('-', "_")), "/usr/bin/ld.lld")
        .args(["-Zbuild-std=core,alloc", "-Zbuild-std-features=compiler-builtins-mem"])
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|e| fail(format!("cannot run /usr/bin/cargo: {e}")))?;
    if !status.success() {
        return Err(fail(format!("kernel build failed ({status})")));
    }
    let elf = target_dir.join(board.target).join("release").join("test-kernel");
    match board.qemu.kernel_format {
        KernelFormat::Arm64Image => {
            let image = elf.with_file_name("test-kernel.Image");
            let status = Command::new("/usr/bin/llvm-objcopy")
                .args(["-O", "binary"])
                .arg(&elf)
                .arg(&image)
                .status()
                .map_err(|e| fail(format!("cannot run llvm-objcopy: {e}")))?;
            if !status.success() {
                return Err(fail(format!("llvm-objcopy failed ({status})")));
            }
            Ok(image)
        }
        KernelFormat::ElfPvh => Ok(elf),
    }
}
