//! `net http PORT [REQUESTS]`: a small HTTP/1.x server over smoltcp for the boot tests' `curl`.
//!
//! `GET /` answers a page naming the devices (the `lsdev` tree); `GET /bytes/N[?seed=S]`
//! answers the first N bytes of the stream `net send` sends (splitmix64 from seed S, 0 when
//! absent, each 64-bit output taken low byte first), N at most [`MAX_BYTES`]. `HEAD` is
//! answered too. Every response closes its connection (`Connection: close`, RFC 9112 §9.6) and
//! carries its exact `Content-Length`. Several clients are served at once: [`LISTENERS`]
//! sockets listen on the port, and each goes back to listening when its connection is over.
//!
//! The server runs until a line `q` or a Ctrl-C comes in on the console, or after REQUESTS
//! responses when given; connections still open then are dropped without a word. The console
//! is looked at every [`CONSOLE_POLL_NS`]: the NIC is borrowed from the registry while the
//! server runs, so the UART's receive interrupt cannot be armed.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use registry::class::net_smoltcp::Phy;

use super::stack::{now, Failure, Stack};
use super::tcp::Pattern;
use crate::console;
use crate::platform::PLATFORM;
use registry::Platform;

/// Connections served at once; a client beyond them is refused (smoltcp answers a SYN no
/// socket listens for with a reset).
const LISTENERS: usize = 8;
/// The longest request head (request line and header fields) read; longer ones get 431.
const MAX_REQUEST: usize = 8 * 1024;
/// The largest `/bytes/N`; larger N gets 400.
const MAX_BYTES: u64 = 64 << 20;
/// Receive side: a request head fits. Send side: enough to keep QEMU's user network busy.
const RECEIVE_BUFFER: usize = MAX_REQUEST;
const SEND_BUFFER: usize = 64 * 1024;
/// A connection that moves no byte for this long is dropped (a client that went away).
const STALL_TIMEOUT_NS: u64 = 20_000_000_000;
/// How often the console is looked at for the stop key while the NIC is quiet.
const CONSOLE_POLL_NS: u64 = 20_000_000;
const CTRL_C: u8 = 0x03;

/// What a `net http` run did.
pub struct Report {
    /// Responses sent in full (any status).
    pub served: usize,
    /// Connections dropped before their response was out (reset by the peer, stalled).
    pub dropped: usize,
}

/// Serves `page` at `/` and the byte stream at `/bytes/N` on `port` until stopped (see the
/// module comment), printing one line per response.
pub fn serve(stack: &mut Stack, nic: &mut Phy, port: u16, page: &str, limit: Option<usize>) -> Result<Report, Failure> {
    let mut connections = Vec::with_capacity(LISTENERS);
    for _ in 0..LISTENERS {
        match Connection::listen(stack, port) {
            Ok(connection) => connections.push(connection),
            Err(failure) => {
                connections.into_iter().for_each(|connection: Connection| connection.remove(stack));
                return Err(failure);
            }
        }
    }
    // The sockets listen before the first poll, so a client may connect as soon as it reads this.
    println!("net http: serving on port {port} ({LISTENERS} connections at once; q or Ctrl-C stops)");
    let result = serve_loop(stack, nic, port, page, limit, &mut connections);
    connections.into_iter().for_each(|connection| connection.remove(stack));
    result
}

fn serve_loop(
    stack: &mut Stack,
    nic: &mut Phy,
    port: u16,
    page: &str,
    limit: Option<usize>,
    connections: &mut [Connection],
) -> Result<Report, Failure> {
    let mut report = Report { served: 0, dropped: 0 };
    let mut stop = StopKey::default();
    loop {
        stack.iface.poll(now(), nic, &mut stack.sockets);
        if let Some(error) = nic.nic().error() {
            return Err(Failure::Error(format!("NIC failed: {error}")));
        }
        let time = PLATFORM.now_ns();
        for connection in connections.iter_mut() {
            match connection.step(stack, page, time) {
                Outcome::Busy => {}
                Outcome::Served => report.served += 1,
                Outcome::Dropped(why) => {
                    println!("net http: connection dropped: {why}");
                    report.dropped += 1;
                }
            }
            if connection.finished {
                connection.relisten(stack, port)?;
            }
        }
        if stop.pressed() || limit.is_some_and(|limit| report.served >= limit) {
            return Ok(report);
        }
        let timers = stack.iface.poll_delay(now(), &stack.sockets).map_or(u64::MAX, |delay| delay.total_micros() * 1000);
        nic.nic().idle_until(time.saturating_add(timers.min(CONSOLE_POLL_NS)));
    }
}

/// Ctrl-C, or `q` then Enter, typed at the console; other bytes are dropped.
#[derive(Default)]
struct StopKey {
    q_typed: bool,
}

impl StopKey {
    fn pressed(&mut self) -> bool {
        while let Some(byte) = console::try_read_byte() {
            match byte {
                CTRL_C => return true,
                b'\r' | b'\n' if self.q_typed => return true,
                b'q' => self.q_typed = true,
                _ => self.q_typed = false,
            }
        }
        false
    }
}

/// One listening socket and the exchange on it.
struct Connection {
    handle: SocketHandle,
    request: Vec<u8>,
    response: Option<Response>,
    last_progress: u64,
    /// The exchange is over: the socket is to be replaced by a fresh listening one.
    finished: bool,
}

enum Outcome {
    Busy,
    Served,
    Dropped(String),
}

impl Connection {
    fn listen(stack: &mut Stack, port: u16) -> Result<Connection, Failure> {
        let receive = tcp::SocketBuffer::new(vec![0; RECEIVE_BUFFER]);
        let mut socket = tcp::Socket::new(receive, tcp::SocketBuffer::new(vec![0; SEND_BUFFER]));
        socket.listen(port).map_err(|e| Failure::Error(format!("cannot listen on port {port}: {e}")))?;
        let handle = stack.sockets.add(socket);
        Ok(Connection { handle, request: Vec::new(), response: None, last_progress: PLATFORM.now_ns(), finished: false })
    }

    /// Drops the socket (whatever its state: a connection in TIME-WAIT needs no more from us,
    /// the client has closed) and listens again on a fresh one.
    fn relisten(&mut self, stack: &mut Stack, port: u16) -> Result<(), Failure> {
        // The fresh socket first: on failure this one still owns a socket in the set.
        let fresh = Connection::listen(stack, port)?;
        stack.sockets.remove(core::mem::replace(self, fresh).handle);
        Ok(())
    }

    fn remove(self, stack: &mut Stack) {
        stack.sockets.remove(self.handle);
    }

    /// Reads the request, answers it, and reports when the exchange is over.
    fn step(&mut self, stack: &mut Stack, page: &str, time: u64) -> Outcome {
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.handle);
        if socket.state() == tcp::State::Listen {
            self.last_progress = time;
            return Outcome::Busy;
        }
        let mut moved = false;
        if self.response.is_none() {
            moved |= self.read_request(socket, page);
            if self.response.is_none() && !socket.may_recv() && socket.state() != tcp::State::SynReceived {
                // The client closed (or reset) before a whole request head came.
                socket.abort();
                self.finished = true;
                return Outcome::Dropped(String::from("closed before a whole request came"));
            }
        }
        if let Some(response) = self.response.as_mut() {
            moved |= response.write(socket);
            if response.is_sent() && socket.may_send() {
                // The FIN goes after the queued bytes.
                socket.close();
            }
        }
        if moved {
            self.last_progress = time;
        }
        match socket.state() {
            tcp::State::Closed | tcp::State::TimeWait => {
                self.finished = true;
                match &self.response {
                    Some(response) if response.is_sent() && socket.send_queue() == 0 => Outcome::Served,
                    Some(response) => Outcome::Dropped(format!("{}: closed before the response was out", response.summary)),
                    None => Outcome::Dropped(String::from("closed before a whole request came")),
                }
            }
            _ if time.saturating_sub(self.last_progress) > STALL_TIMEOUT_NS => {
                socket.abort();
                self.finished = true;
                Outcome::Dropped(format!("no progress for {} s", STALL_TIMEOUT_NS / 1_000_000_000))
            }
            _ => Outcome::Busy,
        }
    }

    /// Takes what the client sent into the request; once the head is whole (or too long),
    /// prepares the response. Whether any byte came.
    fn read_request(&mut self, socket: &mut tcp::Socket, page: &str) -> bool {
        let request = &mut self.request;
        let took = socket
            .recv(|data| {
                let len = data.len().min(MAX_REQUEST - request.len());
                request.extend_from_slice(&data[..len]);
                (len, len)
            })
            .unwrap_or(0);
        let response = match head_end(&self.request) {
            Some(end) => Some(respond(&self.request[..end], page)),
            None if self.request.len() >= MAX_REQUEST => Some(Response::error(
                431,
                "Request Header Fields Too Large",
                &format!("the request head is longer than {MAX_REQUEST} bytes"),
                "(request too long)",
            )),
            None => None,
        };
        if let Some(response) = response {
            println!("net http: {}", response.log_line());
            self.response = Some(response);
        }
        took > 0
    }
}

/// Where the request head ends (after its empty line: CRLF CRLF, or bare LF LF, which RFC
/// 9112 §2.2 lets a server accept).
fn head_end(request: &[u8]) -> Option<usize> {
    let crlf = request.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4);
    let lf = request.windows(2).position(|w| w == b"\n\n").map(|at| at + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The response to a whole request head.
fn respond(head: &[u8], page: &str) -> Response {
    let Ok(head) = core::str::from_utf8(head) else {
        return Response::error(400, "Bad Request", "the request head is not text", "(malformed request)");
    };
    let line = head.lines().next().unwrap_or("");
    let words: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = words[..] else {
        return Response::error(400, "Bad Request", "the request line is not METHOD TARGET VERSION", "(malformed request)");
    };
    let summary = format!("{method} {target}");
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Response::error(400, "Bad Request", &format!("unsupported version {version:?}: HTTP/1.0 or 1.1"), &summary);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut response = Response::error(405, "Method Not Allowed", "only GET and HEAD", &summary);
            response.extra_fields = "Allow: GET, HEAD\r\n";
            return response;
        }
    };
    let mut response = match target.split_once('?') {
        _ if target == "/" => Response::ok("text/html; charset=utf-8", Body::Text(page.as_bytes().to_vec()), &summary),
        _ if !target.starts_with('/') => Response::error(400, "Bad Request", "the target is not a path", &summary),
        _ if !target.starts_with("/bytes/") => Response::error(404, "Not Found", "no such path: try / or /bytes/N", &summary),
        Some((path, query)) => bytes_response(&path["/bytes/".len()..], Some(query), &summary),
        None => bytes_response(&target["/bytes/".len()..], None, &summary),
    };
    // HEAD: the fields GET would send, Content-Length included, without the body (RFC 9110 §9.3.2).
    response.send_body = !head_only;
    response
}

/// `/bytes/N[?seed=S]`.
fn bytes_response(count: &str, query: Option<&str>, summary: &str) -> Response {
    let decimal = |text: &str| if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) { text.parse::<u64>().ok() } else { None };
    let Some(count) = decimal(count) else {
        return Response::error(400, "Bad Request", "N in /bytes/N must be a decimal byte count", summary);
    };
    if count > MAX_BYTES {
        return Response::error(400, "Bad Request", &format!("N in /bytes/N is above the limit of {MAX_BYTES} bytes"), summary);
    }
    let seed = match query.map(|query| query.strip_prefix("seed=").and_then(decimal)) {
        None => 0,
        Some(Some(seed)) => seed,
        Some(None) => return Response::error(400, "Bad Request", "the only query is seed=S, S a decimal u64", summary),
    };
    let mut response = Response::ok("application/octet-stream", Body::Pattern(Pattern::new(seed)), summary);
    response.length = count;
    response
}

enum Body {
    Text(Vec<u8>),
    /// `length` bytes of `net send`'s stream.
    Pattern(Pattern),
}

/// A response being sent: its head, then its body.
struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    /// Header fields beyond the usual ones, each ending in CRLF.
    extra_fields: &'static str,
    body: Body,
    /// The body's length: what `Content-Length` says.
    length: u64,
    /// False for HEAD: the head only.
    send_body: bool,
    /// The head, built at the first write, and how much of it is out.
    head: Option<(Vec<u8>, usize)>,
    body_sent: u64,
    /// The server's log line for it: `GET /bytes/5 200 5`.
    summary: String,
}

impl Response {
    fn ok(content_type: &'static str, body: Body, summary: &str) -> Response {
        let length = match &body {
            Body::Text(text) => text.len() as u64,
            Body::Pattern(_) => 0,
        };
        Response {
            status: 200,
            reason: "OK",
            content_type,
            extra_fields: "",
            body,
            length,
            send_body: true,
            head: None,
            body_sent: 0,
            summary: String::from(summary),
        }
    }

    fn error(status: u16, reason: &'static str, message: &str, summary: &str) -> Response {
        let text = format!("{status} {reason}: {message}\n").into_bytes();
        let mut response = Response::ok("text/plain; charset=utf-8", Body::Text(text), summary);
        (response.status, response.reason) = (status, reason);
        response
    }

    /// The server's log line: request, status, body bytes.
    fn log_line(&self) -> String {
        let body = if self.send_body { self.length } else { 0 };
        format!("{} {} {body}", self.summary, self.status)
    }

    fn body_left(&self) -> u64 {
        if self.send_body { self.length - self.body_sent } else { 0 }
    }

    fn is_sent(&self) -> bool {
        self.head.as_ref().is_some_and(|(head, sent)| *sent == head.len()) && self.body_left() == 0
    }

    /// Puts as much of the response into the socket as it takes; whether any byte went.
    fn write(&mut self, socket: &mut tcp::Socket) -> bool {
        let mut moved = false;
        // The free space may wrap around the end of the ring: two rounds fill it.
        for _ in 0..2 {
            let written = socket.send(|free| {
                let len = self.fill(free);
                (len, len)
            });
            match written {
                Ok(len) if len > 0 => moved = true,
                _ => break,
            }
        }
        moved
    }

    /// Copies the next bytes of the response into `out`; how many.
    fn fill(&mut self, out: &mut [u8]) -> usize {
        let (status, reason, content_type, extra, length) =
            (self.status, self.reason, self.content_type, self.extra_fields, self.length);
        let (head, head_sent) = self.head.get_or_insert_with(|| {
            let head = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n{extra}Connection: close\r\n\r\n"
            );
            (head.into_bytes(), 0)
        });
        let from_head = (head.len() - *head_sent).min(out.len());
        out[..from_head].copy_from_slice(&head[*head_sent..*head_sent + from_head]);
        *head_sent += from_head;
        let out = &mut out[from_head..];
        let from_body = usize::try_from(self.body_left()).unwrap_or(usize::MAX).min(out.len());
        match &mut self.body {
            Body::Text(text) => {
                // A text body is in memory: its offsets fit a usize.
                let start = self.body_sent as usize;
                out[..from_body].copy_from_slice(&text[start..start + from_body]);
            }
            Body::Pattern(pattern) => out[..from_body].iter_mut().for_each(|byte| *byte = pattern.next_byte()),
        }
        self.body_sent += from_body as u64;
        from_head + from_body
    }
}

/// The page at `/`: the device tree as `lsdev` prints it, and what else is served.
pub fn index_page(lsdev: &str) -> String {
    let mut escaped = String::with_capacity(lsdev.len());
    for c in lsdev.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>test kernel: devices</title></head><body>\n\
         <h1>Devices</h1>\n<pre>\n{escaped}</pre>\n\
         <p><a href=\"/bytes/1024\">/bytes/N</a>: N bytes (at most {MAX_BYTES}) of the splitmix64 stream \
         <code>net send</code> sends, from seed 0 or <code>?seed=S</code>.</p>\n</body></html>\n"
    )
}
