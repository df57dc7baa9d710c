//! A small serial shell: the commands tests (and people) use to look at and drive devices.
//!
//! Each command group lives in its own file below and registers its commands with
//! [`shell_command!`]; `help` lists them all.

#[cfg(target_arch = "x86_64")]
mod acpi;
mod gpu;
mod net;
mod blk;
mod fault;
mod system;
mod bench;
#[cfg(feature = "virtio-drivers-peer")]
mod peer;

use alloc::string::String;
use alloc::vec::Vec;

use registry::{Platform, Registry};

use crate::console;
use crate::platform::PLATFORM;

const PROMPT: &str = "kernel> ";
/// Longer lines are cut: nothing here needs more, and the buffer must stay bounded.
const MAX_LINE: usize = 256;

pub struct Command {
    pub name: &'static str,
    /// One line for `help`: the syntax, padded, then what it does.
    pub usage: &'static str,
    pub run: fn(&mut Registry, &[&str]),
}

/// Every command, collected by the linker from the `shell_command!`s below.
#[linkme::distributed_slice]
pub static COMMANDS: [Command];

/// Registers a shell command: `shell_command!(NAME = Command { .. });`.
macro_rules! shell_command {
    ($static_name:ident = $command:expr) => {
        #[linkme::distributed_slice($crate::shell::COMMANDS)]
        static $static_name: $crate::shell::Command = $command;
    };
}
pub(crate) use shell_command;

/// Reads commands from the console forever.
pub fn run(registry: &mut Registry) -> ! {
    loop {
        print!("{PROMPT}");
        let line = read_line(registry);
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&name, args)) = words.split_first() else { continue };
        match COMMANDS.iter().find(|c| c.name == name) {
            Some(command) => (command.run)(registry, args),
            None => println!("unknown command: {name} (try help)"),
        }
    }
}

/// One line from the console, echoed, with backspace handling.
fn read_line(registry: &mut Registry) -> String {
    let mut line = String::new();
    loop {
        match next_byte(registry) {
            b'\r' | b'\n' => {
                println!();
                return line;
            }
            0x08 | 0x7f => {
                if line.pop().is_some() {
                    print!("\x08 \x08");
                }
            }
            byte if (0x20..0x7f).contains(&byte) && line.len() < MAX_LINE => {
                line.push(byte as char);
                print!("{}", byte as char);
            }
            _ => {}
        }
    }
}

/// The next byte typed at the console. Between bytes the CPU sleeps: until the UART's receive
/// interrupt when it has one (waking now and then all the same, so a lost interrupt costs a
/// moment, not the shell), else until the next look at the UART.
fn next_byte(registry: &mut Registry) -> u8 {
    /// How long the shell sleeps at most with the receive interrupt armed, and between looks
    /// at a UART without one.
    const SLEEP_ARMED_NS: u64 = 100_000_000;
    const SLEEP_POLLING_NS: u64 = 1_000_000;
    loop {
        if let Some(byte) = console::try_read_byte() {
            return byte;
        }
        let armed = console::arm_receive_interrupt(registry);
        let sleep = if armed { SLEEP_ARMED_NS } else { SLEEP_POLLING_NS };
        PLATFORM.idle_until(PLATFORM.now_ns().saturating_add(sleep));
    }
}
