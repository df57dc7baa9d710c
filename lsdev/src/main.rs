//! `lsdev [--json] FILE.dtb`: the device tree of a DTB as the registry would bind it.

use std::process::ExitCode;

const USAGE: &str = "usage: lsdev [--json] FILE.dtb\n\
  Prints each device of the device tree blob with its address, compatible, IRQs, the driver\n\
  it would bind to and its state. --json prints the same as JSON.";

fn main() -> ExitCode {
    let mut json = false;
    let mut file = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if file.is_none() && !arg.starts_with('-') => file = Some(arg),
            _ => {
                eprintln!("lsdev: unexpected argument '{arg}'\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(file) = file else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let blob = match std::fs::read(&file) {
        Ok(blob) => blob,
        Err(e) => {
            eprintln!("lsdev: cannot read {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match lsdev::plan_dtb(&blob) {
        Ok(registry) if json => print!("{}", registry::lsdev::json(&registry)),
        Ok(registry) => print!("{}", registry::lsdev::text(&registry)),
        Err(e) => {
            eprintln!("lsdev: {file} is not a valid device tree blob: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
