//! Boot time per board, from host-side timestamps on the serial stream: QEMU's start, the
//! kernel's first line (its entry, give or take the console set-up), the probe log's summary,
//! and the shell prompt that follows the `lsdev` tree the kernel prints after probing.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use boards::Board;

use super::report::{Results, System};
use crate::boot_tests::PROMPT;
use crate::qemu::{self, Options};
use crate::{fail, XtaskResult};

const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// What the kernel prints first, then after `probe_all`.
const BANNER: &str = "test-kernel: ";
const PROBE_LOG: &str = "probe_all:";

pub const START_TO_ENTRY: &str = "QEMU start -> kernel entry";
pub const START_TO_PROBE: &str = "QEMU start -> probe log";
pub const START_TO_LSDEV: &str = "QEMU start -> lsdev printed (Linux: /init)";
pub const ENTRY_TO_LSDEV: &str = "kernel entry -> lsdev printed (Linux: /init)";

/// Boots `board` `runs` times with its default devices and files the times in milliseconds.
pub fn measure(board: &Board, image: &Path, runs: usize, results: &mut Results) -> XtaskResult {
    let options = Options::with_default_devices(board)?;
    for _ in 0..runs {
        let [entry, probe, lsdev] = one_boot(board, image, &options)?;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        results.add("boot", START_TO_ENTRY, board.name, "ms", System::Ours, ms(entry));
        results.add("boot", START_TO_PROBE, board.name, "ms", System::Ours, ms(probe));
        results.add("boot", START_TO_LSDEV, board.name, "ms", System::Ours, ms(lsdev));
        results.add("boot", ENTRY_TO_LSDEV, board.name, "ms", System::Ours, ms(lsdev - entry));
    }
    Ok(())
}

/// The times from QEMU's start to the banner, the probe log and the prompt.
fn one_boot(board: &Board, image: &Path, options: &Options) -> XtaskResult<[Duration; 3]> {
    let mut command: Command = qemu::boot_command(board, image, options);
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", qemu::describe(&command))))?;
    let mut stdout = child.stdout.take().ok_or_else(|| fail("QEMU's stdout is not piped"))?;
    let (sender, arrivals) = mpsc::channel();
    // Stamps each chunk as it arrives, so the times do not depend on how often anyone looks.
    thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            if sender.send((Instant::now(), buffer[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut stamps: [Option<Duration>; 3] = [None; 3];
    let outcome = loop {
        let left = BOOT_TIMEOUT.saturating_sub(started.elapsed());
        let Ok((at, bytes)) = arrivals.recv_timeout(left) else {
            break Err(fail(format!("{} did not reach the shell prompt in {BOOT_TIMEOUT:?}", board.name)));
        };
        seen.extend(bytes);
        let text = String::from_utf8_lossy(&seen);
        for (stamp, marker) in stamps.iter_mut().zip([BANNER, PROBE_LOG, PROMPT]) {
            if stamp.is_none() && text.contains(marker) {
                *stamp = Some(at - started);
            }
        }
        if let [Some(entry), Some(probe), Some(lsdev)] = stamps {
            break Ok([entry, probe, lsdev]);
        }
    };
    if let Some(stdin) = child.stdin.as_mut() {
        let _ = stdin.write_all(b"poweroff\n");
    }
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !matches!(child.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    outcome
}
