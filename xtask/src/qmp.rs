//! A small QMP client (the QEMU Machine Protocol: JSON lines over a unix socket) for tests:
//! the greeting, leaving capability negotiation, commands (`screendump` to a PNG,
//! `block_resize`, ...). Every wait is bounded.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::qemu::Options;
use crate::{fail, XtaskResult};

/// How long one command may take (a screendump of a large display under TCG included).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long QEMU may take to open its QMP socket.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Has QEMU (started with `options`) serve QMP on a socket of its own for the test `name`;
/// returns the socket's path for [`Qmp::connect`].
pub fn serve(options: &mut Options, name: &str) -> PathBuf {
    // A short path: unix socket paths are limited to about 100 bytes.
    let socket = std::env::temp_dir().join(format!("xtask-qmp-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    options.extra.extend(["-qmp".into(), format!("unix:{},server=on,wait=off", socket.display())]);
    socket
}

pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects to the QMP socket QEMU serves at `path` (`-qmp unix:PATH,server=on,wait=off`),
    /// retrying until `timeout` while QEMU starts, then negotiates capabilities.
    pub fn connect(path: &Path, timeout: Duration) -> XtaskResult<Self> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() >= deadline => {
                    return Err(fail(format!("no QMP socket at {} after {timeout:?}: {e}", path.display())))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        // Reads wake up regularly so that the deadline of each exchange is honoured.
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| fail(format!("QMP socket: {e}")))?;
        let writer = stream.try_clone().map_err(|e| fail(format!("QMP socket: {e}")))?;
        let mut qmp = Qmp { reader: BufReader::new(stream), writer };
        let greeting = qmp.read_message(Instant::now() + REPLY_TIMEOUT)?;
        if greeting.get("QMP").is_none() {
            return Err(fail(format!("QMP greeting expected, got {greeting}")));
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    /// Runs `command` and returns its `return` value; an `error` reply is a failure.
    pub fn execute(&mut self, command: &str, arguments: Value) -> XtaskResult<Value> {
        let request = json!({ "execute": command, "arguments": arguments });
        writeln!(self.writer, "{request}").map_err(|e| fail(format!("QMP {command}: {e}")))?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let mut reply = self.read_message(deadline)?;
            if let Some(value) = reply.get_mut("return") {
                return Ok(value.take());
            }
            if let Some(error) = reply.get("error") {
                return Err(fail(format!("QMP {command} failed: {error}")));
            }
            // Anything else is an asynchronous event: not the reply.
        }
    }

    /// Has QEMU write what the display shows to `out` as a PNG.
    pub fn screendump(&mut self, out: &Path) -> XtaskResult {
        let _ = std::fs::remove_file(out);
        self.execute("screendump", json!({ "filename": out, "format": "png" }))?;
        if !out.exists() {
            return Err(fail(format!("QEMU reported a screendump but {} does not exist", out.display())));
        }
        Ok(())
    }

    /// The next JSON message, waiting until `deadline`.
    fn read_message(&mut self, deadline: Instant) -> XtaskResult<Value> {
        let mut line = String::new();
        loop {
            match self.reader.read_line(&mut line) {
                Ok(0) => return Err(fail("QEMU closed the QMP socket")),
                Ok(_) if line.ends_with('\n') => break,
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(fail(format!("reading QMP: {e}"))),
            }
            if Instant::now() >= deadline {
                return Err(fail(format!("no QMP message within {REPLY_TIMEOUT:?} (partial: {line:?})")));
            }
        }
        serde_json::from_str(&line).map_err(|e| fail(format!("QMP sent {line:?}: {e}")))
    }
}
