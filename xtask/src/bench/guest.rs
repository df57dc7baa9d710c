//! Our drivers and the virtio-drivers peer, measured in the test kernel: one boot per transport
//! with a bench disk and a NIC on it; `bench` runs the workloads on our drivers completing by
//! interrupt, `bench poll` the same with the kernel polling, then `peer` takes the same devices
//! over and runs them on virtio-drivers (virtio-mmio only).

use std::path::Path;
use std::time::Duration;

use boards::{Board, VirtioTransport};

use super::lines::{self, Figure};
use super::report::{Results, System};
use super::{net, Volumes};
use crate::boot_tests::{boot_and_drive, PROMPT};
use crate::qemu::{Options, Session};
use crate::{fail, XtaskResult};

/// The guest ports the host reaches through QEMU's port forwards.
const SINK_PORT: u16 = 5001;
const ECHO_PORT: u16 = 5003;
/// Generous: the emulated CPU is slow and other QEMUs may share the machine.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// How the virtio devices attach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    MmioLegacy,
    MmioModern,
    Pci,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::MmioLegacy, Transport::MmioModern, Transport::Pci];

    pub fn label(self) -> &'static str {
        match self {
            Transport::MmioLegacy => "mmio-legacy",
            Transport::MmioModern => "mmio-modern",
            Transport::Pci => "pci",
        }
    }

    fn is_mmio(self) -> bool {
        self != Transport::Pci
    }

    /// The machine with only the bench disk and a NIC on this transport, the NIC on QEMU's user
    /// network with `forwards` (host port, guest port) from the host's loopback. The same
    /// options boot every guest, ours and Linux.
    pub fn options(self, board: &Board, disk: &Path, forwards: &[(u16, u16)]) -> XtaskResult<Options> {
        let mut options = Options::with_default_devices(board)?;
        (options.net, options.gpu, options.modern_mmio) = (false, false, self == Transport::MmioModern);
        options.disks.clear();
        let suffix = match self {
            Transport::Pci => VirtioTransport::Pci.qemu_suffix(),
            _ => VirtioTransport::Mmio.qemu_suffix(),
        };
        let rules: String = forwards.iter().map(|(host, guest)| format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}")).collect();
        options.extra.extend([
            "-drive".into(),
            format!("if=none,id=bench-disk,format=raw,file={}", disk.display()),
            "-device".into(),
            format!("virtio-blk-{suffix},drive=bench-disk"),
            "-netdev".into(),
            format!("user,id=bench-net{rules}"),
            "-device".into(),
            format!("virtio-net-{suffix},netdev=bench-net"),
        ]);
        Ok(options)
    }
}

/// Runs every guest benchmark on every transport, ours then (on virtio-mmio) the peer's.
pub fn measure(board: &Board, image: &Path, disk: &Path, volumes: &Volumes, results: &mut Results) {
    for transport in Transport::ALL {
        eprintln!("xtask: bench: our drivers{} over {} ...", if transport.is_mmio() { " and virtio-drivers" } else { "" }, transport.label());
        if let Err(error) = one_boot(board, image, disk, transport, volumes, results) {
            results.broken.push(format!("guest benchmarks over {}: {error}", transport.label()));
            eprintln!("xtask: bench: over {}: {error}", transport.label());
        }
    }
    results.skipped.push("virtio-drivers over virtio-pci: the peer drives virtio-mmio slots only".into());
}

fn one_boot(board: &Board, image: &Path, disk: &Path, transport: Transport, volumes: &Volumes, results: &mut Results) -> XtaskResult {
    let (sink, echo) = (net::free_port()?, net::free_port()?);
    let options = transport.options(board, disk, &[(sink, SINK_PORT), (echo, ECHO_PORT)])?;
    let ports = Ports { sink, echo };
    boot_and_drive(board, image, &options, &format!("bench-{}", transport.label()), |session| {
        // The peer goes last: it takes the devices over for good.
        let subjects: &[&Subject] = if transport.is_mmio() { &[&OURS, &OURS_POLLED, &PEER] } else { &[&OURS, &OURS_POLLED] };
        for subject in subjects {
            for run in 0..volumes.runs {
                eprintln!("xtask: bench: [{}] {}, run {} of {}", transport.label(), subject.name, run + 1, volumes.runs);
                suite(session, subject, transport.label(), volumes, &ports, results)?;
            }
        }
        Ok(())
    })
}

struct Ports {
    sink: u16,
    echo: u16,
}

/// A driver under measurement: its shell command, the disk argument of its `blk` workload, the
/// prefix of its `BENCH` lines, its column.
struct Subject {
    name: &'static str,
    command: &'static str,
    disk: &'static str,
    prefix: &'static str,
    system: System,
}

const OURS: Subject = Subject { name: "ours (irq)", command: "bench", disk: " 0", prefix: "", system: System::Ours };
const OURS_POLLED: Subject = Subject { name: "ours (poll)", command: "bench poll", disk: " 0", prefix: "", system: System::OursPolled };
/// `peer` takes the disk on a virtio-mmio slot: it names none.
const PEER: Subject = Subject { name: "virtio-drivers", command: "peer", disk: "", prefix: "peer.", system: System::VirtioDrivers };

/// One run of every workload through the subject's shell command.
fn suite(session: &mut Session, subject: &Subject, transport: &str, volumes: &Volumes, ports: &Ports, results: &mut Results) -> XtaskResult {
    let Subject { command, disk, prefix, system, .. } = *subject;
    let blk = format!("{command} blk{disk} {} {} {}", volumes.sequential_mib, volumes.random_requests, volumes.flushes);
    let figures = run(session, &blk)?;
    if lines::add_blk(results, &figures, &format!("{prefix}blk"), system, transport) != lines::BLK_METRICS.len() {
        return Err(fail(format!("`{blk}` did not report every block figure")));
    }

    let bytes = volumes.net_mib << 20;
    session.send_line(&format!("{command} net sink {SINK_PORT}"))?;
    session.expect("listening on port", COMMAND_TIMEOUT)?;
    let rate = net::host_to_guest(ports.sink, bytes)?;
    check_moved(&finish(session)?, &format!("{prefix}net.rx.bytes"), bytes)?;
    results.add("net", "TCP host->guest", transport, "MiB/s", system, rate);

    let receiver = net::Receiver::start(bytes)?;
    let sent = run(session, &format!("{command} net source {} {bytes}", receiver.port))?;
    let (rate, received) = receiver.finish()?;
    check_moved(&sent, &format!("{prefix}net.tx.bytes"), bytes)?;
    if received != bytes {
        return Err(fail(format!("the host received {received} of the guest's {bytes} bytes")));
    }
    results.add("net", "TCP guest->host", transport, "MiB/s", system, rate);

    session.send_line(&format!("{command} net echo {ECHO_PORT}"))?;
    session.expect("listening on port", COMMAND_TIMEOUT)?;
    let round_trip = net::round_trips(ports.echo, volumes.round_trips)?;
    finish(session)?;
    results.add("net", &format!("TCP round trip {} B", net::MESSAGE_BYTES), transport, "us", system, round_trip);
    Ok(())
}

/// Runs a shell command to its end; its `BENCH` figures, or its failure.
fn run(session: &mut Session, command: &str) -> XtaskResult<Vec<Figure>> {
    session.send_line(command)?;
    finish(session)
}

/// Waits for the running command's prompt; its `BENCH` figures, or its failure.
fn finish(session: &mut Session) -> XtaskResult<Vec<Figure>> {
    let output = session.expect(PROMPT, COMMAND_TIMEOUT)?;
    match output.lines().find(|line| line.contains(": failed: ")) {
        Some(failure) => Err(fail(failure.trim().to_string())),
        None => Ok(lines::parse(&output)),
    }
}

/// The guest's count of bytes moved must be what the host sent or expected.
fn check_moved(figures: &[Figure], name: &str, bytes: usize) -> XtaskResult {
    match figures.iter().find(|f| f.name == name) {
        Some(figure) if figure.value as usize == bytes => Ok(()),
        Some(figure) => Err(fail(format!("{name} = {}, expected {bytes}", figure.value))),
        None => Err(fail(format!("the guest reported no {name}"))),
    }
}
