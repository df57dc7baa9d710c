//! A small serial shell: the commands tests (and people) use to look at and drive devices.

use alloc::string::String;
use alloc::vec::Vec;

use registry::Registry;

use crate::{arch, console};

const PROMPT: &str = "kernel> ";
/// Longer lines are cut: nothing here needs more, and the buffer must stay bounded.
const MAX_LINE: usize = 256;

struct Command {
    name: &'static str,
    usage: &'static str,
    run: fn(&mut Registry, &[&str]),
}

const COMMANDS: &[Command] = &[
    Command { name: "help", usage: "help                 this list", run: help },
    Command { name: "lsdev", usage: "lsdev [--json]       the device tree, drivers and probe outcomes", run: lsdev },
    Command { name: "poweroff", usage: "poweroff             power the machine off", run: |_, _| arch::poweroff() },
];

/// Reads commands from the console forever.
pub fn run(registry: &mut Registry) -> ! {
    loop {
        print!("{PROMPT}");
        let line = read_line();
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&name, args)) = words.split_first() else { continue };
        match COMMANDS.iter().find(|c| c.name == name) {
            Some(command) => (command.run)(registry, args),
            None => println!("unknown command: {name} (try help)"),
        }
    }
}

/// One line from the console, echoed, with backspace handling.
fn read_line() -> String {
    let mut line = String::new();
    loop {
        let Some(byte) = console::try_read_byte() else {
            core::hint::spin_loop();
            continue;
        };
        match byte {
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

fn help(_: &mut Registry, _: &[&str]) {
    for command in COMMANDS {
        println!("  {}", command.usage);
    }
}

fn lsdev(registry: &mut Registry, args: &[&str]) {
    match args {
        [] => print!("{}", registry::lsdev::text(registry)),
        ["--json"] => print!("{}", registry::lsdev::json(registry)),
        _ => println!("usage: lsdev [--json]"),
    }
}
