//! Real boards' blobs from `BUS_DT_EXTRA_DTB_DIR` (e.g. a kernel package's dtbs
//! directory): each must parse and enumerate, and agree with the `fdt` crate.

use std::path::{Path, PathBuf};

use bus_dt::DtBus;
use registry::Bus;

use super::{all_devices, fdt_oracle::compare_with_fdt};

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
fn every_extra_dtb_enumerates() {
    let Some(dir) = std::env::var_os("BUS_DT_EXTRA_DTB_DIR") else {
        println!("BUS_DT_EXTRA_DTB_DIR not set: no extra blobs checked");
        return;
    };
    let mut paths = Vec::new();
    dtbs_under(Path::new(&dir), &mut paths);
    paths.sort();
    let mut failures = Vec::new();
    let mut devices = 0;
    for path in &paths {
        let blob = std::fs::read(path).expect("readable dtb");
        let result = DtBus::new(&blob)
            .map_err(|e| e.to_string())
            .and_then(|bus| bus.enumerate().map_err(|e| e.to_string()))
            .and_then(|roots| {
                devices += roots
                    .iter()
                    .map(|root| all_devices(root).len())
                    .sum::<usize>();
                compare_with_fdt(&blob)
            });
        if let Err(error) = result {
            failures.push(format!("{}: {error}", path.display()));
        }
    }
    println!(
        "{} of {} extra dtbs enumerated, {devices} devices",
        paths.len() - failures.len(),
        paths.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
