//! `lsdev`: the registry's devices as a tree (one line per device) or as JSON.
//!
//! The text form follows U-Boot's `dm tree` and `lspci -tv`: the tree on the left, then the bus
//! address, the first match ID, the first IRQ, the driver and the state (with the reason when not
//! bound). It stays within 100 columns; the JSON form carries everything in full.
//! [`interrupts`] lists the hooked interrupts with their counts, like `/proc/interrupts`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::device::{BusAddress, DeviceIds};
use crate::irq::{IrqStats, LineState};
use crate::json;
use crate::tree::{DeviceNode, Registry};

const MAX_LINE: usize = 100;
const NAME_MAX: usize = 30;
const ADDRESS_MAX: usize = 12;
const IDS_MAX: usize = 18;
const IRQ_MAX: usize = 12;
const DRIVER_MAX: usize = 12;

/// Renders the tree as text.
pub fn text(registry: &Registry) -> String {
    let rows: Vec<Row> = tree_rows(registry);
    let width = |f: fn(&Row) -> &str, header: &str, max: usize| {
        rows.iter().map(|r| f(r).chars().count()).chain([header.len()]).max().unwrap_or(0).min(max)
    };
    let widths = [
        width(|r| &r.name, "DEVICE", NAME_MAX),
        width(|r| &r.address, "ADDRESS", ADDRESS_MAX),
        width(|r| &r.ids, "MATCH", IDS_MAX),
        width(|r| &r.irq, "IRQ", IRQ_MAX),
        width(|r| &r.driver, "DRIVER", DRIVER_MAX),
    ];
    let mut out = String::new();
    push_row(&mut out, &widths, ["DEVICE", "ADDRESS", "MATCH", "IRQ", "DRIVER"], "STATE");
    for row in &rows {
        let start = out.len();
        push_row(&mut out, &widths, [&row.name, &row.address, &row.ids, &row.irq, &row.driver], &row.state);
        let line_len = out[start..].trim_end_matches('\n').chars().count();
        if line_len > MAX_LINE {
            // Too long for one line: keep the label there and put the reason below, indented.
            out.truncate(start);
            push_row(&mut out, &widths, [&row.name, &row.address, &row.ids, &row.irq, &row.driver], row.state_word);
            let _ = writeln!(out, "{}  {}", row.continuation, row.state);
        }
        if !row.details.is_empty() {
            let _ = writeln!(out, "{}  {}", row.continuation, row.details);
        }
    }
    out
}

/// Renders every device as JSON: `{"devices":[...]}`, one device per line, parents first.
pub fn json(registry: &Registry) -> String {
    let mut out = String::from("{\"devices\":[\n");
    for (i, (_, node)) in registry.walk().into_iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        device_json(&mut out, registry, node);
    }
    out.push_str("\n]}\n");
    out
}

struct Row {
    name: String,
    /// The tree guides to put under this row for continuation lines.
    continuation: String,
    address: String,
    ids: String,
    irq: String,
    driver: String,
    state: String,
    state_word: &'static str,
    details: String,
}

fn tree_rows(registry: &Registry) -> Vec<Row> {
    let walk = registry.walk();
    // For each depth, whether the ancestor at that depth still has siblings below it.
    let mut open: Vec<bool> = Vec::new();
    let mut rows = Vec::with_capacity(walk.len());
    for (i, &(depth, node)) in walk.iter().enumerate() {
        let is_last = walk[i + 1..].iter().take_while(|(d, _)| *d >= depth).all(|(d, _)| *d > depth);
        open.truncate(depth);
        let mut guides = String::new();
        for (level, &more) in open.iter().enumerate().skip(1) {
            let _ = level;
            guides.push_str(if more { "|   " } else { "    " });
        }
        let branch = match depth {
            0 => "",
            _ if is_last => "`-- ",
            _ => "|-- ",
        };
        let mut continuation = guides.clone();
        if depth > 0 {
            continuation.push_str(if is_last { "    " } else { "|   " });
        }
        open.push(!is_last);
        rows.push(Row {
            name: clip(&alloc::format!("{guides}{branch}{}", node.name), NAME_MAX),
            continuation,
            address: clip(&address_label(node), ADDRESS_MAX),
            ids: clip(&node.ids_label(), IDS_MAX),
            irq: clip(&irq_label(node), IRQ_MAX),
            driver: clip(node.driver.map_or("-", |d| d.name), DRIVER_MAX),
            state: alloc::format!("{}", node.outcome()),
            state_word: node.outcome().label(),
            details: details(node),
        });
    }
    rows
}

fn push_row(out: &mut String, widths: &[usize; 5], cells: [&str; 5], state: &str) {
    for (cell, &width) in cells.iter().zip(widths) {
        let _ = write!(out, "{cell:<width$}  ");
    }
    out.push_str(state);
    out.push('\n');
}

/// Shortens `s` to `max` characters, marking the cut with `~`.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return String::from(s);
    }
    let mut clipped: String = s.chars().take(max.saturating_sub(1)).collect();
    clipped.push('~');
    clipped
}

fn address_label(node: &DeviceNode) -> String {
    match &node.address {
        BusAddress::Pci { segment, bus, device, function } => {
            alloc::format!("{segment:04x}:{bus:02x}:{device:02x}.{function}")
        }
        BusAddress::Virtio => String::from("virtio"),
        BusAddress::Other(name) => name.clone(),
        BusAddress::Dt { .. } => match node.regions.first() {
            Some(region) => alloc::format!("{:#x}", region.base),
            None => String::from("-"),
        },
    }
}

/// Every interrupt a driver hooked, like Linux's `/proc/interrupts`: how often it was handled
/// and found spurious, how often it was masked for a storm, its label and controller, whether
/// it is enabled or masked now (`storm: masked`, `unclaimed: masked`), and the device, in tree
/// order.
pub fn interrupts(registry: &Registry) -> String {
    let rows: Vec<(&IrqStats, String, &str)> = registry
        .devices()
        .flat_map(|node| {
            node.irq_stats.iter().map(move |(index, stats)| {
                let irq = node.irqs.get(*index);
                let label = irq.map_or(String::from("?"), |irq| alloc::format!("{} ({})", irq.label, irq.controller));
                (&**stats, label, node.path.as_str())
            })
        })
        .collect();
    let width = rows.iter().map(|row| row.1.len()).chain([9]).max().unwrap_or(9);
    let state_width = rows.iter().map(|row| row.0.state().label().len()).chain([5]).max().unwrap_or(5);
    let mut out = alloc::format!(
        "{:>10}{:>10}{:>8}  {:<width$}  {:<state_width$}  DEVICE\n",
        "HANDLED", "SPURIOUS", "STORMS", "INTERRUPT", "STATE"
    );
    for (stats, label, path) in rows {
        let (handled, spurious, storms, state) = (stats.handled(), stats.spurious(), stats.storms(), stats.state().label());
        let _ = writeln!(out, "{handled:>10}{spurious:>10}{storms:>8}  {label:<width$}  {state:<state_width$}  {path}");
    }
    out
}

/// The first IRQ's type and number (`SPI 16`); the trigger and the rest are in the JSON.
fn irq_label(node: &DeviceNode) -> String {
    let Some(first) = node.irqs.first() else { return String::from("-") };
    let short: Vec<&str> = first.label.split(' ').take(2).collect();
    match node.irqs.len() {
        1 => short.join(" "),
        n => alloc::format!("{} +{}", short.join(" "), n - 1),
    }
}

/// The line under a device: what its driver reported, how often its interrupts fired, then what
/// the bus noted.
fn details(node: &DeviceNode) -> String {
    let mut parts: Vec<String> = node.info.iter().map(|(k, v)| alloc::format!("{k}: {v}")).collect();
    parts.extend(node.irq_stats.iter().map(|(index, stats)| {
        let label = node.irqs.get(*index).map_or("?", |irq| irq.label.as_str());
        let mut counts = match stats.spurious() {
            0 => alloc::format!("irqs ({label}): {}", stats.handled()),
            spurious => alloc::format!("irqs ({label}): {} (+{spurious} spurious)", stats.handled()),
        };
        if stats.state() != LineState::Enabled {
            let _ = write!(counts, " ({})", stats.state().label());
        }
        counts
    }));
    parts.extend(node.notes.iter().cloned());
    parts.join(", ")
}

fn device_json(out: &mut String, registry: &Registry, node: &DeviceNode) {
    out.push('{');
    json::push_key(out, "path", true);
    json::push_str(out, &node.path);
    json::push_key(out, "parent", false);
    json::push_opt_str(out, node.parent.and_then(|p| registry.get(p)).map(|p| p.path.as_str()));
    json::push_key(out, "name", false);
    json::push_str(out, &node.name);
    json::push_key(out, "bus", false);
    json::push_str(out, match node.address {
        BusAddress::Dt { .. } => "dt",
        BusAddress::Pci { .. } => "pci",
        BusAddress::Virtio => "virtio",
        BusAddress::Other(_) => "other",
    });
    match &node.ids {
        DeviceIds::Compatible(list) => {
            json::push_key(out, "compatible", false);
            json::push_array(out, list, |o, c| json::push_str(o, c));
        }
        DeviceIds::Pci(p) => {
            json::push_key(out, "pci", false);
            let _ = write!(
                out,
                "{{\"vendor\":{},\"device\":{},\"class\":{},\"revision\":{},\"subsystem_vendor\":{},\"subsystem\":{}}}",
                p.vendor, p.device, p.class, p.revision, p.subsystem_vendor, p.subsystem
            );
        }
        DeviceIds::Virtio { device_id } => {
            json::push_key(out, "virtio_id", false);
            let _ = write!(out, "{device_id}");
        }
        DeviceIds::None => {}
    }
    // Memory regions first (CPU-physical), then I/O port ranges, told apart by their space.
    json::push_key(out, "reg", false);
    let reg: Vec<(u64, u64, bool)> = node
        .regions
        .iter()
        .map(|r| (r.base, r.size, false))
        .chain(node.io_ports.iter().map(|p| (p.base, p.size, true)))
        .collect();
    json::push_array(out, &reg, |o, &(base, size, io)| {
        let _ = write!(o, "{{\"base\":{base},\"size\":{size}");
        o.push_str(if io { ",\"space\":\"io\"}" } else { "}" });
    });
    json::push_key(out, "interrupts", false);
    json::push_array(out, &node.irqs, |o, irq| {
        o.push('{');
        json::push_key(o, "controller", true);
        json::push_str(o, &irq.controller);
        json::push_key(o, "cells", false);
        json::push_array(o, &irq.cells, |o, c| {
            let _ = write!(o, "{c}");
        });
        json::push_key(o, "intid", false);
        match irq.number {
            Some(n) => {
                let _ = write!(o, "{n}");
            }
            None => o.push_str("null"),
        }
        json::push_key(o, "label", false);
        json::push_str(o, &irq.label);
        o.push('}');
    });
    json::push_key(out, "status", false);
    json::push_str(out, if node.enabled { "okay" } else { "disabled" });
    json::push_key(out, "driver", false);
    json::push_opt_str(out, node.driver.map(|d| d.name));
    let outcome = node.outcome();
    json::push_key(out, "outcome", false);
    json::push_str(out, outcome.label());
    json::push_key(out, "reason", false);
    json::push_opt_str(out, outcome.reason());
    json::push_key(out, "info", false);
    out.push('{');
    for (i, (key, value)) in node.info.iter().enumerate() {
        json::push_key(out, key, i == 0);
        json::push_str(out, value);
    }
    out.push('}');
    json::push_key(out, "irq_counts", false);
    json::push_array(out, &node.irq_stats, |o, (index, stats)| {
        let _ = write!(o, "{{\"index\":{index},\"handled\":{},\"spurious\":{},\"storms\":{},", stats.handled(), stats.spurious(), stats.storms());
        json::push_key(o, "state", true);
        json::push_str(o, stats.state().label());
        o.push('}');
    });
    json::push_key(out, "notes", false);
    json::push_array(out, &node.notes, |o, n| json::push_str(o, n));
    out.push('}');
}
