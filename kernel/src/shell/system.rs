//! `help`, `lsdev`, `irqs`, `poweroff`.

use registry::Registry;

use super::{shell_command, Command, COMMANDS};
use crate::arch;

shell_command!(HELP = Command { name: "help", usage: "help                 this list", run: help });
shell_command!(LSDEV = Command {
    name: "lsdev",
    usage: "lsdev [--json]       the device tree, drivers and probe outcomes",
    run: lsdev,
});
shell_command!(IRQS = Command {
    name: "irqs",
    usage: "irqs                 every hooked interrupt and its counts (like /proc/interrupts)",
    run: |registry, _| print!("{}", registry::lsdev::interrupts(registry)),
});
shell_command!(POWEROFF = Command { name: "poweroff", usage: "poweroff             power the machine off", run: |_, _| arch::poweroff() });

fn help(_: &mut Registry, _: &[&str]) {
    let mut commands: alloc::vec::Vec<&Command> = COMMANDS.iter().collect();
    commands.sort_by_key(|c| c.name);
    for command in commands {
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
