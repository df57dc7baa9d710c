//! Malformed blobs: every one must give an error or a usable tree, never a panic.

use bus_dt::{blob_len, DtBus, DtError};
use registry::Bus;

use super::builder::{Builder, BEGIN_NODE, END, END_NODE, NOP};
use super::{device, fixture, root_device};

/// Everything a kernel would call on a blob; must not panic whatever the bytes.
fn exercise(blob: &[u8]) -> Result<usize, DtError> {
    let bus = DtBus::new(blob)?;
    let devices = bus.enumerate().expect("enumerate never fails after new");
    let _ = (
        bus.chosen_stdout_path(),
        bus.memory_regions(),
        bus.compatible_root(),
        bus.model(),
    );
    Ok(devices.len())
}

/// A small deterministic PRNG (xorshift64), so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn set_be32(blob: &mut [u8], at: usize, value: u32) {
    blob[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

fn be32(blob: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(blob[at..at + 4].try_into().unwrap())
}

/// A well-formed tree: root with one compatible child.
fn minimal() -> Builder {
    Builder::default()
        .begin("")
        .prop("compatible", b"test\0")
        .begin("dev@0")
        .prop("compatible", b"x\0")
        .end()
}

#[test]
fn every_prefix_is_refused() {
    for name in ["qemu-virt.dtb", "handmade.dtb"] {
        let blob = fixture(name);
        assert_eq!(blob_len(&blob), Ok(blob.len()));
        assert!(exercise(&blob).is_ok());
        for len in 0..blob.len() {
            assert!(
                exercise(&blob[..len]).is_err(),
                "{name} cut to {len} bytes was accepted"
            );
        }
    }
}

#[test]
fn every_prefix_with_a_matching_header_is_refused() {
    // The header is rewritten to fit the cut, so the cut lands inside the blocks themselves.
    for name in ["qemu-virt.dtb", "handmade.dtb"] {
        let blob = fixture(name);
        for len in 40..blob.len() {
            let mut cut = blob[..len].to_vec();
            set_be32(&mut cut, 4, len as u32);
            for (offset_field, size_field) in [(8, 36), (12, 32)] {
                let end = (be32(&cut, offset_field) + be32(&cut, size_field)) as usize;
                if end > len {
                    let size = len.saturating_sub(be32(&cut, offset_field) as usize);
                    set_be32(&mut cut, size_field, size as u32);
                }
            }
            assert!(
                exercise(&cut).is_err(),
                "{name} cut to {len} bytes was accepted"
            );
        }
    }
}

#[test]
fn every_byte_of_the_handmade_blob_corrupted() {
    let blob = fixture("handmade.dtb");
    for at in 0..blob.len() {
        for value in [0x00, 0xff, blob[at] ^ 0x01, blob[at] ^ 0x80] {
            let mut corrupt = blob.clone();
            corrupt[at] = value;
            let _ = exercise(&corrupt);
        }
    }
}

#[test]
fn random_corruptions_never_panic() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    // Values that mean something somewhere: tokens, small cell counts, huge lengths.
    let interesting = [0, 1, 2, 3, 4, 5, 9, 0x7fff_ffff, 0xffff_fffc, 0xffff_ffff];
    for name in ["qemu-virt.dtb", "qemu-virt-gicv3.dtb", "handmade.dtb"] {
        let blob = fixture(name);
        let mut accepted = 0;
        for _ in 0..1500 {
            let mut corrupt = blob.clone();
            for _ in 0..1 + rng.below(3) {
                if rng.below(2) == 0 {
                    let at = rng.below(corrupt.len());
                    corrupt[at] = rng.next() as u8;
                } else {
                    let at = rng.below(corrupt.len() / 4) * 4;
                    set_be32(&mut corrupt, at, interesting[rng.below(interesting.len())]);
                }
            }
            accepted += usize::from(exercise(&corrupt).is_ok());
        }
        println!("{name}: {accepted} of 1500 corrupted blobs still parsed");
    }
}

#[test]
fn totalsize_larger_than_the_buffer() {
    let mut blob = fixture("qemu-virt.dtb");
    let total = blob.len() as u32;
    set_be32(&mut blob, 4, total + 1);
    assert_eq!(
        DtBus::new(&blob).err(),
        Some(DtError::TotalSizeTooLarge {
            totalsize: total + 1,
            available: blob.len()
        })
    );
}

#[test]
fn bytes_past_totalsize_are_ignored() {
    let mut blob = fixture("qemu-virt.dtb");
    blob.extend([0xff; 100]);
    assert_eq!(exercise(&blob), Ok(1));
}

#[test]
fn string_offset_out_of_range() {
    let blob = minimal().raw_prop(0, 0x1000, b"").end().token(END).build();
    assert!(matches!(
        DtBus::new(&blob),
        Err(DtError::PropertyNameOutOfRange {
            name_offset: 0x1000,
            ..
        })
    ));
    // An offset inside the block but whose string has no NUL before the block ends.
    let mut blob = minimal().end().token(END).build();
    let last = blob.len() - 1;
    blob[last] = b'x';
    assert!(matches!(
        DtBus::new(&blob),
        Err(DtError::PropertyNameUnterminated { .. })
    ));
}

#[test]
fn property_longer_than_the_block() {
    let blob = minimal()
        .raw_prop(0xffff_fff0, 0, b"")
        .end()
        .token(END)
        .build();
    let error = DtBus::new(&blob).unwrap_err();
    assert_eq!(error, DtError::PropertyPastStructureBlock { offset: 0x74 });
    assert_eq!(
        error.to_string(),
        "property at offset 0x74 runs past the structure block"
    );
}

#[test]
fn unbalanced_nodes() {
    let extra_end = minimal().end().end().token(END).build();
    assert!(matches!(
        DtBus::new(&extra_end),
        Err(DtError::EndNodeWithoutBeginNode { .. })
    ));
    let unclosed = minimal().token(END).build();
    assert!(matches!(
        DtBus::new(&unclosed),
        Err(DtError::EndInsideNode { .. })
    ));
    let no_end_token = minimal().end().build();
    assert_eq!(DtBus::new(&no_end_token).err(), Some(DtError::MissingEnd));
    let two_roots = minimal().end().begin("").end().token(END).build();
    assert!(matches!(
        DtBus::new(&two_roots),
        Err(DtError::SecondRoot { .. })
    ));
    let no_root = Builder::default().token(NOP).token(END).build();
    assert_eq!(DtBus::new(&no_root).err(), Some(DtError::NoRoot));
    let orphan_property = Builder::default().prop("x", b"").build();
    assert!(matches!(
        DtBus::new(&orphan_property),
        Err(DtError::PropertyOutsideNode { .. })
    ));
    let unknown = minimal().token(7).build();
    assert!(matches!(
        DtBus::new(&unknown),
        Err(DtError::UnknownToken { token: 7, .. })
    ));
}

#[test]
fn node_name_without_nul() {
    let blob = Builder::default()
        .token(BEGIN_NODE)
        .token(0x6162_6364)
        .build();
    assert!(matches!(
        DtBus::new(&blob),
        Err(DtError::NodeNameUnterminated { .. })
    ));
}

fn nested(depth: usize) -> Vec<u8> {
    let mut builder = Builder::default();
    for level in 0..depth {
        builder = builder
            .begin(&format!("n{level}"))
            .prop("compatible", b"deep\0");
    }
    for _ in 0..depth {
        builder = builder.end();
    }
    builder.token(END).build()
}

#[test]
fn nesting_is_bounded() {
    assert_eq!(exercise(&nested(64)), Ok(1));
    assert!(matches!(
        DtBus::new(&nested(65)),
        Err(DtError::TooDeep { limit: 64, .. })
    ));
    assert!(matches!(
        DtBus::new(&nested(100_000)),
        Err(DtError::TooDeep { .. })
    ));
}

#[test]
fn nop_tokens_anywhere_are_skipped() {
    // libfdt's fdt_nop_property()/fdt_nop_node() leave NOPs between properties and nodes.
    let blob = Builder::default()
        .token(NOP)
        .begin("")
        .token(NOP)
        .prop("compatible", b"board\0")
        .token(NOP)
        .prop_u32("#address-cells", &[1])
        .token(NOP)
        .prop_u32("#size-cells", &[1])
        .token(NOP)
        .begin("uart@100")
        .token(NOP)
        .prop("compatible", b"uart\0")
        .token(NOP)
        .prop_u32("reg", &[0x100, 0x10])
        .end()
        .token(NOP)
        .begin("timer@200")
        .prop("compatible", b"timer\0")
        .end()
        .token(NOP)
        .token(END_NODE)
        .token(NOP)
        .token(END)
        .build();
    let root = root_device(&blob);
    assert_eq!(root.children.len(), 2);
    assert_eq!(
        device(&root, "/uart@100").regions,
        [registry::MmioRegion {
            base: 0x100,
            size: 0x10
        }]
    );
}

#[test]
fn nonsense_values_become_notes() {
    let blob = Builder::default()
        .begin("")
        .prop_u32("#address-cells", &[1])
        .prop_u32("#size-cells", &[1])
        .prop_u32("interrupt-parent", &[1])
        .begin("intc")
        .prop("compatible", b"intc\0")
        .prop_u32("phandle", &[1])
        .prop_u32("#interrupt-cells", &[2])
        .end()
        .begin("huge-cells")
        .prop("compatible", b"a\0")
        .prop_u32("#address-cells", &[0xffff_ffff])
        .begin("child")
        .prop("compatible", b"b\0")
        .prop_u32("reg", &[1, 2, 3])
        .end()
        .end()
        .begin("partial@0")
        .prop("compatible", b"c\0")
        .prop_u32("reg", &[0, 0x10, 0x20])
        .prop_u32("interrupts", &[1, 2, 3])
        .prop("status", b"\xff\xfe\0")
        .end()
        .begin("bad-ranges")
        .prop("compatible", b"d\0")
        .prop_u32("ranges", &[1, 2])
        .begin("e@0")
        .prop("compatible", b"e\0")
        .prop_u32("reg", &[0, 0, 4])
        .prop_u32("interrupts-extended", &[1, 5, 6, 1, 7])
        .end()
        .end()
        .end()
        .token(END)
        .build();
    let root = root_device(&blob);
    let child = device(&root, "/huge-cells/child");
    assert_eq!(
        child.notes,
        ["/huge-cells has #address-cells = 4294967295, more than 4"]
    );
    let partial = device(&root, "/partial@0");
    assert_eq!(
        partial.regions,
        [registry::MmioRegion {
            base: 0,
            size: 0x10
        }]
    );
    assert_eq!(partial.irqs.len(), 1);
    assert_eq!(
        partial.notes,
        [
            "reg ends with a partial entry of 1 cells",
            "interrupts end inside a /intc specifier",
            "status = \"\u{fffd}\u{fffd}\"",
        ]
    );
    assert!(!partial.enabled);
    let e = device(&root, "/bad-ranges/e@0");
    assert_eq!(
        e.notes,
        [
            "reg 0x0 not translatable: /bad-ranges has malformed ranges",
            "interrupts-extended ends inside a /intc specifier",
        ]
    );
    assert_eq!(e.irqs.len(), 1);
}

#[test]
fn addresses_and_sizes_past_64_bits_are_notes_not_truncated() {
    // A bus with 3 address cells and 3 size cells that is not PCI: every cell counts, so a
    // nonzero top cell puts the value past 2^64 instead of being dropped silently.
    let blob = Builder::default()
        .begin("")
        .prop_u32("#address-cells", &[2])
        .prop_u32("#size-cells", &[2])
        .begin("wide-bus")
        .prop("compatible", b"simple-bus\0")
        .prop_u32("#address-cells", &[3])
        .prop_u32("#size-cells", &[3])
        // Child 0:0:0 -> parent 0x1000, 0x1_0000 long.
        .prop_u32("ranges", &[0, 0, 0, 0, 0x1000, 0, 0, 0x1_0000])
        .begin("fits@0")
        .prop("compatible", b"a\0")
        .prop_u32("reg", &[0, 0, 0x100, 0, 0, 0x10])
        .end()
        .begin("high-address@1")
        .prop("compatible", b"b\0")
        .prop_u32("reg", &[1, 0, 0x100, 0, 0, 0x10])
        .end()
        .begin("high-size@2")
        .prop("compatible", b"c\0")
        .prop_u32("reg", &[0, 0, 0x200, 1, 0, 0x10])
        .end()
        .end()
        .begin("wide-ranges")
        .prop("compatible", b"simple-bus\0")
        .prop_u32("#address-cells", &[3])
        .prop_u32("#size-cells", &[1])
        // A child base with its top cell set: not the same range as 0:0:0.
        .prop_u32("ranges", &[1, 0, 0, 0, 0x1000, 0x100])
        .begin("dev@0")
        .prop("compatible", b"d\0")
        .prop_u32("reg", &[0, 0, 0x10, 0x10])
        .end()
        .end()
        .end()
        .token(END)
        .build();
    let root = root_device(&blob);
    let fits = device(&root, "/wide-bus/fits@0");
    assert_eq!(fits.regions, [registry::MmioRegion { base: 0x1100, size: 0x10 }]);
    for (path, what) in [("/wide-bus/high-address@1", "address"), ("/wide-bus/high-size@2", "size")] {
        let node = device(&root, path);
        assert!(node.regions.is_empty(), "{path}: {:?}", node.regions);
        assert_eq!(node.notes, [format!("reg entry's {what} does not fit in 64 bits")], "{path}");
    }
    let behind_wide_ranges = device(&root, "/wide-ranges/dev@0");
    assert!(behind_wide_ranges.regions.is_empty(), "{:?}", behind_wide_ranges.regions);
    assert_eq!(behind_wide_ranges.notes, ["reg 0x10 not translatable: /wide-ranges has a ranges entry past 64 bits"]);
}
