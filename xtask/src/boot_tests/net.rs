//! Boot tests of virtio-net with smoltcp on QEMU's user network: DHCP, ping to the gateway, a
//! TCP echo server in the guest that the host feeds a few MiB through a port forward, and a
//! connection from the guest to a host listener (QEMU maps 10.0.2.2 to the host's loopback)
//! whose echo the guest checks. Host sockets are on 127.0.0.1 only; every wait is bounded. The
//! NIC runs in interrupt mode: `lsdev` must count its interrupts.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use boards::Board;
use serde_json::json;

use super::interrupts::{expect_lpis, interrupt_counts, with_console_driver};
use super::{any_board, boot_and_drive, has_device_tree, run_command, run_until, BootTest, PROMPT};
use crate::qemu::Options;
use crate::qmp::{self, Qmp};
use crate::{fail, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "virtio-net over legacy virtio-mmio: DHCP, ping, TCP echo both ways",
        applies: has_device_tree,
        run: |b, i| end_to_end(b, i, "legacy", false, None, &[]),
    },
    BootTest {
        name: "virtio-net over modern virtio-mmio: DHCP, ping, TCP echo both ways",
        applies: has_device_tree,
        run: |b, i| end_to_end(b, i, "modern", true, None, &[]),
    },
    BootTest {
        name: "virtio-net-pci on the PCIe host: DHCP, ping, TCP echo both ways",
        applies: has_device_tree,
        run: |b, i| end_to_end(b, i, "pci", false, Some("pci"), &[]),
    },
    BootTest {
        name: "virtio-net-pci with a GICv3: MSI-X as LPIs through the ITS; DHCP, ping, TCP echo both ways",
        applies: has_device_tree,
        run: |b, i| end_to_end(b, i, "pci-its", false, Some("pci"), &["-M", "gic-version=3"]),
    },
    BootTest {
        name: "virtio-net-pci on a PC: DHCP, ping, TCP echo both ways",
        applies: |board| !has_device_tree(board),
        run: |b, i| end_to_end(b, i, "pc", false, None, &[]),
    },
    BootTest {
        name: "virtio-net link taken down and up on the host (QMP set_link): the configuration interrupt tells the driver",
        applies: any_board,
        run: link_changes,
    },
];

/// The guest's echo port, forwarded from a free host port.
const GUEST_ECHO_PORT: u16 = 7;
/// What the host sends through the guest's echo server.
const ECHO_BYTES: usize = 4 << 20;
/// What the guest sends to the host's listener.
const SEND_BYTES: usize = 2 << 20;
const SEED: u64 = 0x5eed_0f7e_57ed;
/// Generous: QEMU emulates the CPU, and several test runs share the machine.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest a socket may stay silent before a transfer counts as stuck.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Boots with one NIC, `virtio-net-SUFFIX` (the board's default transport unless `suffix` says),
/// on virtio-mmio version 2 if `modern`, with `extra` QEMU arguments, and runs every check.
fn end_to_end(board: &Board, image: &Path, mode: &str, modern: bool, suffix: Option<&str>, extra: &[&str]) -> XtaskResult {
    let forwarded = free_loopback_port()?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("cannot listen on loopback: {e}")))?;
    let listener_port = listener.local_addr().map_err(|e| fail(format!("listener address: {e}")))?.port();
    let suffix = suffix.unwrap_or(board.qemu.virtio_transport.qemu_suffix());
    let options = user_net_options(board, modern, suffix, forwarded, GUEST_ECHO_PORT, extra)?;

    boot_and_drive(board, image, &options, &format!("net-{mode}"), |session| {
        let at_boot = interrupt_counts(session)?;
        let lsdev = run_command(session, "lsdev")?;
        expect_line(&lsdev, "mac: 52:54:00:12:34:56, link: up, queues: rx 256, tx 256", "lsdev")?;
        let up = run_command(session, "net up")?;
        expect_line(&up, "net up: address 10.0.2.15/24, gateway 10.0.2.2, dns 10.0.2.3", "net up")?;
        let ping = run_command(session, "net ping 10.0.2.2")?;
        expect_line(&ping, "net ping: 4 sent, 4 replies", "net ping")?;

        session.send_line(&format!("net echo {GUEST_ECHO_PORT}"))?;
        session.expect(&format!("net echo: listening on port {GUEST_ECHO_PORT}"), TRANSFER_TIMEOUT)?;
        let started = Instant::now();
        let echoed = echo_through_guest(forwarded)?;
        let elapsed = started.elapsed();
        let output = session.expect(PROMPT, TRANSFER_TIMEOUT)?;
        // Both ends must count every byte: the guest what its server echoed, the host what came
        // back in order (an early close would leave both short).
        let guest_echoed = reported_count(&output, "net echo: ", " bytes echoed")?;
        if (guest_echoed, echoed) != (ECHO_BYTES, ECHO_BYTES) {
            return Err(fail(format!(
                "net echo: the host sent {ECHO_BYTES} bytes, the guest echoed {guest_echoed}, {echoed} came back:\n{output}"
            )));
        }
        eprintln!(
            "xtask: net [{mode}]: host -> guest echo: {ECHO_BYTES} bytes sent, {echoed} came back in order, checked ({:.1} s)",
            elapsed.as_secs_f64()
        );

        let started = Instant::now();
        let host = thread::spawn(move || echo_one_connection(listener));
        session.send_line(&format!("net send 10.0.2.2 {listener_port} {SEND_BYTES} {SEED}"))?;
        let output = session.expect(PROMPT, TRANSFER_TIMEOUT)?;
        let expected = format!("net send: {SEND_BYTES} bytes sent to 10.0.2.2:{listener_port}, {SEND_BYTES} echoed back and verified");
        if !output.lines().any(|line| line.trim() == expected) {
            return Err(fail(format!("net send: expected exactly the line {expected:?} in:\n{output}")));
        }
        let host_echoed = host.join().map_err(|_| fail("the host echo thread panicked"))??;
        if host_echoed != SEND_BYTES {
            return Err(fail(format!("the host echoed {host_echoed} bytes, the guest sent {SEND_BYTES}")));
        }
        eprintln!(
            "xtask: net [{mode}]: guest -> host: {SEND_BYTES} bytes sent, {host_echoed} echoed by the host, checked by the guest ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
        eprint!("{}", interrupt_counts(session)?.expect_more_than(&at_boot, &with_console_driver(board, "virtio-net"))?);
        if extra.contains(&"gic-version=3") && suffix == "pci" {
            expect_lpis(session, "virtio-net")?;
        }
        Ok(())
    })
}

/// Options for a boot with only one NIC, `virtio-net-SUFFIX`, on virtio-mmio version 2 if
/// `modern`, on a user network with the host's loopback port `forwarded` forwarded to the
/// guest's `guest_port`, and `extra` QEMU arguments.
pub(super) fn user_net_options(
    board: &Board,
    modern: bool,
    suffix: &str,
    forwarded: u16,
    guest_port: u16,
    extra: &[&str],
) -> XtaskResult<Options> {
    let mut options = Options::with_default_devices(board)?;
    (options.net, options.gpu, options.modern_mmio) = (false, false, modern);
    options.disks.clear();
    let nic = format!("virtio-net-{suffix},netdev=net0");
    let netdev = format!("user,id=net0,hostfwd=tcp:127.0.0.1:{forwarded}-:{guest_port}");
    options.extra.extend(["-netdev".into(), netdev, "-device".into(), nic]);
    options.extra.extend(extra.iter().map(|arg| arg.to_string()));
    Ok(options)
}

/// The host takes the NIC's link down, then up again; each time `net link` says the device
/// signalled the change (its configuration interrupt came) and what the link is, and `lsdev`
/// follows.
fn link_changes(board: &Board, image: &Path) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    (options.gpu, options.disks) = (false, Vec::new());
    let socket = qmp::serve(&mut options, "net-link");
    boot_and_drive(board, image, &options, "net-link", |session| {
        expect_line(&run_command(session, "net link")?, "net link: up", "net link")?;
        let mut qmp = Qmp::connect(&socket, qmp::CONNECT_TIMEOUT)?;
        for (up, state) in [(false, "down"), (true, "up")] {
            qmp.execute("set_link", json!({ "name": "net0", "up": up }))?;
            let output = run_until(session, "net link", "net link: the device signalled a change", LINK_TIMEOUT)?;
            expect_line(&output, &format!("net link: {state}"), "net link")?;
            expect_line(&run_command(session, "lsdev")?, &format!("link: {state}"), "lsdev")?;
        }
        Ok(())
    })
}

/// How long the kernel may take to see a link change.
const LINK_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn expect_line(output: &str, line: &str, command: &str) -> XtaskResult {
    let searched = if command == "lsdev" { super::lsdev::unwrap_details(output) } else { output.to_string() };
    if searched.lines().any(|l| l.contains(line)) {
        return Ok(());
    }
    Err(fail(format!("{command}: expected the line {line:?} in:\n{output}")))
}

/// The number in the output's line `PREFIX<N>SUFFIX` (exactly that line, so `14194304` is not
/// taken for `4194304`).
fn reported_count(output: &str, prefix: &str, suffix: &str) -> XtaskResult<usize> {
    let number = output.lines().find_map(|line| line.trim().strip_prefix(prefix)?.strip_suffix(suffix));
    number
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail(format!("expected a line {prefix:?}N{suffix:?} in:\n{output}")))
}

/// A loopback port nothing listens on right now (for QEMU's port forward).
pub(super) fn free_loopback_port() -> XtaskResult<u16> {
    let probe = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("cannot find a free port: {e}")))?;
    Ok(probe.local_addr().map_err(|e| fail(format!("cannot find a free port: {e}")))?.port())
}

/// Sends [`ECHO_BYTES`] of varied data in chunks of varied sizes to the guest's echo server
/// through the forwarded `port`, closes the sending side, and checks that every byte comes back
/// in order before the guest closes. Returns how many bytes came back.
fn echo_through_guest(port: u16) -> XtaskResult<usize> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&address, STALL_TIMEOUT).map_err(|e| fail(format!("connect to {address}: {e}")))?;
    stream.set_read_timeout(Some(STALL_TIMEOUT)).and_then(|()| stream.set_write_timeout(Some(STALL_TIMEOUT))).map_err(|e| fail(format!("socket timeouts: {e}")))?;
    let mut writer = stream.try_clone().map_err(|e| fail(format!("clone socket: {e}")))?;
    let sender = thread::spawn(move || -> std::io::Result<()> {
        let (mut data, mut sizes) = (Stream::new(SEED), Stream::new(!SEED));
        let mut sent = 0;
        while sent < ECHO_BYTES {
            let len = (1 + sizes.next_u64() as usize % 32768).min(ECHO_BYTES - sent);
            let chunk: Vec<u8> = (0..len).map(|_| data.next_byte()).collect();
            writer.write_all(&chunk)?;
            sent += len;
        }
        writer.shutdown(Shutdown::Write)
    });
    let received = read_and_check(stream, Stream::new(SEED));
    let sent = sender.join().map_err(|_| fail("the sending thread panicked"))?;
    sent.map_err(|e| fail(format!("sending to the guest: {e}")))?;
    received
}

/// Reads until the peer closes, checking each byte against `expected`; returns the count.
fn read_and_check(mut stream: TcpStream, mut expected: Stream) -> XtaskResult<usize> {
    let deadline = Instant::now() + TRANSFER_TIMEOUT;
    let mut buffer = vec![0; 65536];
    let mut received = 0;
    loop {
        let len = match stream.read(&mut buffer) {
            Ok(0) => return Ok(received),
            Ok(len) => len,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(format!("reading the echo after {received} bytes: {e}"))),
        };
        for &byte in &buffer[..len] {
            let want = expected.next_byte();
            if byte != want {
                return Err(fail(format!("echo byte {received} is {byte:#04x}, sent {want:#04x}")));
            }
            received += 1;
        }
        if received > ECHO_BYTES || Instant::now() > deadline {
            return Err(fail(format!("echo still running after {received} bytes")));
        }
    }
}

/// Accepts one connection on `listener` and sends every byte back until the peer closes;
/// returns how many bytes it echoed.
fn echo_one_connection(listener: TcpListener) -> XtaskResult<usize> {
    listener.set_nonblocking(true).map_err(|e| fail(format!("listener: {e}")))?;
    let deadline = Instant::now() + TRANSFER_TIMEOUT;
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(fail(format!("no connection from the guest: {e}"))),
        }
    };
    let configured = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(STALL_TIMEOUT)))
        .and_then(|()| stream.set_write_timeout(Some(STALL_TIMEOUT)));
    configured.map_err(|e| fail(format!("guest connection: {e}")))?;
    let mut buffer = vec![0; 65536];
    let mut echoed = 0;
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(len) => {
                stream.write_all(&buffer[..len]).map_err(|e| fail(format!("echoing to the guest: {e}")))?;
                echoed += len;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(format!("reading from the guest after {echoed} bytes: {e}"))),
        }
        if Instant::now() > deadline {
            return Err(fail(format!("guest connection still open after {echoed} bytes")));
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(echoed)
}

/// A deterministic stream of varied bytes (xorshift64*).
struct Stream {
    state: u64,
}

impl Stream {
    fn new(seed: u64) -> Self {
        Stream { state: seed | 1 }
    }

    fn next_u64(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn next_byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }
}
