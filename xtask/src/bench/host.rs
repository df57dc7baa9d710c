//! Host-side figures: the host's own I/O on the guests' backing file (the ceiling QEMU's file
//! backend sees, dd-like, through the page cache as QEMU's default `cache=writeback` does), and
//! the registry's host code (`benches/registry.rs`, built optimised and run by `cargo bench`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::lines;
use super::report::{Results, System};
use super::Volumes;
use crate::{fail, workspace_root, XtaskResult};

const KIB: usize = 1024;
const MIB: f64 = 1024.0 * 1024.0;

/// Measures the host's throughput on `disk` `runs` times and files it beside every transport's
/// row of the same metric.
pub fn file_limit(disk: &Path, volumes: &Volumes, results: &mut Results) -> XtaskResult {
    let file = OpenOptions::new().read(true).write(true).open(disk).map_err(|e| fail(format!("cannot open {}: {e}", disk.display())))?;
    let span = file.metadata().map_err(|e| fail(format!("{}: {e}", disk.display())))?.len();
    let bytes = (volumes.sequential_mib << 20).min(span);
    let io = |what: &str, e: std::io::Error| fail(format!("host {what} on {}: {e}", disk.display()));
    for _ in 0..volumes.runs {
        for (key, chunk) in [("seq_read_64k", 64 * KIB), ("seq_read_1m", 1024 * KIB)] {
            let seconds = sequential(&file, bytes, chunk, false).map_err(|e| io("read", e))?;
            add(results, key, bytes as f64 / MIB / seconds);
        }
        for (key, chunk) in [("seq_write_64k", 64 * KIB), ("seq_write_1m", 1024 * KIB)] {
            let seconds = sequential(&file, bytes, chunk, true).map_err(|e| io("write", e))?;
            add(results, key, bytes as f64 / MIB / seconds);
        }
        let requests = volumes.random_requests;
        let seconds = random(&file, span, requests, false).map_err(|e| io("read", e))?;
        add(results, "rand_read_4k_qd1", requests as f64 / seconds);
        let seconds = random(&file, span, requests, true).map_err(|e| io("write", e))?;
        add(results, "rand_write_4k_qd1", requests as f64 / seconds);
        let started = Instant::now();
        let block = [0u8; 4 * KIB];
        for _ in 0..volumes.flushes {
            file.write_all_at(&block, 0).and_then(|()| file.sync_data()).map_err(|e| io("write + fdatasync", e))?;
        }
        add(results, "write_flush_4k", started.elapsed().as_secs_f64() * 1e6 / volumes.flushes.max(1) as f64);
    }
    Ok(())
}

fn add(results: &mut Results, key: &str, value: f64) {
    if let Some(&(_, label, _, _)) = lines::BLK_METRICS.iter().find(|(k, ..)| *k == key) {
        let unit = match key {
            "write_flush_4k" => "us",
            k if k.starts_with("rand") => "IOPS",
            _ => "MiB/s",
        };
        results.add_host("blk", label, unit, value);
    }
}

/// Seconds to read or write `bytes` from offset 0 in `chunk`-sized calls.
fn sequential(file: &File, bytes: u64, chunk: usize, write: bool) -> std::io::Result<f64> {
    let mut buffer = vec![0x5au8; chunk];
    let started = Instant::now();
    let mut offset = 0;
    while offset < bytes {
        let len = chunk.min((bytes - offset) as usize);
        if write {
            file.write_all_at(&buffer[..len], offset)?;
        } else {
            file.read_exact_at(&mut buffer[..len], offset)?;
        }
        offset += len as u64;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds for `requests` 4 KiB reads or writes at random 4 KiB-aligned places of the file.
fn random(file: &File, span: u64, requests: u64, write: bool) -> std::io::Result<f64> {
    let mut buffer = [0u8; 4 * KIB];
    let places = (span / buffer.len() as u64).max(1);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let started = Instant::now();
    for _ in 0..requests {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let offset = (state % places) * buffer.len() as u64;
        if write {
            file.write_all_at(&buffer, offset)?;
        } else {
            file.read_exact_at(&mut buffer, offset)?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Runs the registry benchmark target (optimised) and files its figures.
pub fn registry(quick: bool, runs: usize, results: &mut Results) -> XtaskResult {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(workspace_root()).args(["bench", "--quiet", "--package", "xtask", "--bench", "registry", "--"]);
    command.arg(format!("--runs={runs}"));
    if quick {
        command.arg("--quick");
    }
    let output = command.output().map_err(|e| fail(format!("cannot run cargo bench: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!("the registry benchmark failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr))));
    }
    for figure in lines::parse(&String::from_utf8_lossy(&output.stdout)) {
        // Names are `host.<what>` with spaces as underscores; the table shows the words.
        let metric = figure.name.trim_start_matches("host.").replace('_', " ");
        results.add("host", &metric, "-", &figure.unit, System::Ours, figure.value);
    }
    Ok(())
}
