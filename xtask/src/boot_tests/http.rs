//! Boot tests of the guest's `net http` server: the host fetches with `curl` through a port
//! forward on QEMU's user network and checks status, `Content-Length` and body of the device
//! page, of `/bytes/N` (byte for byte against the host's own splitmix64 stream, 8 MiB the
//! largest), of error answers, of eight connections held open at once and four curls at once;
//! then the guest's count of responses.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use boards::Board;

use super::net::{expect_line, free_loopback_port, user_net_options};
use super::{boot_and_drive, has_device_tree, run_command, BootTest, PROMPT};
use crate::{fail, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "net http over modern virtio-mmio: curl fetches /, /bytes/N up to 8 MiB, errors, 8 connections at once",
        applies: has_device_tree,
        run: |b, i| serve_and_fetch(b, i, "modern", true, None),
    },
    BootTest {
        name: "net http over virtio-net-pci on the PCIe host: curl fetches /, /bytes/N up to 8 MiB, errors, 8 connections at once",
        applies: has_device_tree,
        run: |b, i| serve_and_fetch(b, i, "pci", false, Some("pci")),
    },
    BootTest {
        name: "net http over virtio-net-pci on a PC: curl fetches /, /bytes/N up to 8 MiB, errors, 8 connections at once",
        applies: |board| !has_device_tree(board),
        run: |b, i| serve_and_fetch(b, i, "pc", false, None),
    },
];

const GUEST_PORT: u16 = 80;
/// The largest fetch.
const BIG: usize = 8 << 20;
const BIG_SEED: u64 = 0x5eed;
/// The guest's limit for `/bytes/N`.
const MAX_BYTES: usize = 64 << 20;
/// Generous: QEMU emulates the CPU, and several test runs share the machine.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);
/// The guest's connections at once.
const LISTENERS: usize = 8;
/// The longest request head the guest reads.
const MAX_REQUEST: usize = 8 * 1024;
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Boots with one NIC (`virtio-net-SUFFIX`, the board's default transport unless `suffix` says;
/// on virtio-mmio version 2 if `modern`), serves, fetches, checks, stops the server.
fn serve_and_fetch(board: &Board, image: &Path, mode: &str, modern: bool, suffix: Option<&str>) -> XtaskResult {
    let port = free_loopback_port()?;
    let suffix = suffix.unwrap_or(board.qemu.virtio_transport.qemu_suffix());
    let options = user_net_options(board, modern, suffix, port, GUEST_PORT, &[])?;
    boot_and_drive(board, image, &options, &format!("http-{mode}"), |session| {
        let lsdev = run_command(session, "lsdev")?;
        let up = run_command(session, "net up")?;
        expect_line(&up, "net up: address 10.0.2.15/24", "net up")?;
        session.send_line(&format!("net http {GUEST_PORT}"))?;
        session.expect(&format!("net http: serving on port {GUEST_PORT}"), START_TIMEOUT)?;
        let requests = fetch_and_check(port, &lsdev, mode)?;
        // Only the line `q` stops the server (no stray newline is left for the shell).
        session.send_line("q")?;
        let output = session.expect(PROMPT, START_TIMEOUT)?;
        expect_line(&output, &format!("net http: GET {} 200 {BIG}", bytes_path(BIG, Some(BIG_SEED))), "net http")?;
        let stopped = format!("net http: stopped: {requests} responses sent, 0 connections dropped");
        expect_line(&output, &stopped, "net http")?;
        // Again, stopping by itself after one response.
        session.send_line(&format!("net http {GUEST_PORT} 1"))?;
        session.expect(&format!("net http: serving on port {GUEST_PORT}"), START_TIMEOUT)?;
        let path = bytes_path(3, Some(3));
        let fetched = Fetched::parse(&path, wait(curl(&format!("http://127.0.0.1:{port}{path}"), &[])?)?)?;
        fetched.expect(200, "application/octet-stream")?;
        expect_pattern(&path, &fetched.body, 3, 3)?;
        let output = session.expect(PROMPT, START_TIMEOUT)?;
        expect_line(&output, "net http: stopped: 1 responses sent, 0 connections dropped", "net http 80 1")
    })
}

/// Every fetch and check; returns how many requests the guest answered.
fn fetch_and_check(port: u16, lsdev: &str, mode: &str) -> XtaskResult<usize> {
    let base = format!("http://127.0.0.1:{port}");
    let mut requests = 0;

    let page = Fetched::parse(&format!("{base}/"), wait(curl(&format!("{base}/"), &[])?)?)?;
    requests += 1;
    page.expect(200, "text/html; charset=utf-8")?;
    let text = String::from_utf8_lossy(&page.body);
    let unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    // Every device row the guest's lsdev printed (path, address, match, IRQ, driver, state),
    // not the detail rows below them: those count interrupts, which go on.
    let rows: Vec<&str> = lsdev.lines().map(str::trim_end).filter(|line| line.starts_with('/') || line.contains("-- ")).collect();
    if !rows.iter().any(|row| row.contains("virtio-net") && row.ends_with("bound")) {
        return Err(fail(format!("lsdev shows no bound virtio-net row:\n{lsdev}")));
    }
    for line in rows {
        if !unescaped.contains(line) {
            return Err(fail(format!("the page at / lacks the lsdev line {line:?}:\n{text}")));
        }
    }
    if !unescaped.contains("virtio-net") {
        return Err(fail(format!("the page at / does not name the NIC's driver:\n{text}")));
    }

    for (count, seed) in [(0, None), (1, None), (1000, Some(7)), (65_537, Some(u64::MAX)), (BIG, Some(BIG_SEED))] {
        let path = bytes_path(count, seed);
        let started = Instant::now();
        let fetched = Fetched::parse(&path, wait(curl(&format!("{base}{path}"), &[])?)?)?;
        requests += 1;
        fetched.expect(200, "application/octet-stream")?;
        expect_pattern(&path, &fetched.body, count, seed.unwrap_or(0))?;
        if count == BIG {
            eprintln!("xtask: net http [{mode}]: {path}: {count} bytes checked ({:.1} s)", started.elapsed().as_secs_f64());
        }
    }

    let head = Fetched::parse("HEAD /bytes/100", wait(curl(&format!("{base}/bytes/100"), &["--head"])?)?)?;
    requests += 1;
    head.expect_head(200, "application/octet-stream", 100)?;

    for (path, status) in [("/nothing/here", 404), ("/bytes/12x", 400), (&*format!("/bytes/{}", MAX_BYTES + 1), 400)] {
        let fetched = Fetched::parse(path, wait(curl(&format!("{base}{path}"), &[])?)?)?;
        requests += 1;
        fetched.expect(status, "text/plain; charset=utf-8")?;
        let text = String::from_utf8_lossy(&fetched.body);
        if !text.starts_with(&format!("{status} ")) {
            return Err(fail(format!("{path}: the {status} body does not say so: {text:?}")));
        }
    }

    // What curl does not send: a malformed request line, a method but GET and HEAD, a request
    // head as long as the guest reads (8 KiB) without its end.
    let too_long = [b"GET /".as_slice(), &[b'a'; MAX_REQUEST - 5]].concat();
    let raw: [(&[u8], &str); 3] = [
        (b"NONSENSE\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"),
        (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 Method Not Allowed\r\n"),
        (&too_long, "HTTP/1.1 431 Request Header Fields Too Large\r\n"),
    ];
    for (request, status_line) in raw {
        let response = raw_request(port, request)?;
        requests += 1;
        if !response.starts_with(status_line.as_bytes()) {
            let request = String::from_utf8_lossy(&request[..request.len().min(40)]);
            return Err(fail(format!("{request:?} got {:?}, expected {status_line:?}", String::from_utf8_lossy(&response))));
        }
    }

    // All the guest's connections open at once: each sends half its request, then they finish
    // in reverse order, so each is answered only if the guest held every one of them open.
    let mut held = Vec::new();
    for i in 0..LISTENERS {
        let mut stream = connect(port)?;
        let request = format!("GET {} HTTP/1.1\r\nHost: guest\r\n", bytes_path(1000 + i, Some(i as u64)));
        stream.write_all(request.as_bytes()).map_err(|e| fail(format!("sending half a request: {e}")))?;
        held.push(stream);
    }
    for (i, mut stream) in held.into_iter().enumerate().rev() {
        let path = bytes_path(1000 + i, Some(i as u64));
        stream.write_all(b"\r\n").map_err(|e| fail(format!("{path}: finishing the request: {e}")))?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map_err(|e| fail(format!("{path}: reading the response: {e}")))?;
        requests += 1;
        let fetched = Fetched::parse(&path, response)?;
        fetched.expect(200, "application/octet-stream")?;
        expect_pattern(&path, &fetched.body, 1000 + i, i as u64)?;
    }

    // Four at once: each its own connection, all in flight together.
    let parallel: Vec<(usize, u64)> = (0..4).map(|i| ((1 << 20) + i * 4099, 100 + i as u64)).collect();
    let children: Vec<(String, Child)> = parallel
        .iter()
        .map(|&(count, seed)| {
            let path = bytes_path(count, Some(seed));
            curl(&format!("{base}{path}"), &[]).map(|child| (path, child))
        })
        .collect::<XtaskResult<_>>()?;
    let started = Instant::now();
    for ((path, child), &(count, seed)) in children.into_iter().zip(&parallel) {
        let fetched = Fetched::parse(&path, wait(child)?)?;
        requests += 1;
        fetched.expect(200, "application/octet-stream")?;
        expect_pattern(&path, &fetched.body, count, seed)?;
    }
    eprintln!("xtask: net http [{mode}]: 4 fetches at once checked ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(requests)
}

fn bytes_path(count: usize, seed: Option<u64>) -> String {
    match seed {
        Some(seed) => format!("/bytes/{count}?seed={seed}"),
        None => format!("/bytes/{count}"),
    }
}

/// Starts Debian's curl on `url`: one request, HTTP/1.1, the response head and body on stdout.
fn curl(url: &str, extra: &[&str]) -> XtaskResult<Child> {
    Command::new("/usr/bin/curl")
        .args(["--silent", "--show-error", "--http1.1", "--include", "--max-time"])
        .arg(FETCH_TIMEOUT.as_secs().to_string())
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run /usr/bin/curl (cargo xtask installs it): {e}")))
}

/// curl's stdout once it exited successfully.
fn wait(child: Child) -> XtaskResult<Vec<u8>> {
    let output = child.wait_with_output().map_err(|e| fail(format!("waiting for curl: {e}")))?;
    if !output.status.success() {
        return Err(fail(format!("curl failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr))));
    }
    Ok(output.stdout)
}

/// A connection to the guest's server, reads bounded by [`FETCH_TIMEOUT`].
fn connect(port: u16) -> XtaskResult<TcpStream> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&address, START_TIMEOUT).map_err(|e| fail(format!("connect to {address}: {e}")))?;
    stream.set_read_timeout(Some(FETCH_TIMEOUT)).map_err(|e| fail(format!("socket timeout: {e}")))?;
    Ok(stream)
}

/// Sends `request` as it is on a fresh connection and returns everything until the guest closes.
fn raw_request(port: u16, request: &[u8]) -> XtaskResult<Vec<u8>> {
    let mut stream = connect(port)?;
    stream.write_all(request).map_err(|e| fail(format!("sending a request: {e}")))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| fail(format!("reading a response: {e}")))?;
    Ok(response)
}

/// One response, as `curl --include` prints it (or as it came on the wire).
struct Fetched {
    what: String,
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn parse(what: &str, output: Vec<u8>) -> XtaskResult<Fetched> {
        let end = output
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| fail(format!("{what}: no response head in {:?}", String::from_utf8_lossy(&output))))?;
        let head = String::from_utf8_lossy(&output[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = match status_line.split(' ').collect::<Vec<_>>()[..] {
            ["HTTP/1.1", code, ..] => code.parse().ok(),
            _ => None,
        };
        let status = status.ok_or_else(|| fail(format!("{what}: bad status line {status_line:?}")))?;
        let fields = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
            .collect();
        Ok(Fetched { what: what.to_string(), status, fields, body: output[end + 4..].to_vec() })
    }

    fn field(&self, name: &str) -> XtaskResult<&str> {
        let mut values = self.fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(value), None) => Ok(value),
            _ => Err(fail(format!("{}: expected exactly one {name} field in {:?}", self.what, self.fields))),
        }
    }

    /// The status, the type, `Connection: close`, and a `Content-Length` the body matches.
    fn expect(&self, status: u16, content_type: &str) -> XtaskResult {
        self.expect_head(status, content_type, self.body.len())
    }

    fn expect_head(&self, status: u16, content_type: &str, length: usize) -> XtaskResult {
        if self.status != status {
            return Err(fail(format!("{}: status {}, expected {status}", self.what, self.status)));
        }
        let checks = [("content-type", content_type.to_string()), ("connection", "close".into()), ("content-length", length.to_string())];
        for (name, want) in checks {
            let value = self.field(name)?;
            if value != want {
                return Err(fail(format!("{}: {name} is {value:?}, expected {want:?}", self.what)));
            }
        }
        if length != self.body.len() && !self.body.is_empty() {
            return Err(fail(format!("{}: a body of {} bytes after a head-only answer", self.what, self.body.len())));
        }
        Ok(())
    }
}

/// `body` must be the first `count` bytes of the guest's `net send` stream from `seed`.
fn expect_pattern(what: &str, body: &[u8], count: usize, seed: u64) -> XtaskResult {
    if body.len() != count {
        return Err(fail(format!("{what}: {} bytes, expected {count}", body.len())));
    }
    let mut pattern = SplitMix64 { state: seed };
    let expected = (0..count.div_ceil(8)).flat_map(|_| pattern.next().to_le_bytes());
    match body.iter().zip(expected).position(|(got, want)| *got != want) {
        Some(at) => Err(fail(format!("{what}: byte {at} differs from the pattern"))),
        None => Ok(()),
    }
}

/// The kernel's `net send` / `net http` stream: splitmix64 outputs, low byte first.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
