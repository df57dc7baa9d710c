//! `blk`: the virtio-blk disks from the shell: list them, dump a sector, fill and check ranges
//! with the deterministic pattern (several requests in flight), flush. Each result is one line
//! the boot tests look for.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use registry::Registry;
use virtio_blk::pattern::{self, Mismatch};
use virtio_blk::{human_size, BlockDevice, SECTOR_SIZE};

use super::{shell_command, Command};
use crate::arch;

const USAGE: &str = "usage: blk [list] | blk read DISK SECTOR | blk fill|check DISK START COUNT SEED | blk flush DISK";

shell_command!(BLK = Command {
    name: "blk",
    usage: "blk list|read|fill|check|flush .. virtio-blk disks: list, dump a sector, pattern fill/check, flush",
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

/// One line per disk, numbered as the other commands name them (`0` or `blk0`), with the most
/// requests it has had in flight at once.
fn list(registry: &mut Registry) {
    let mut any = false;
    let mut resized = Vec::new();
    for (index, (path, disk)) in registry.driver_data::<BlockDevice>().enumerate() {
        if disk.refresh_capacity().is_some() {
            resized.push((String::from(path), disk.info().capacity_label()));
        }
        let info = disk.info();
        print!(
            "blk{index}: {} sectors ({}), block size {}, id {}, {}, flush {}, peak in flight {}, {path}",
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
        println!("blk: no virtio-blk disk is bound");
    }
    // What lsdev shows follows the disk.
    for (path, capacity) in resized {
        registry.set_info(&path, "capacity", capacity);
    }
}

/// Runs `action` on the disk `name` (`0`, `blk0`) names.
fn with_disk(registry: &mut Registry, name: &str, action: impl FnOnce(&mut BlockDevice)) {
    let index = name.strip_prefix("blk").unwrap_or(name).parse::<usize>().ok();
    match index.and_then(|index| registry.driver_data::<BlockDevice>().nth(index)) {
        Some((_, disk)) => action(disk),
        None => println!("blk: no disk {name} (blk list shows them)"),
    }
}

/// Hex dump of one sector (read as the whole block that holds it).
fn read(disk: &mut BlockDevice, sector: u64) {
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

fn fill(disk: &mut BlockDevice, start: u64, count: u64, seed: u64) {
    let began = arch::now_ns();
    match disk.write_with(start, count, |sector, data| pattern::fill(sector, seed, data)) {
        Ok(()) => println!(
            "blk fill: {count} sectors ok ({} in {} ms)",
            human_size(count.saturating_mul(SECTOR_SIZE as u64)),
            (arch::now_ns() - began) / 1_000_000
        ),
        Err(error) => println!("blk fill: failed: {error}"),
    }
}

/// Reads the range back and reports the lowest sector that is not the pattern, if any.
fn check(disk: &mut BlockDevice, start: u64, count: u64, seed: u64) {
    let mut lowest: Option<Mismatch> = None;
    let read = disk.read_with(start, count, |sector, data| {
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
