//! Real boards' blobs from `BUS_DT_EXTRA_DTB_DIR` (e.g. a kernel package's dtbs
//! directory): each must parse and enumerate, agree with the `dt-oracle` reading (regions,
//! interrupts, status) and, without NOP tokens, with the `fdt` crate.
//!
//! cargo test has no skip at run time, and a test that returns early passes: so this one is
//! `#[ignore]`d, and `cargo test` reports it as ignored with the reason. `cargo xtask test`
//! runs it (`--ignored`) when the variable is set; run by hand without it, it fails.

use std::path::{Path, PathBuf};

use bus_dt::DtBus;
use registry::Bus;

use super::dt_oracle::compare_with_oracle;
use super::fdt_oracle::{compare_with_fdt, FdtCheck};
use super::all_devices;

fn dtbs_under(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            dtbs_under(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "dtb") {
            found.push(path);
        }
    }
}

#[test]
#[ignore = "needs BUS_DT_EXTRA_DTB_DIR, a folder of DTBs; cargo xtask test runs it when that is set"]
fn every_extra_dtb_enumerates() {
    let dir = std::env::var_os("BUS_DT_EXTRA_DTB_DIR").expect("BUS_DT_EXTRA_DTB_DIR names the folder of DTBs to check");
    let mut paths = Vec::new();
    dtbs_under(Path::new(&dir), &mut paths);
    paths.sort();
    assert!(!paths.is_empty(), "no .dtb files under {}", Path::new(&dir).display());
    let mut failures = Vec::new();
    let (mut devices, mut fdt_skipped) = (0, 0);
    for path in &paths {
        let blob = std::fs::read(path).expect("readable dtb");
        let result = DtBus::new(&blob)
            .map_err(|e| e.to_string())
            .and_then(|bus| bus.enumerate().map_err(|e| e.to_string()))
            .and_then(|roots| {
                devices += roots.iter().map(|root| all_devices(root).len()).sum::<usize>();
                compare_with_oracle(&blob)?;
                fdt_skipped += usize::from(compare_with_fdt(&blob)? == FdtCheck::SkippedNops);
                Ok(())
            });
        if let Err(error) = result {
            failures.push(format!("{}: {error}", path.display()));
        }
    }
    println!(
        "{} of {} extra dtbs enumerated and agreed with the oracle, {devices} devices; {fdt_skipped} with NOP tokens not given to the fdt crate",
        paths.len() - failures.len(),
        paths.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
