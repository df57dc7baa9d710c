//! Makes sure the tools the kernel build, the QEMU boots and the fuzz targets need are on the
//! machine: installs what is missing when it can (saying so), or stops with the exact commands
//! to type.

use std::path::Path;
use std::process::Command;

use crate::{fail, XtaskResult};

struct Tool {
    path: &'static str,
    package: &'static str,
    why: &'static str,
    /// Debian 12 ships a QEMU that conflicts with the image's newer qemu-utils: take it from
    /// bookworm-backports.
    from_backports: bool,
}

const TOOLS: &[Tool] = &[
    Tool { path: "/usr/bin/rustc", package: "rustc-web", why: "Rust for bare-metal targets", from_backports: false },
    Tool { path: "/usr/bin/cargo", package: "cargo-web", why: "cargo with -Zbuild-std", from_backports: false },
    Tool {
        path: "/usr/lib/rustlib/src/rust/library/core/Cargo.toml",
        package: "rust-web-src",
        why: "core/alloc sources for -Zbuild-std",
        from_backports: false,
    },
    Tool { path: "/usr/bin/ld.lld", package: "lld", why: "linking the kernel", from_backports: false },
    Tool { path: "/usr/bin/llvm-objcopy", package: "llvm", why: "making the arm64 Image (and llvm-symbolizer for xtask profile)", from_backports: false },
    Tool {
        path: "/usr/bin/qemu-system-aarch64",
        package: "qemu-system-arm",
        why: "booting the aarch64 boards",
        from_backports: true,
    },
    Tool {
        path: "/usr/bin/qemu-system-x86_64",
        package: "qemu-system-x86",
        why: "booting the x86-64 boards",
        from_backports: true,
    },
    Tool { path: "/usr/bin/curl", package: "curl", why: "the client of the net http boot tests", from_backports: false },
];

const BACKPORTS_SOURCES: &str = "/etc/apt/sources.list.d/bookworm-backports.sources";
const DEBIAN_SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

/// Installs missing tools, or explains how to.
pub fn ensure_tools() -> XtaskResult {
    let missing: Vec<&Tool> = TOOLS.iter().filter(|t| !Path::new(t.path).exists()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    for tool in &missing {
        eprintln!("xtask: missing {} ({}): package {}", tool.path, tool.why, tool.package);
    }
    let plain: Vec<&str> = missing.iter().filter(|t| !t.from_backports).map(|t| t.package).collect();
    let backports: Vec<&str> = missing.iter().filter(|t| t.from_backports).map(|t| t.package).collect();
    let use_backports = !backports.is_empty() && is_bookworm();

    let mut steps: Vec<Vec<String>> = vec![words("apt-get update")];
    if !plain.is_empty() || (!backports.is_empty() && !use_backports) {
        let mut install = words("apt-get install -y");
        install.extend(plain.iter().map(|p| p.to_string()));
        if !use_backports {
            install.extend(backports.iter().map(|p| p.to_string()));
        }
        steps.push(install);
    }
    if use_backports {
        let mut install = words("apt-get install -y -t bookworm-backports");
        install.extend(backports.iter().map(|p| p.to_string()));
        steps.push(install);
    }

    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        let mut text = String::from("cannot install these here (needs root and apt-get). Run:\n");
        if use_backports && !Path::new(BACKPORTS_SOURCES).exists() {
            text.push_str(&format!(
                "  # add bookworm-backports: copy the bookworm stanza of {DEBIAN_SOURCES} into\n  # {BACKPORTS_SOURCES} with 'Suites: bookworm-backports'\n"
            ));
        }
        for step in &steps {
            text.push_str(&format!("  sudo {}\n", step.join(" ")));
        }
        return Err(fail(text));
    }
    if use_backports {
        add_backports_suite()?;
    }
    eprintln!("xtask: installing the missing packages with apt-get (once per machine)");
    for step in steps {
        eprintln!("xtask: running: {}", step.join(" "));
        let status = Command::new(&step[0])
            .args(&step[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| fail(format!("cannot run {}: {e}", step[0])))?;
        if !status.success() {
            return Err(fail(format!("'{}' failed ({status})", step.join(" "))));
        }
    }
    match TOOLS.iter().find(|t| !Path::new(t.path).exists()) {
        Some(tool) => Err(fail(format!("{} is still missing after installing {}", tool.path, tool.package))),
        None => Ok(()),
    }
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn is_bookworm() -> bool {
    std::fs::read_to_string("/etc/os-release").is_ok_and(|s| s.lines().any(|l| l == "VERSION_CODENAME=bookworm"))
}

/// Writes a bookworm-backports suite: the bookworm stanza of the machine's own Debian sources
/// with only the suite changed, so it uses the same mirror and keyring.
fn add_backports_suite() -> XtaskResult {
    if Path::new(BACKPORTS_SOURCES).exists() {
        return Ok(());
    }
    let sources = std::fs::read_to_string(DEBIAN_SOURCES)
        .map_err(|e| fail(format!("cannot read {DEBIAN_SOURCES} to derive bookworm-backports: {e}")))?;
    let stanza = sources
        .split("\n\n")
        .find(|s| s.lines().any(|l| l.starts_with("Suites:") && l.split_whitespace().any(|w| w == "bookworm")))
        .ok_or_else(|| fail(format!("{DEBIAN_SOURCES} has no bookworm stanza to copy")))?;
    let backports: Vec<String> = stanza
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| if l.starts_with("Suites:") { "Suites: bookworm-backports".to_string() } else { l.to_string() })
        .collect();
    eprintln!("xtask: adding the bookworm-backports suite ({BACKPORTS_SOURCES}) for QEMU 10");
    std::fs::write(BACKPORTS_SOURCES, backports.join("\n") + "\n")
        .map_err(|e| fail(format!("cannot write {BACKPORTS_SOURCES}: {e}")))
}

/// What `cargo xtask fuzz` needs: a C++ compiler (libfuzzer-sys builds libFuzzer from source;
/// Debian's `g++` via apt-get when missing) and cargo-fuzz (`cargo install cargo-fuzz` from
/// crates.io when missing, about a minute).
pub fn ensure_fuzz_tools() -> XtaskResult {
    let on_path = |program: &str| Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    if !["c++", "g++", "clang++"].into_iter().any(on_path) {
        eprintln!("xtask: missing a C++ compiler (c++, g++ or clang++; libFuzzer is C++): package g++");
        if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
            return Err(fail("cannot install it here (needs root and apt-get). Run:\n  sudo apt-get update\n  sudo apt-get install -y g++"));
        }
        for step in [words("apt-get update"), words("apt-get install -y g++")] {
            eprintln!("xtask: running: {}", step.join(" "));
            let status = Command::new(&step[0])
                .args(&step[1..])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .map_err(|e| fail(format!("cannot run {}: {e}", step[0])))?;
            if !status.success() {
                return Err(fail(format!("'{}' failed ({status})", step.join(" "))));
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let has_cargo_fuzz = || Command::new(&cargo).args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz() {
        eprintln!("xtask: installing cargo-fuzz (cargo install cargo-fuzz --locked, once per machine)");
        let status = Command::new(&cargo)
            .args(["install", "cargo-fuzz", "--locked"])
            .status()
            .map_err(|e| fail(format!("cannot run cargo install: {e}")))?;
        if !status.success() || !has_cargo_fuzz() {
            return Err(fail("installing cargo-fuzz failed (cargo install cargo-fuzz --locked)"));
        }
    }
    Ok(())
}
