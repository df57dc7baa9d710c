//! `cargo xtask profile`: where the guest's CPU spends its time while a shell command runs.
//! Boots the board, types the command, and samples the vCPU's program counter through QMP
//! (`info registers`) until the prompt comes back, then names each sample's function from the
//! kernel ELF (`llvm-symbolizer`) and prints the share of each.
//!
//! What a sample means under TCG: QEMU stops the vCPU at the next translation-block boundary,
//! so the counts are per function, not per instruction; an instruction that ends its block (an
//! I/O system register, a device access) attracts samples; a halted CPU (`wfi`, `hlt`) shows as
//! the instruction after the halt.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use boards::Board;
use serde_json::json;

use crate::boot_tests::PROMPT;
use crate::qemu::{self, Options, Session};
use crate::qmp::{self, Qmp};
use crate::{fail, kernel, XtaskResult};

const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest a profiled command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);
const SAMPLE_EVERY: Duration = Duration::from_millis(2);
/// Functions listed, most sampled first.
const SHOWN: usize = 25;

/// Profiles `command` (a shell command line) on `board` with its default devices.
pub fn run(board: &Board, command: &str) -> XtaskResult {
    let image = kernel::build(board)?;
    let mut options = Options::with_default_devices(board)?;
    let socket = qmp::serve(&mut options, "profile");
    let mut session = Session::start(qemu::boot_command(board, &image, &options))?;
    session.expect(PROMPT, BOOT_TIMEOUT)?;
    let mut qmp = Qmp::connect(&socket, qmp::CONNECT_TIMEOUT)?;
    session.send_line(command)?;
    let started = Instant::now();
    let mut samples: HashMap<u64, u64> = HashMap::new();
    while !session.output().ends_with(PROMPT) || started.elapsed() < SAMPLE_EVERY {
        if started.elapsed() > COMMAND_TIMEOUT {
            return Err(fail(format!("`{command}` still running after {COMMAND_TIMEOUT:?}")));
        }
        let registers = qmp.execute("human-monitor-command", json!({ "command-line": "info registers" }))?;
        if let Some(pc) = registers.as_str().and_then(program_counter) {
            *samples.entry(pc).or_default() += 1;
        }
        std::thread::sleep(SAMPLE_EVERY);
    }
    let elapsed = started.elapsed();
    print!("{}", session.output());
    println!();
    let total: u64 = samples.values().sum();
    if total == 0 {
        return Err(fail("no samples: the command ended at once"));
    }
    println!("xtask: profile of `{command}` on {}: {total} samples over {elapsed:.1?}", board.name);
    for (function, count) in by_function(&image.with_extension(""), &samples)?.into_iter().take(SHOWN) {
        println!("{:6.1} %  {function}", 100.0 * count as f64 / total as f64);
    }
    Ok(())
}

/// The program counter in `info registers` output: `PC=` (aarch64) or `RIP=` (x86-64).
fn program_counter(registers: &str) -> Option<u64> {
    ["PC=", "RIP="].iter().find_map(|key| {
        let at = registers.find(key)? + key.len();
        let hex: String = registers[at..].chars().take_while(char::is_ascii_hexdigit).collect();
        u64::from_str_radix(&hex, 16).ok()
    })
}

/// The samples summed per function of the ELF `elf`, most first.
fn by_function(elf: &Path, samples: &HashMap<u64, u64>) -> XtaskResult<Vec<(String, u64)>> {
    let addresses: Vec<u64> = samples.keys().copied().collect();
    let output = Command::new("llvm-symbolizer")
        .arg(format!("--obj={}", elf.display()))
        .args(["--functions=short", "--demangle", "--inlining=false"])
        .args(addresses.iter().map(|a| format!("{a:#x}")))
        .output()
        .map_err(|e| fail(format!("cannot run llvm-symbolizer: {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    // One block per address: the function, then file:line (more lines for inlined frames).
    let mut functions: HashMap<String, u64> = HashMap::new();
    for (address, block) in addresses.iter().zip(text.split("\n\n")) {
        let function = block.lines().next().filter(|f| !f.is_empty() && *f != "??").unwrap_or("?");
        *functions.entry(function.to_string()).or_default() += samples[address];
    }
    let mut sorted: Vec<(String, u64)> = functions.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::program_counter;

    #[test]
    fn the_program_counter_is_found_on_both_architectures() {
        assert_eq!(program_counter("PC=0000000040212a4c X00=0000000000000001"), Some(0x4021_2a4c));
        assert_eq!(program_counter("RAX=0000000000000000 RBX=1\nRIP=ffffffff81000000 RFL=00000046"), Some(0xffff_ffff_8100_0000));
        assert_eq!(program_counter("no registers"), None);
    }
}
