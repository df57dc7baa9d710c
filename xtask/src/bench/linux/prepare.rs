//! Makes the Linux guest from Debian packages: the arm64 kernel (`linux-image-arm64`'s current
//! version) and `busybox-static`, downloaded with apt into `target/xtask/linux-guest/`. The
//! kernel's Image is unpacked from its vmlinuz; the initramfs holds busybox, the virtio modules
//! (with their dependencies, read from each module's `depends=`) and `init.sh` as `/init`.
//! Everything is made once and reused.

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cpio::Archive;
use crate::{fail, scratch_dir, XtaskResult};

const INIT: &str = include_str!("init.sh");
/// What the guest loads, in dependency order after resolution.
const MODULES: &[&str] = &["virtio_mmio", "virtio_pci", "virtio_blk", "virtio_net"];
/// Busybox applets the init script runs.
const APPLETS: &[&str] = &[
    "sh", "mount", "cut", "sed", "insmod", "sleep", "awk", "dd", "ifconfig", "route", "mkfifo", "nc", "cat", "poweroff",
];

pub struct Guest {
    pub image: PathBuf,
    pub initramfs: PathBuf,
    /// The Debian kernel package and version, for the report.
    pub kernel: String,
}

/// The guest's files, made if missing; `Err` says why the Linux peer cannot run here.
pub fn guest() -> XtaskResult<Guest> {
    let cache = scratch_dir()?.join("linux-guest");
    std::fs::create_dir_all(&cache).map_err(|e| fail(format!("cannot create {}: {e}", cache.display())))?;
    let package = kernel_package()?;
    let kernel_deb = download(&cache, &package)?;
    let busybox_deb = download(&cache, "busybox-static")?;
    let image = cache.join(format!("{package}.Image"));
    // Named by what goes in, so a changed init script or module list makes a new one.
    let mut contents = DefaultHasher::new();
    (INIT, MODULES, APPLETS).hash(&mut contents);
    let initramfs = cache.join(format!("{package}-{:016x}.initramfs.cpio", contents.finish()));
    let unpacked = cache.join("unpacked");
    if !image.exists() || !initramfs.exists() {
        let _ = std::fs::remove_dir_all(&unpacked);
        extract(&kernel_deb, &unpacked.join("kernel"))?;
        extract(&busybox_deb, &unpacked.join("busybox"))?;
        unpack_image(&unpacked.join("kernel"), &image)?;
        build_initramfs(&unpacked, &initramfs)?;
    }
    Ok(Guest { image, initramfs, kernel: package })
}

fn run(program: &str, args: &[&str], cwd: Option<&Path>) -> XtaskResult<String> {
    let mut command = Command::new(program);
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let output = command.output().map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!("`{program} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `linux-image-<version>-arm64`, the package `linux-image-arm64:arm64` depends on. Adds the
/// arm64 architecture to dpkg (and updates the package lists) first if it is missing.
fn kernel_package() -> XtaskResult<String> {
    let foreign = run("dpkg", &["--print-foreign-architectures"], None)?;
    if !foreign.lines().any(|a| a == "arm64") {
        eprintln!("xtask: bench: adding the arm64 architecture to dpkg (dpkg --add-architecture arm64; apt-get update) for the Linux guest's packages");
        run("dpkg", &["--add-architecture", "arm64"], None)?;
        run("apt-get", &["update"], None)?;
    }
    let depends = |output: &str| {
        output.lines().find_map(|line| {
            let name = line.trim().strip_prefix("Depends: ")?.trim_end_matches(":arm64");
            name.starts_with("linux-image-").then(|| name.to_string())
        })
    };
    if let Some(package) = run("apt-cache", &["depends", "linux-image-arm64:arm64"], None).ok().as_deref().and_then(depends) {
        return Ok(package);
    }
    eprintln!("xtask: bench: apt-get update (the arm64 package lists are missing)");
    run("apt-get", &["update"], None)?;
    let output = run("apt-cache", &["depends", "linux-image-arm64:arm64"], None)?;
    depends(&output).ok_or_else(|| fail("apt knows no linux-image-arm64:arm64"))
}

/// The `.deb` of `package:arm64` in `cache`, downloaded with apt if missing.
fn download(cache: &Path, package: &str) -> XtaskResult<PathBuf> {
    let find = || {
        std::fs::read_dir(cache).ok()?.filter_map(|e| Some(e.ok()?.path())).find(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(&format!("{package}_")) && name.ends_with("_arm64.deb")
        })
    };
    if let Some(deb) = find() {
        return Ok(deb);
    }
    eprintln!("xtask: bench: downloading {package}:arm64 with apt-get download into {} (not installed)", cache.display());
    run("apt-get", &["download", &format!("{package}:arm64")], Some(cache))?;
    find().ok_or_else(|| fail(format!("apt-get download left no {package} package in {}", cache.display())))
}

fn extract(deb: &Path, into: &Path) -> XtaskResult {
    std::fs::create_dir_all(into).map_err(|e| fail(format!("cannot create {}: {e}", into.display())))?;
    let (deb, into) = (deb.to_string_lossy(), into.to_string_lossy());
    run("dpkg-deb", &["-x", &deb, &into], None).map(drop)
}

/// QEMU's `-kernel` wants the uncompressed arm64 Image; Debian ships it gzipped as vmlinuz.
fn unpack_image(kernel: &Path, image: &Path) -> XtaskResult {
    let boot = kernel.join("boot");
    let vmlinuz = std::fs::read_dir(&boot)
        .map_err(|e| fail(format!("{}: {e}", boot.display())))?
        .filter_map(|e| Some(e.ok()?.path()))
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
        .ok_or_else(|| fail("the kernel package has no vmlinuz"))?;
    let bytes = std::fs::read(&vmlinuz).map_err(|e| fail(format!("{}: {e}", vmlinuz.display())))?;
    let unpacked = if bytes.starts_with(&[0x1f, 0x8b]) {
        let output = Command::new("gzip").arg("-dc").arg(&vmlinuz).output().map_err(|e| fail(format!("cannot run gzip: {e}")))?;
        if !output.status.success() {
            return Err(fail(format!("gzip -dc {} failed", vmlinuz.display())));
        }
        output.stdout
    } else {
        bytes
    };
    std::fs::write(image, unpacked).map_err(|e| fail(format!("{}: {e}", image.display())))
}

fn build_initramfs(unpacked: &Path, out: &Path) -> XtaskResult {
    let mut archive = Archive::default();
    for dir in ["bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"] {
        archive.directory(dir);
    }
    let busybox = std::fs::read(unpacked.join("busybox/bin/busybox")).map_err(|e| fail(format!("busybox: {e}")))?;
    archive.file("bin/busybox", &busybox, 0o755);
    for applet in APPLETS {
        archive.symlink(&format!("bin/{applet}"), "busybox");
    }
    archive.file("init", INIT.as_bytes(), 0o755);
    let modules_dir = modules_dir(&unpacked.join("kernel"))?;
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for module in MODULES {
        resolve(&modules_dir, module, &mut seen, &mut order)?;
    }
    for (name, bytes) in &order {
        archive.file(&format!("lib/modules/{name}.ko"), bytes, 0o644);
    }
    let list: String = order.iter().map(|(name, _)| format!("{name}\n")).collect();
    archive.file("lib/modules/order", list.as_bytes(), 0o644);
    std::fs::write(out, archive.finish()).map_err(|e| fail(format!("{}: {e}", out.display())))
}

fn modules_dir(kernel: &Path) -> XtaskResult<PathBuf> {
    let base = kernel.join("lib/modules");
    let version = std::fs::read_dir(&base)
        .map_err(|e| fail(format!("{}: {e}", base.display())))?
        .filter_map(|e| e.ok())
        .next()
        .ok_or_else(|| fail("the kernel package has no modules"))?;
    Ok(version.path())
}

/// Adds `module` after its dependencies to `order` (name, uncompressed bytes). A module not
/// found is built into the kernel.
fn resolve(dir: &Path, module: &str, seen: &mut BTreeSet<String>, order: &mut Vec<(String, Vec<u8>)>) -> XtaskResult {
    if !seen.insert(module.to_string()) {
        return Ok(());
    }
    let Some(path) = find_module(dir, module) else { return Ok(()) };
    let bytes = if path.extension().is_some_and(|e| e == "xz") {
        let output = Command::new("xz").arg("-dc").arg(&path).output().map_err(|e| fail(format!("cannot run xz: {e}")))?;
        output.stdout
    } else {
        std::fs::read(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?
    };
    for dependency in depends(&bytes) {
        resolve(dir, &dependency, seen, order)?;
    }
    order.push((module.to_string(), bytes));
    Ok(())
}

fn find_module(dir: &Path, module: &str) -> Option<PathBuf> {
    let names = [format!("{module}.ko"), format!("{module}.ko.xz")];
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if names.iter().any(|n| path.file_name().is_some_and(|f| f.to_string_lossy() == *n)) {
                return Some(path);
            }
        }
    }
    None
}

/// The `depends=` entry of a module's `.modinfo` (no depmod needed).
fn depends(module: &[u8]) -> Vec<String> {
    let key = b"depends=";
    let Some(at) = module.windows(key.len()).position(|w| w == key) else { return Vec::new() };
    let value = &module[at + key.len()..];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end]).split(',').filter(|d| !d.is_empty()).map(str::to_string).collect()
}
