//! The figures of one `cargo xtask bench` run: samples per (metric, transport, system), the
//! table printed at the end (min / median / max and the ratios), and its JSON and Markdown.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{json, Value};

/// Who produced a figure: the columns of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum System {
    /// Our drivers as the kernel runs them, completing by interrupt (and everything else of
    /// ours: boot times, the registry's host code).
    Ours,
    /// Our drivers in the same kernel with the CPU taking no interrupts: every wait polls.
    OursPolled,
    VirtioDrivers,
    Linux,
    /// The host itself on the same backing file: the ceiling.
    Host,
}

const SYSTEMS: [System; 5] = [System::Ours, System::OursPolled, System::VirtioDrivers, System::Linux, System::Host];
/// The table's sections, in the order shown.
const SECTIONS: [&str; 4] = ["blk", "net", "boot", "host"];

impl System {
    fn label(self) -> &'static str {
        match self {
            System::Ours => "ours (irq)",
            System::OursPolled => "ours (poll)",
            System::VirtioDrivers => "virtio-drivers",
            System::Linux => "Linux",
            System::Host => "host",
        }
    }
}

/// One line of the table: a metric on one transport, with each system's samples.
pub struct Row {
    pub section: &'static str,
    pub metric: String,
    pub transport: String,
    pub unit: String,
    samples: BTreeMap<System, Vec<f64>>,
    /// How a system got its figure when that differs from the metric's name (request sizes,
    /// depths), shown under the table.
    shapes: BTreeMap<System, String>,
}

impl Row {
    fn higher_is_better(&self) -> bool {
        !matches!(self.unit.as_str(), "us" | "ms" | "s" | "ns/node" | "ns/device" | "us/plan")
    }
}

#[derive(Default)]
pub struct Results {
    rows: Vec<Row>,
    /// What was not measured because it does not apply here, and why.
    pub skipped: Vec<String>,
    /// Benchmarks that broke, and how.
    pub broken: Vec<String>,
    /// How figures were obtained, where the table cannot say.
    pub notes: Vec<String>,
    /// Facts about the run: date, machine, QEMU, options.
    pub facts: Vec<(String, String)>,
}

impl Results {
    fn row(&mut self, section: &'static str, metric: &str, transport: &str, unit: &str) -> &mut Row {
        let at = self.rows.iter().position(|r| r.section == section && r.metric == metric && r.transport == transport);
        let at = at.unwrap_or_else(|| {
            let row = Row {
                section,
                metric: metric.to_string(),
                transport: transport.to_string(),
                unit: unit.to_string(),
                samples: BTreeMap::new(),
                shapes: BTreeMap::new(),
            };
            self.rows.push(row);
            self.rows.len() - 1
        });
        &mut self.rows[at]
    }

    pub fn add(&mut self, section: &'static str, metric: &str, transport: &str, unit: &str, system: System, value: f64) {
        if value.is_finite() {
            self.row(section, metric, transport, unit).samples.entry(system).or_default().push(value);
        }
    }

    /// Notes how `system` obtained the figure of the row (e.g. `16 x 64 KiB in flight`).
    pub fn shape(&mut self, section: &'static str, metric: &str, transport: &str, unit: &str, system: System, shape: String) {
        self.row(section, metric, transport, unit).shapes.insert(system, shape);
    }

    /// Adds the host's figure for `metric` to every transport's row of it.
    pub fn add_host(&mut self, section: &'static str, metric: &str, unit: &str, value: f64) {
        for row in self.rows.iter_mut().filter(|r| r.section == section && r.metric == metric && r.unit == unit) {
            row.samples.entry(System::Host).or_default().push(value);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text (`markdown` false) or as a Markdown table.
    pub fn table(&self, markdown: bool) -> String {
        let present: Vec<System> = SYSTEMS.into_iter().filter(|s| self.rows.iter().any(|r| r.samples.contains_key(s))).collect();
        let mut header = vec!["section".to_string(), "metric".into(), "transport".into(), "unit".into()];
        header.extend(present.iter().map(|s| format!("{} median (min-max)", s.label())));
        let ratios: Vec<System> =
            [System::OursPolled, System::Linux, System::VirtioDrivers, System::Host].into_iter().filter(|s| present.contains(s)).collect();
        header.extend(ratios.iter().map(|s| format!("{}/{}", System::Ours.label(), s.label())));
        let mut lines: Vec<Vec<String>> = Vec::new();
        for row in self.ordered() {
            let mut cells = vec![row.section.to_string(), row.metric.clone(), row.transport.clone(), row.unit.clone()];
            cells.extend(present.iter().map(|s| row.samples.get(s).map_or("-".into(), |v| cell(v))));
            for peer in &ratios {
                cells.push(match (row.samples.get(&System::Ours), row.samples.get(peer)) {
                    (Some(ours), Some(theirs)) => ratio(median(ours), median(theirs), row.higher_is_better()),
                    _ => "-".into(),
                });
            }
            lines.push(cells);
        }
        let mut out = String::new();
        if markdown {
            let _ = writeln!(out, "| {} |", header.join(" | "));
            let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
            for line in &lines {
                let _ = writeln!(out, "| {} |", line.join(" | "));
            }
        } else {
            let widths: Vec<usize> = (0..header.len())
                .map(|i| lines.iter().map(|l| l[i].len()).chain([header[i].len()]).max().unwrap_or(0))
                .collect();
            for line in std::iter::once(&header).chain(&lines) {
                let padded: Vec<String> = line.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
                let _ = writeln!(out, "{}", padded.join("  ").trim_end());
            }
        }
        let shapes: Vec<String> = self
            .rows
            .iter()
            .flat_map(|r| r.shapes.iter().map(move |(s, shape)| format!("{} {} [{}] {}: {shape}", r.section, r.metric, r.transport, s.label())))
            .collect();
        if !shapes.is_empty() {
            let _ = writeln!(out, "\nHow each figure was obtained where it differs from its name:");
            for shape in shapes {
                let _ = writeln!(out, "{}{shape}", if markdown { "- " } else { "  " });
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        for (title, list) in [("Not measured", &self.skipped), ("FAILED", &self.broken)] {
            if !list.is_empty() {
                let _ = writeln!(out, "\n{title}:");
                for item in list {
                    let _ = writeln!(out, "{}{}", if markdown { "- " } else { "  " }, item.replace('\n', " "));
                }
            }
        }
        out
    }

    /// Rows grouped for reading: by section (in [`SECTIONS`] order), then metric, then
    /// transport, each in the order first measured.
    fn ordered(&self) -> Vec<&Row> {
        let first = |key: &dyn Fn(&Row) -> &str, row: &Row| self.rows.iter().position(|r| key(r) == key(row));
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|row| {
            let section = SECTIONS.iter().position(|s| *s == row.section).unwrap_or(SECTIONS.len());
            (section, first(&|r| &r.metric, row), first(&|r| &r.transport, row))
        });
        rows
    }

    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut systems = serde_json::Map::new();
                for (system, samples) in &row.samples {
                    let mut sorted = samples.clone();
                    sorted.sort_by(f64::total_cmp);
                    systems.insert(
                        system.label().into(),
                        json!({
                            "min": sorted.first(), "median": median(samples), "max": sorted.last(),
                            "samples": samples, "how": row.shapes.get(system),
                        }),
                    );
                }
                json!({"section": row.section, "metric": row.metric, "transport": row.transport, "unit": row.unit,
                       "higher_is_better": row.higher_is_better(), "systems": systems})
            })
            .collect();
        let facts: serde_json::Map<String, Value> = self.facts.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        json!({"facts": facts, "rows": rows, "notes": self.notes, "not_measured": self.skipped, "failed": self.broken})
    }
}

pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// `median (min-max)`, or the value alone for one sample.
fn cell(samples: &[f64]) -> String {
    let (min, max) = samples.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if samples.len() == 1 {
        return number(samples[0]);
    }
    format!("{} ({}-{})", number(median(samples)), number(min), number(max))
}

/// How many times better ours is (so > 1 is always ours ahead, whatever the unit).
fn ratio(ours: f64, theirs: f64, higher_is_better: bool) -> String {
    let value = if higher_is_better { ours / theirs } else { theirs / ours };
    if value.is_finite() { format!("{value:.2}x") } else { "-".into() }
}

/// Three significant digits, no exponent.
fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_sample_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ratios_favour_ours_above_one_for_rates_and_for_latencies() {
        assert_eq!(ratio(300.0, 100.0, true), "3.00x");
        assert_eq!(ratio(50.0, 100.0, false), "2.00x", "half the latency is twice as good");
        assert_eq!(ratio(1.0, 0.0, false), "0.00x");
        assert_eq!(ratio(1.0, 0.0, true), "-");
    }

    #[test]
    fn the_table_has_a_column_per_system_measured_and_host_figures_fill_every_transport() {
        let mut results = Results::default();
        for transport in ["mmio-legacy", "pci"] {
            for value in [100.0, 120.0, 110.0] {
                results.add("blk", "seq read 64 KiB", transport, "MiB/s", System::Ours, value);
            }
        }
        results.add("blk", "seq read 64 KiB", "mmio-legacy", "MiB/s", System::Linux, 55.0);
        results.add_host("blk", "seq read 64 KiB", "MiB/s", 1100.0);
        let table = results.table(false);
        let legacy = table.lines().find(|l| l.contains("mmio-legacy")).unwrap();
        assert!(legacy.contains("110 (100-120)") && legacy.contains("55.0") && legacy.contains("1100"), "{legacy}");
        assert!(legacy.contains("2.00x") && legacy.contains("0.10x"), "{legacy}");
        let pci = table.lines().find(|l| l.contains(" pci ")).unwrap();
        assert!(pci.contains("1100") && pci.contains(" - "), "no Linux figure on pci: {pci}");
        assert!(!table.contains("virtio-drivers"), "no column for a system that measured nothing");
        results.add("blk", "seq read 1 MiB", "mmio-legacy", "MiB/s", System::Ours, 1.0);
        let table = results.table(false);
        let order: Vec<&str> = table.lines().skip(1).take(3).map(|l| if l.contains("1 MiB") { "1m" } else if l.contains("legacy") { "64k-legacy" } else { "64k-pci" }).collect();
        assert_eq!(order, ["64k-legacy", "64k-pci", "1m"], "grouped by metric, transports together:\n{table}");
        let json = results.json();
        assert_eq!(json["rows"][0]["systems"]["ours (irq)"]["median"], 110.0);
        assert_eq!(json["rows"][0]["systems"]["host"]["samples"][0], 1100.0);
    }

    #[test]
    fn interrupt_and_polling_modes_stand_side_by_side_with_their_ratio() {
        let mut results = Results::default();
        results.add("blk", "rand read 4 KiB QD1", "pci", "IOPS", System::Ours, 300.0);
        results.add("blk", "rand read 4 KiB QD1", "pci", "IOPS", System::OursPolled, 400.0);
        results.add("net", "TCP round trip 64 B", "pci", "us", System::Ours, 150.0);
        results.add("net", "TCP round trip 64 B", "pci", "us", System::OursPolled, 100.0);
        let table = results.table(false);
        let header = table.lines().next().unwrap();
        let irq = header.find("ours (irq) median").expect(header);
        let poll = header.find("ours (poll) median").expect(header);
        assert!(irq < poll && header.contains("ours (irq)/ours (poll)"), "{header}");
        let rows: Vec<&str> = table.lines().skip(1).take(2).collect();
        assert!(rows[0].contains("300") && rows[0].contains("400") && rows[0].ends_with("0.75x"), "{rows:?}");
        assert!(rows[1].ends_with("0.67x"), "a longer round trip is worse whatever the unit: {rows:?}");
        let json = results.json();
        assert_eq!(json["rows"][1]["systems"]["ours (poll)"]["median"], 100.0);
    }
}
