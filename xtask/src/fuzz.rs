//! `cargo xtask fuzz [TARGET] [--seconds N]`: the coverage-guided fuzz targets of fuzz/
//! (cargo-fuzz, libFuzzer, AddressSanitizer), each for N seconds, with a summary line each.
//!
//! cargo-fuzz needs nightly flags (`-Zsanitizer`); `RUSTC_BOOTSTRAP=1` lets the stable rustup
//! toolchain take them. Each target's corpus grows in fuzz/corpus/TARGET (kept between runs,
//! not committed), starting from its seeds; the inputs in fuzz/regressions/TARGET (crashes found
//! before, fixed since) run first, so a regression fails at once. A crash leaves its input in
//! fuzz/artifacts/TARGET and the log in target/xtask/fuzz-TARGET.log.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{fail, scratch_dir, setup, workspace_root, XtaskResult};

struct Target {
    name: &'static str,
    /// Seed corpora beside the target's own corpus and regressions, from the workspace root.
    seeds: &'static [&'static str],
    /// The simulated virtio devices leak by design (drivers want `&'static` platforms, which
    /// the harness frees itself; a device that will not reset keeps its DMA memory, which the
    /// driver leaks on purpose): LeakSanitizer stays off for them and they get more memory.
    leaks: bool,
}

const TARGETS: &[Target] = &[
    Target { name: "dt", seeds: &["tests/dtb"], leaks: false },
    Target { name: "acpi", seeds: &["fuzz/seeds/acpi"], leaks: false },
    Target { name: "pci", seeds: &[], leaks: false },
    Target { name: "virtio_blk", seeds: &[], leaks: true },
    Target { name: "virtio_net", seeds: &[], leaks: true },
    Target { name: "virtio_gpu", seeds: &[], leaks: true },
];

/// Seconds per target unless `--seconds` says.
const DEFAULT_SECONDS: u64 = 20;
/// An input running longer than this is reported as a hang.
const INPUT_TIMEOUT_S: u64 = 10;

const USAGE: &str = "usage: cargo xtask fuzz [TARGET] [--seconds N]
  targets: dt, acpi, pci, virtio_blk, virtio_net, virtio_gpu (all unless one is named)";

/// What libFuzzer's final stats said.
struct Outcome {
    name: &'static str,
    seconds: u64,
    runs: Option<u64>,
    per_second: Option<u64>,
    coverage: Option<String>,
}

pub fn run(args: impl Iterator<Item = String>) -> XtaskResult {
    let (chosen, seconds) = parse(args)?;
    let targets: Vec<&Target> = match &chosen {
        Some(name) => {
            let target = TARGETS.iter().find(|t| t.name == name);
            vec![target.ok_or_else(|| fail(format!("no fuzz target '{name}'\n{USAGE}")))?]
        }
        None => TARGETS.iter().collect(),
    };
    setup::ensure_fuzz_tools()?;
    build()?;
    let mut outcomes = Vec::new();
    for target in targets {
        outcomes.push(fuzz(target, seconds)?);
    }
    eprintln!("xtask: fuzzing done, no crash (libFuzzer's final stats):");
    eprintln!("  {:<12} {:>7} {:>12} {:>8}  coverage", "target", "seconds", "executions", "exec/s");
    for o in &outcomes {
        let number = |n: Option<u64>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
        eprintln!(
            "  {:<12} {:>7} {:>12} {:>8}  {}",
            o.name,
            o.seconds,
            number(o.runs),
            number(o.per_second),
            o.coverage.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}

fn parse(mut args: impl Iterator<Item = String>) -> XtaskResult<(Option<String>, u64)> {
    let (mut target, mut seconds) = (None, DEFAULT_SECONDS);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or_else(|| fail(USAGE))?;
                let positive = value.parse().ok().filter(|&s| s > 0);
                seconds = positive.ok_or_else(|| fail(format!("--seconds wants a positive number, not '{value}'\n{USAGE}")))?;
            }
            name if !name.starts_with('-') && target.is_none() => target = Some(arg),
            _ => return Err(fail(format!("unexpected argument '{arg}'\n{USAGE}"))),
        }
    }
    Ok((target, seconds))
}

/// `cargo fuzz` with the environment every call needs.
fn cargo_fuzz() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root()).arg("fuzz").env("RUSTC_BOOTSTRAP", "1");
    command
}

fn build() -> XtaskResult {
    eprintln!("xtask: building the fuzz targets (cargo fuzz build: libFuzzer, AddressSanitizer)");
    let status = cargo_fuzz().arg("build").status().map_err(|e| fail(format!("cannot run cargo fuzz: {e}")))?;
    if !status.success() {
        return Err(fail("cargo fuzz build failed"));
    }
    Ok(())
}

fn fuzz(target: &Target, seconds: u64) -> XtaskResult<Outcome> {
    let root = workspace_root();
    let corpus = root.join("fuzz/corpus").join(target.name);
    std::fs::create_dir_all(&corpus).map_err(|e| fail(format!("cannot create {}: {e}", corpus.display())))?;
    let regressions = format!("fuzz/regressions/{}", target.name);
    let mut command = cargo_fuzz();
    command.args(["run", target.name]).arg(&corpus);
    for dir in target.seeds.iter().copied().chain([regressions.as_str()]) {
        if root.join(dir).is_dir() {
            command.arg(root.join(dir));
        }
    }
    command.arg("--").arg(format!("-max_total_time={seconds}")).arg(format!("-timeout={INPUT_TIMEOUT_S}"));
    command.arg("-print_final_stats=1");
    if target.leaks {
        command.args(["-detect_leaks=0", "-rss_limit_mb=4096"]).env("ASAN_OPTIONS", "detect_leaks=0");
    }
    let log_path = scratch_dir()?.join(format!("fuzz-{}.log", target.name));
    let log = std::fs::File::create(&log_path).map_err(|e| fail(format!("cannot create {}: {e}", log_path.display())))?;
    let log_err = log.try_clone().map_err(|e| fail(format!("{e}")))?;
    eprintln!("xtask: fuzzing {} for {seconds} s (log: {})", target.name, log_path.display());
    let mut child = command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| fail(format!("cannot run cargo fuzz: {e}")))?;
    // libFuzzer stops itself at -max_total_time; this bounds a run whatever happens inside
    // (loading a large corpus first, a stuck input).
    let deadline = Instant::now() + Duration::from_secs(seconds + 300);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| fail(format!("waiting for cargo fuzz: {e}")))? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok(outcome(target.name, seconds, &text)),
        Some(status) => Err(crashed(target.name, &log_path, &text, &format!("libFuzzer exited with {status}"))),
        None => Err(crashed(target.name, &log_path, &text, "still running 300 s past its time, killed")),
    }
}

fn crashed(name: &str, log_path: &Path, text: &str, why: &str) -> crate::Failure {
    let tail: Vec<&str> = text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
    fail(format!(
        "fuzz target {name} failed: {why}\n--- last lines of {} ---\n{}\n---\n\
         the input is in fuzz/artifacts/{name}/; keep it in fuzz/regressions/{name}/ once fixed",
        log_path.display(),
        tail.join("\n")
    ))
}

/// Reads `stat::number_of_executed_units`, `stat::average_exec_per_sec` and the `DONE` line.
fn outcome(name: &'static str, seconds: u64, log: &str) -> Outcome {
    let stat = |key: &str| {
        log.lines().find_map(|line| line.strip_prefix(key)).and_then(|rest| rest.trim_start_matches(':').trim().parse().ok())
    };
    let coverage = log.lines().rev().find(|l| l.contains("DONE")).and_then(|l| {
        let from = l.find("cov:")?;
        let end = l.find(" lim:").or_else(|| l.find(" exec/s:")).unwrap_or(l.len());
        Some(l[from..end].trim().to_string())
    });
    Outcome {
        name,
        seconds,
        runs: stat("stat::number_of_executed_units"),
        per_second: stat("stat::average_exec_per_sec"),
        coverage,
    }
}
