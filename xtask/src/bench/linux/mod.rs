//! The Linux guest peer (`cargo xtask bench --linux`): Debian's arm64 kernel with a busybox
//! initramfs, booted with the same QEMU binary, machine options, disk and NIC as our kernel,
//! once per run and transport. Its `/init` (`init.sh`) runs the block workloads with dd and
//! reports them; the host drives the TCP workloads with the same code as for ours.

mod cpio;
mod prepare;

use std::path::Path;
use std::time::{Duration, Instant};

use boards::Board;

use super::guest::Transport;
use super::report::{Results, System};
use super::{boot, lines, net, Volumes};
use crate::qemu::{self, Session};
use crate::{fail, XtaskResult};

/// The guest ports of its sink and echo server (init.sh).
const SINK_PORT: u16 = 5001;
const ECHO_PORT: u16 = 5003;
/// A whole run: boot, every block workload, the TCP ones.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// Measures the Linux guest on every transport, or says in `results` why it cannot.
pub fn measure(board: &Board, disk: &Path, volumes: &Volumes, results: &mut Results) {
    if board.name != "qemu-virt" {
        results.skipped.push(format!("Linux guest: runs on qemu-virt only, not {}", board.name));
        return;
    }
    let guest = match prepare::guest() {
        Ok(guest) => guest,
        Err(error) => {
            eprintln!("xtask: bench: no Linux guest: {error}");
            results.skipped.push(format!("Linux guest: {error}"));
            return;
        }
    };
    results.facts.push(("linux guest".into(), format!("Debian {} + busybox-static, -smp 1", guest.kernel)));
    for transport in Transport::ALL {
        for run in 0..volumes.runs {
            eprintln!("xtask: bench: [{}] Linux, run {} of {}", transport.label(), run + 1, volumes.runs);
            if let Err(error) = one_run(board, &guest, disk, transport, volumes, results) {
                eprintln!("xtask: bench: Linux over {}: {error}", transport.label());
                results.broken.push(format!("Linux guest over {} (run {}): {error}", transport.label(), run + 1));
                break;
            }
        }
    }
    results.notes.push(
        "Linux: blk figures are busybox dd with O_DIRECT (writes without fsync, as ours); its 4 KiB \"random\" \
         requests go to sequential offsets (dd cannot seek at random), and QD32 is 32 dd processes at once, their \
         start-up included; no write + flush figure (busybox dd has no O_DSYNC)."
            .into(),
    );
}

fn one_run(board: &Board, guest: &prepare::Guest, disk: &Path, transport: Transport, volumes: &Volumes, results: &mut Results) -> XtaskResult {
    let (sink, echo) = (net::free_port()?, net::free_port()?);
    let bytes = volumes.net_mib << 20;
    let receiver = net::Receiver::start(bytes)?;
    let options = transport.options(board, disk, &[(sink, SINK_PORT), (echo, ECHO_PORT)])?;
    let mut command = qemu::machine_command(board, &options, "");
    let append = format!(
        "console=ttyAMA0 loglevel=4 bench.seq_mib={} bench.random={} bench.net_bytes={bytes} bench.tx_port={}",
        volumes.sequential_mib, volumes.random_requests, receiver.port
    );
    command.arg("-kernel").arg(&guest.image).arg("-initrd").arg(&guest.initramfs).args(["-append", &append]);
    let started = Instant::now();
    let mut session = Session::start(command)?;
    let label = transport.label();
    let outcome = (|| {
        let mut output = session.expect("linux-bench: init", RUN_TIMEOUT)?;
        let to_init = started.elapsed();
        output += &session.expect("linux-bench: ready sink", RUN_TIMEOUT)?;
        check_failure(&output)?;
        let figures = lines::parse(&output);
        lines::add_blk(results, &figures, "linux.blk", System::Linux, label);
        if board.name == "qemu-virt" && transport == Transport::MmioLegacy {
            let uptime = figures.iter().find(|f| f.name == "linux.boot.init_uptime").map(|f| f.value * 1e3);
            if let Some(ms) = uptime {
                results.add("boot", boot::ENTRY_TO_LSDEV, board.name, "ms", System::Linux, ms);
            }
            results.add("boot", boot::START_TO_LSDEV, board.name, "ms", System::Linux, to_init.as_secs_f64() * 1e3);
        }
        results.add("net", "TCP host->guest", label, "MiB/s", System::Linux, net::host_to_guest(sink, bytes)?);
        session.expect("linux-bench: ready source", RUN_TIMEOUT)?;
        let (rate, received) = receiver.finish()?;
        if received != bytes {
            return Err(fail(format!("the host received {received} of the guest's {bytes} bytes")));
        }
        results.add("net", "TCP guest->host", label, "MiB/s", System::Linux, rate);
        session.expect("linux-bench: ready echo", RUN_TIMEOUT)?;
        let round_trip = net::round_trips(echo, volumes.round_trips)?;
        results.add("net", &format!("TCP round trip {} B", net::MESSAGE_BYTES), label, "us", System::Linux, round_trip);
        check_failure(&session.expect("linux-bench: done", RUN_TIMEOUT)?)
    })();
    let log = crate::scratch_dir()?.join(format!("bench-linux-{label}.log"));
    let _ = std::fs::write(&log, session.output());
    outcome.map_err(|e| fail(format!("{e} (serial log: {})", log.display())))
}

fn check_failure(output: &str) -> XtaskResult {
    match output.lines().find(|line| line.contains("linux-bench: failed")) {
        Some(line) => Err(fail(line.trim().to_string())),
        None => Ok(()),
    }
}
