//! `BENCH name=value unit` lines (what the guests and the host benchmark target print) and the
//! table rows the block figures go to, shared by every system so their figures line up.

use super::report::{Results, System};

/// One parsed figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// Every well-formed `BENCH` line in `output`, in order.
pub fn parse(output: &str) -> Vec<Figure> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("BENCH ")?;
            let (name, rest) = rest.split_once('=')?;
            let (value, unit) = rest.split_once(' ').unwrap_or((rest, ""));
            Some(Figure { name: name.to_string(), value: value.parse().ok()?, unit: unit.trim().to_string() })
        })
        .collect()
}

/// The block benchmarks: the guests' name, the table's, and the nominal request size (KiB)
/// and queue depth the name promises.
pub const BLK_METRICS: &[(&str, &str, u32, u32)] = &[
    ("seq_read_64k", "seq read 64 KiB", 64, 1),
    ("seq_read_1m", "seq read 1 MiB", 1024, 1),
    ("seq_write_64k", "seq write 64 KiB", 64, 1),
    ("seq_write_1m", "seq write 1 MiB", 1024, 1),
    ("rand_read_4k_qd1", "rand read 4 KiB QD1", 4, 1),
    ("rand_read_4k_qd32", "rand read 4 KiB QD32", 4, 32),
    ("rand_write_4k_qd1", "rand write 4 KiB QD1", 4, 1),
    ("rand_write_4k_qd32", "rand write 4 KiB QD32", 4, 32),
    ("write_flush_4k", "4 KiB write + flush", 4, 1),
];

/// Files the block figures among `figures` (named `PREFIX.METRIC`, with optional `.request`
/// and `.depth` facts) under `system` and `transport`; returns how many figures it took.
pub fn add_blk(results: &mut Results, figures: &[Figure], prefix: &str, system: System, transport: &str) -> usize {
    let mut taken = 0;
    for &(key, label, kib, depth) in BLK_METRICS {
        let name = format!("{prefix}.{key}");
        let Some(figure) = figures.iter().find(|f| f.name == name) else { continue };
        results.add("blk", label, transport, &figure.unit, system, figure.value);
        taken += 1;
        let fact = |what: &str| figures.iter().find(|f| f.name == format!("{name}.{what}")).map(|f| f.value as u32);
        if let (Some(request), Some(in_flight)) = (fact("request"), fact("depth")) {
            if request != kib || in_flight != depth {
                let shape = format!("{in_flight} x {request} KiB requests in flight");
                results.shape("blk", label, transport, &figure.unit, system, shape);
            }
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_are_found_among_other_output() {
        let output = "kernel> bench blk 0 1 2 3\r\nBENCH blk.seq_read_64k=993.612 MiB/s\r\nnoise BENCH x=1 y\nBENCH bad=abc u\nBENCH bare=2\n";
        let figures = parse(output);
        assert_eq!(figures.len(), 2, "{figures:?}");
        assert_eq!(figures[0], Figure { name: "blk.seq_read_64k".into(), value: 993.612, unit: "MiB/s".into() });
        assert_eq!(figures[1], Figure { name: "bare".into(), value: 2.0, unit: String::new() });
    }

    #[test]
    fn block_figures_land_in_their_rows_with_shapes_only_where_they_differ() {
        let output = "BENCH peer.blk.seq_read_1m=300 MiB/s\nBENCH peer.blk.seq_read_1m.request=1024 KiB\nBENCH peer.blk.seq_read_1m.depth=1 requests\n\
                      BENCH peer.blk.rand_read_4k_qd32=9000 IOPS\nBENCH peer.blk.rand_read_4k_qd32.request=4 KiB\nBENCH peer.blk.rand_read_4k_qd32.depth=16 requests\n\
                      BENCH blk.seq_read_1m=999 MiB/s\n";
        let mut results = Results::default();
        assert_eq!(add_blk(&mut results, &parse(output), "peer.blk", System::VirtioDrivers, "mmio-legacy"), 2);
        let table = results.table(false);
        assert!(table.contains("rand read 4 KiB QD32 [mmio-legacy] virtio-drivers: 16 x 4 KiB requests in flight"), "{table}");
        assert!(!table.contains("1024 KiB requests"), "the 1 MiB figure is as named: {table}");
        assert!(!table.contains("999"), "another prefix's figure is not taken: {table}");
    }
}
