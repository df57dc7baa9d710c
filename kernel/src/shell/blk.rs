//! `blk`: the disks of the block class from the shell: list them, dump a sector, fill and check ranges
//! with the deterministic pattern (several requests in flight), flush. Each result is one line
//! the boot tests look for.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use registry::class::block::{human_size, SECTOR_SIZE};
use registry::class::BlockDevice;
use registry::Registry;
// The deterministic sector pattern the boot tests share (a function of the sector and seed).
use virtio_blk::pattern::{self, Mismatch};

use super::{shell_command, Command};
use crate::arch;

const USAGE: &str = "usage: blk [list] | blk read DISK SECTOR | blk fill|check DISK START COUNT SEED | blk flush DISK";

shell_command!(BLK = Command {
    name: "blk",
    usage: "blk list|read|fill|check|flush .. block-class disks: list, dump a sector, pattern fill/check, flush",
    run: blk,
});

fn blk(registry: &mut Registry, args: &[&str]) {
    match args {
        [] | ["list"] => list(registry),
        ["read", name, sector] => match number(sector) {
            Some(sector) => with_disk(registry, name, |disk| read(disk, sector)),
            None => println!("{USAGE}"),
        },
        [verb @ ("fill" | "check"), name, start, count, seed] => {
            let (Some(start), Some(count), Some(seed)) = (number(start), number(count), number(seed)) else {
                println!("{USAGE} (numbers in decimal or 0x hex)");
                return;
            };
            let run = if *verb == "fill" { fill } else { check };
            with_disk(registry, name, |disk| run(disk, start, count, seed));
        }
        ["flush", name] => with_disk(registry, name, |disk| match disk.flush() {
            Ok(()) => println!("blk flush: ok"),
            Err(error) => println!("blk flush: failed: {error}"),
        }),
        _ => println!("{USAGE}"),
    }
}

/// One line per disk, by the instance name the other commands take (`blk0`, or just `0`), with
/// the most requests it has had in flight at once.
fn list(registry: &mut Registry) {
    let mut any = false;
    let mut resized = Vec::new();
    for instance in registry.instances::<dyn BlockDevice>() {
        let (name, path, disk) = (&instance.name, &instance.path, &instance.device);
        let refreshed = disk.refresh_capacity().is_some();
        let info = disk.info();
        if refreshed {
            resized.push((path.clone(), capacity_label(info.capacity)));
        }
        print!(
            "{name}: {} sectors ({}), block size {}, id {}, {}, flush {}, peak in flight {}, {path}",
            info.capacity,
            human_size(info.capacity_bytes()),
            info.block_size,
            info.id.as_deref().unwrap_or("-"),
            if info.read_only { "read-only" } else { "read-write" },
            if info.flush { "yes" } else { "no" },
            disk.most_in_flight(),
        );
        match disk.failure() {
            Some(error) => println!(", failed: {error}"),
            None => println!(),
        }
        any = true;
    }
    if !any {
        println!("blk: no disk is bound");
    }
    // What lsdev shows follows the disk.
    for (path, capacity) in resized {
        registry.set_info(&path, "capacity", capacity);
    }
}

/// The capacity as `lsdev` shows it: `65536 sectors (32 MiB)`.
fn capacity_label(sectors: u64) -> String {
    alloc::format!("{sectors} sectors ({})", human_size(sectors.saturating_mul(SECTOR_SIZE as u64)))
}

/// The disk `name` names: an instance name (`blk0`), its number alone (`0`), or a device path.
pub(crate) fn find_disk(registry: &Registry, name: &str) -> Option<alloc::sync::Arc<dyn BlockDevice>> {
    let name = match name.parse::<usize>() {
        Ok(number) => alloc::format!("blk{number}"),
        Err(_) => String::from(name),
    };
    registry.instance::<dyn BlockDevice>(&name).map(|instance| instance.device)
}

/// Runs `action` on the disk `name` names.
fn with_disk(registry: &mut Registry, name: &str, action: impl FnOnce(&dyn BlockDevice)) {
    match find_disk(registry, name) {
        Some(disk) => action(&*disk),
        None => println!("blk: no disk {name} (blk list shows them)"),
    }
}

/// Hex dump of one sector (read as the whole block that holds it).
fn read(disk: &dyn BlockDevice, sector: u64) {
    let block = u64::from(disk.info().block_sectors());
    let first = sector - sector % block;
    let mut data = vec![0; block as usize * SECTOR_SIZE];
    if let Err(error) = disk.read(first, &mut data) {
        println!("blk read: failed: {error}");
        return;
    }
    let at = (sector - first) as usize * SECTOR_SIZE;
    println!("blk read: sector {sector}");
    for (line, bytes) in data[at..at + SECTOR_SIZE].chunks(16).enumerate() {
        print!("{:03x}:", line * 16);
        for byte in bytes {
            print!(" {byte:02x}");
        }
        let text: alloc::string::String =
            bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { char::from(b) } else { '.' }).collect();
        println!("  |{text}|");
    }
}

fn fill(disk: &dyn BlockDevice, start: u64, count: u64, seed: u64) {
    let began = arch::now_ns();
    match disk.write_with(start, count, &mut |sector, data| pattern::fill(sector, seed, data)) {
        Ok(()) => println!(
            "blk fill: {count} sectors ok ({} in {} ms)",
            human_size(count.saturating_mul(SECTOR_SIZE as u64)),
            (arch::now_ns() - began) / 1_000_000
        ),
        Err(error) => println!("blk fill: failed: {error}"),
    }
}

/// Reads the range back and reports the lowest sector that is not the pattern, if any.
fn check(disk: &dyn BlockDevice, start: u64, count: u64, seed: u64) {
    let mut lowest: Option<Mismatch> = None;
    let read = disk.read_with(start, count, &mut |sector, data| {
        if let Some(mismatch) = pattern::first_mismatch(sector, seed, data) {
            if lowest.is_none_or(|lowest| mismatch.sector < lowest.sector) {
                lowest = Some(mismatch);
            }
        }
    });
    match (read, lowest) {
        (Err(error), _) => println!("blk check: failed: {error}"),
        (Ok(()), None) => println!("blk check: {count} sectors ok"),
        (Ok(()), Some(m)) => println!(
            "blk check: mismatch at sector {} byte {}: expected {:#04x}, found {:#04x}",
            m.sector, m.offset, m.expected, m.found
        ),
    }
}

/// A decimal or `0x` hexadecimal number.
fn number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}
