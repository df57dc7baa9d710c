//! The parser on tables laid out as QEMU's SeaBIOS leaves them (RSDP in the BIOS area, RSDT,
//! MADT, MCFG), on an XSDT, and on every way of breaking them: errors, never panics or hangs.

use std::collections::BTreeMap;

use acpi_tables::{find_rsdp, AcpiError, Rsdp, EcamWindow, IoApic, IsaOverride, Memory, Polarity, Tables, Trigger};

/// Physical memory as a few regions of bytes; anything else is unreadable.
#[derive(Clone, Default)]
struct Image(BTreeMap<u64, Vec<u8>>);

impl Image {
    fn put(&mut self, address: u64, bytes: Vec<u8>) {
        self.0.insert(address, bytes);
    }

    fn bytes_mut(&mut self, address: u64) -> &mut Vec<u8> {
        self.0.get_mut(&address).expect("a region starts there")
    }
}

impl Memory for Image {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<(), AcpiError> {
        let unreadable = AcpiError::Unreadable { address, len: buf.len() };
        let (&start, bytes) = self.0.range(..=address).next_back().ok_or(unreadable.clone())?;
        let from = (address - start) as usize;
        let source = bytes.get(from..from + buf.len()).ok_or(unreadable)?;
        buf.copy_from_slice(source);
        Ok(())
    }
}

/// Makes the bytes of `data[range]` sum to zero through the byte at `at`.
fn fix_checksum(data: &mut [u8], at: usize) {
    data[at] = 0;
    let sum = data.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    data[at] = 0u8.wrapping_sub(sum);
}

/// A table: header (signature, length, revision, checksum, OEM fields), then `body`.
fn table(signature: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut bytes = signature.to_vec();
    bytes.extend((36 + body.len() as u32).to_le_bytes());
    bytes.extend([1, 0]); // revision, checksum
    bytes.extend(b"BOCHS BXPC    \x01\x00\x00\x00BXPC\x01\x00\x00\x00");
    assert_eq!(bytes.len(), 36);
    bytes.extend(body);
    fix_checksum(&mut bytes, 9);
    bytes
}

fn rsdp(revision: u8, rsdt: u32, xsdt: u64) -> Vec<u8> {
    let mut bytes = b"RSD PTR ".to_vec();
    bytes.push(0);
    bytes.extend(b"BOCHS ");
    bytes.push(revision);
    bytes.extend(rsdt.to_le_bytes());
    if revision >= 2 {
        bytes.extend(36u32.to_le_bytes());
        bytes.extend(xsdt.to_le_bytes());
        bytes.extend([0, 0, 0, 0]);
    }
    fix_checksum(&mut bytes[..20], 8);
    if revision >= 2 {
        fix_checksum(&mut bytes, 32);
    }
    bytes
}

const RSDP_AT: u64 = 0xf_5a30;
const RSDT_AT: u64 = 0x1ffe_2000;
const MADT_AT: u64 = 0x1ffe_1000;
const MCFG_AT: u64 = 0x1ffe_1800;
const HPET_AT: u64 = 0x1ffe_1c00;

/// QEMU q35's MADT: one CPU, the I/O APIC, the IRQ 0 override and the PCI IRQs 5, 9, 10, 11
/// level-triggered, active high.
fn madt_body() -> Vec<u8> {
    let mut body = 0xfee0_0000u32.to_le_bytes().to_vec();
    body.extend(1u32.to_le_bytes()); // PCAT_COMPAT
    body.extend([0, 8, 0, 0, 1, 0, 0, 0]); // local APIC: processor 0, APIC ID 0, enabled
    body.extend([1, 12, 0, 0]);
    body.extend(0xfec0_0000u32.to_le_bytes());
    body.extend(0u32.to_le_bytes());
    let mut iso = |irq: u8, gsi: u32, flags: u16| {
        body.extend([2, 10, 0, irq]);
        body.extend(gsi.to_le_bytes());
        body.extend(flags.to_le_bytes());
    };
    iso(0, 2, 0);
    for irq in [5, 9, 10, 11] {
        iso(irq, u32::from(irq), 0xd);
    }
    body.extend([4, 6, 0xff, 0, 0, 1]); // local APIC NMI: skipped
    body
}

fn mcfg_body() -> Vec<u8> {
    let mut body = vec![0; 8];
    body.extend(0xb000_0000u64.to_le_bytes());
    body.extend([0, 0, 0, 255, 0, 0, 0, 0]);
    body
}

/// What SeaBIOS leaves for q35: a revision 0 RSDP in the BIOS area, an RSDT.
fn q35() -> Image {
    let mut image = Image::default();
    image.put(0x400, vec![0; 0x100]); // BIOS data area: no EBDA segment
    image.put(0xe_0000, vec![0; 0x1_5a30]);
    image.put(RSDP_AT, rsdp(0, RSDT_AT as u32, 0));
    image.put(MADT_AT, table(b"APIC", &madt_body()));
    image.put(MCFG_AT, table(b"MCFG", &mcfg_body()));
    image.put(HPET_AT, table(b"HPET", &[0; 20]));
    let listed: Vec<u8> = [MADT_AT, HPET_AT, MCFG_AT].iter().flat_map(|&a| (a as u32).to_le_bytes()).collect();
    image.put(RSDT_AT, table(b"RSDT", &listed));
    image
}

fn load(image: &Image) -> Result<Tables, AcpiError> {
    Tables::load(image, &find_rsdp(image)?)
}

#[test]
fn q35_tables_give_the_io_apic_the_isa_overrides_and_the_ecam_window() {
    let image = q35();
    let rsdp = find_rsdp(&image).expect("found in the BIOS area");
    assert_eq!((rsdp.address, rsdp.revision, rsdp.rsdt, rsdp.xsdt), (RSDP_AT, 0, RSDT_AT as u32, 0));
    let tables = Tables::load(&image, &rsdp).unwrap();
    let names: Vec<String> = tables.tables.iter().map(|t| t.name()).collect();
    assert_eq!(names, ["APIC", "HPET", "MCFG"]);
    assert!(tables.broken.is_empty());

    let madt = tables.madt(&image).unwrap().expect("a MADT");
    assert_eq!(madt.local_apic, 0xfee0_0000);
    assert_eq!(madt.io_apics, [IoApic { id: 0, address: 0xfec0_0000, gsi_base: 0 }]);
    let edge = |irq, gsi| IsaOverride { irq, gsi, polarity: Polarity::ActiveHigh, trigger: Trigger::Edge };
    assert_eq!(madt.isa_irq(0), edge(0, 2), "the PIT's override");
    assert_eq!(madt.isa_irq(4), edge(4, 4), "no override: identity, ISA signalling");
    assert_eq!(madt.isa_irq(11), IsaOverride { irq: 11, gsi: 11, polarity: Polarity::ActiveHigh, trigger: Trigger::Level });

    let windows = tables.ecam_windows(&image).unwrap();
    assert_eq!(windows, [EcamWindow { base: 0xb000_0000, segment: 0, start_bus: 0, end_bus: 255 }]);
    assert_eq!(windows[0].first_bus_address(), Some(0xb000_0000));
}

#[test]
fn a_revision_2_rsdp_leads_to_the_xsdt_and_the_ebda_is_searched_first() {
    let mut image = q35();
    let (ebda, xsdt_at) = (0x9_fc00u64, 0x1ffe_3000u64);
    image.bytes_mut(0x400)[0x0e..0x10].copy_from_slice(&((ebda >> 4) as u16).to_le_bytes());
    image.put(ebda, vec![0; 0x400]);
    image.bytes_mut(ebda)[0x40..0x64].copy_from_slice(&rsdp(2, 0, xsdt_at));
    let listed: Vec<u8> = [MCFG_AT].iter().flat_map(|a| a.to_le_bytes()).collect();
    image.put(xsdt_at, table(b"XSDT", &listed));
    let rsdp = find_rsdp(&image).unwrap();
    assert_eq!((rsdp.address, rsdp.revision, rsdp.xsdt), (ebda + 0x40, 2, xsdt_at));
    let tables = Tables::load(&image, &rsdp).unwrap();
    assert_eq!(tables.tables.len(), 1, "the XSDT's list, not the RSDT's");
    assert_eq!(tables.madt(&image), Ok(None));
}

#[test]
fn a_bad_checksum_or_signature_is_skipped_when_searching_and_an_error_when_followed() {
    let mut image = q35();
    // A stray "RSD PTR " with a bad checksum before the real one.
    image.bytes_mut(0xe_0000)[0x100..0x114].copy_from_slice(&rsdp(0, 0x1234, 0)[..20]);
    image.bytes_mut(0xe_0000)[0x110] ^= 1;
    assert_eq!(find_rsdp(&image).map(|r| r.address), Ok(RSDP_AT));
    image.bytes_mut(RSDP_AT)[3] = b'X';
    assert_eq!(find_rsdp(&image), Err(AcpiError::NoRsdp));

    let mut image = q35();
    image.bytes_mut(MADT_AT)[40] ^= 0x10;
    let tables = load(&image).unwrap();
    assert_eq!(tables.broken, [AcpiError::Checksum { what: "MADT", address: MADT_AT }]);
    assert_eq!(tables.madt(&image), Ok(None), "left out, not trusted");

    let mut image = q35();
    image.bytes_mut(RSDT_AT)[0] = b'X';
    assert_eq!(load(&image), Err(AcpiError::Signature { expected: *b"RSDT", address: RSDT_AT }));
}

#[test]
fn pointers_and_lengths_that_lead_nowhere_are_errors() {
    // The RSDT lists a table outside memory.
    let mut image = q35();
    let listed: Vec<u8> = [MADT_AT as u32, 0xdead_0000].iter().flat_map(|a| a.to_le_bytes()).collect();
    image.put(RSDT_AT, table(b"RSDT", &listed));
    let tables = load(&image).unwrap();
    assert_eq!(tables.broken, [AcpiError::Unreadable { address: 0xdead_0000, len: 36 }]);

    // A table claiming 4 GiB, or less than its header.
    for len in [u32::MAX, 35] {
        let mut image = q35();
        image.bytes_mut(MCFG_AT)[4..8].copy_from_slice(&len.to_le_bytes());
        let tables = load(&image).unwrap();
        assert_eq!(tables.broken, [AcpiError::Length { what: "MCFG", address: MCFG_AT, len: u64::from(len) }]);
    }
}

#[test]
fn an_rsdp_longer_than_any_revision_defines_is_refused_not_checksummed_in_part() {
    // Revision 2 with a length of 8 KiB: the first 4 KiB (the structure, then zeros) sum to zero,
    // so checksumming only a prefix would accept it.
    let mut bytes = rsdp(2, RSDT_AT as u32, 0);
    bytes[20..24].copy_from_slice(&8192u32.to_le_bytes());
    fix_checksum(&mut bytes, 32);
    bytes.resize(8192, 0);
    bytes[5000] = 1;
    let mut image = Image::default();
    image.put(RSDP_AT, bytes);
    assert_eq!(Rsdp::read(&image, RSDP_AT), Err(AcpiError::Length { what: "RSDP", address: RSDP_AT, len: 8192 }));
}

/// A MADT with `entries` after the local APIC address and flags, checksum fixed.
fn with_madt(entries: &[u8]) -> Image {
    let mut image = q35();
    let mut body = madt_body()[..8].to_vec();
    body.extend(entries);
    image.put(MADT_AT, table(b"APIC", &body));
    image
}

#[test]
fn madt_entries_that_run_off_the_table_or_claim_no_length_are_errors() {
    let entry_error = |image: &Image| load(image).unwrap().madt(image);
    let at = |offset| Err(AcpiError::Entry { table: "MADT", offset });
    assert_eq!(entry_error(&with_madt(&[1, 0, 0, 0])), at(44), "a zero length would loop forever");
    assert_eq!(entry_error(&with_madt(&[1, 12, 0, 0, 0, 0])), at(44), "runs past the table");
    assert_eq!(entry_error(&with_madt(&[2, 6, 0, 0, 0, 0])), at(44), "an override shorter than its kind");
    assert_eq!(entry_error(&with_madt(&[9])), at(44), "a lone type byte");
    let madt = entry_error(&with_madt(&[0x7f, 3, 0, 2, 10, 1, 9, 2, 0, 0, 0, 0, 0])).unwrap().unwrap();
    assert_eq!(madt.overrides, [], "unknown kinds skipped, the override's source bus (1) is not ISA");
}

#[test]
fn an_mcfg_entry_with_its_end_bus_before_its_start_is_an_error() {
    let mut image = q35();
    let mut body = mcfg_body();
    (body[18], body[19]) = (8, 7);
    image.put(MCFG_AT, table(b"MCFG", &body));
    assert_eq!(load(&image).unwrap().ecam_windows(&image), Err(AcpiError::Entry { table: "MCFG", offset: 44 }));
}

#[test]
fn every_corrupted_byte_of_the_tables_is_an_error_or_a_parse_never_a_panic() {
    for (original, address) in [q35, firecracker].into_iter().flat_map(|f| [RSDP_AT, RSDT_AT, MADT_AT, MCFG_AT].map(|a| (f(), a))) {
        let len = original.0[&address].len();
        for offset in 0..len {
            for flip in [0x01, 0x80, 0xff] {
                let mut image = original.clone();
                image.bytes_mut(address)[offset] ^= flip;
                if let Ok(tables) = load(&image) {
                    let _ = tables.madt(&image);
                    let _ = tables.ecam_windows(&image);
                }
            }
        }
    }
}

/// Firecracker's tables as its VMM wrote them (tests/fixtures), behind an RSDT of our own.
fn firecracker() -> Image {
    let fixture = |name: &str| std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture");
    let mut image = Image::default();
    image.put(0x400, vec![0; 0x100]);
    image.put(0xe_0000, vec![0; 0x1_5a30]);
    image.put(RSDP_AT, rsdp(0, RSDT_AT as u32, 0));
    image.put(MADT_AT, fixture("firecracker-APIC.bin"));
    image.put(MCFG_AT, fixture("firecracker-MCFG.bin"));
    let listed: Vec<u8> = [MADT_AT, MCFG_AT].iter().flat_map(|&a| (a as u32).to_le_bytes()).collect();
    image.put(RSDT_AT, table(b"RSDT", &listed));
    image
}

#[test]
fn firecracker_tables_give_one_io_apic_no_overrides_and_a_one_bus_ecam() {
    let image = firecracker();
    let tables = load(&image).unwrap();
    assert!(tables.broken.is_empty(), "the VMM's checksums hold: {:?}", tables.broken);
    let madt = tables.madt(&image).unwrap().expect("a MADT");
    assert_eq!(madt.local_apic, 0xfee0_0000);
    assert_eq!(madt.io_apics, [IoApic { id: 0, address: 0xfec0_0000, gsi_base: 0 }]);
    assert_eq!(madt.overrides, [], "Firecracker wires ISA IRQs 1:1");
    assert_eq!(madt.isa_irq(4), IsaOverride { irq: 4, gsi: 4, polarity: Polarity::ActiveHigh, trigger: Trigger::Edge });
    let windows = tables.ecam_windows(&image).unwrap();
    assert_eq!(windows, [EcamWindow { base: 0xeec0_0000, segment: 0, start_bus: 0, end_bus: 0 }]);
}

/// [`Image`] that counts the bytes the parser asks for, and refuses reads once it has been asked
/// for `refuse_after` bytes (so a parser without bounds fails the test quickly instead of
/// copying and checksumming for hours).
struct Counting<'a> {
    image: &'a Image,
    asked: std::cell::Cell<u64>,
    refuse_after: u64,
}

impl Counting<'_> {
    fn new(image: &Image) -> Counting<'_> {
        Counting { image, asked: std::cell::Cell::new(0), refuse_after: 1 << 30 }
    }
}

impl Memory for Counting<'_> {
    fn read(&self, address: u64, buf: &mut [u8]) -> Result<(), AcpiError> {
        self.asked.set(self.asked.get() + buf.len() as u64);
        if self.asked.get() > self.refuse_after {
            return Err(AcpiError::Unreadable { address, len: buf.len() });
        }
        self.image.read(address, buf)
    }
}

const XSDT_AT: u64 = 0x2000_0000;
const BIG_AT: u64 = 0x3000_0000;
const MIB: usize = 1 << 20;

/// A table of `len` bytes (header included) with signature `SSDT`.
fn big_table(len: usize) -> Vec<u8> {
    table(b"SSDT", &vec![0x5a; len - 36])
}

/// q35's tables behind a revision 2 RSDP whose XSDT lists `listed`.
fn with_xsdt(listed: &[u64]) -> Image {
    let mut image = q35();
    image.put(RSDP_AT, rsdp(2, RSDT_AT as u32, XSDT_AT));
    let entries: Vec<u8> = listed.iter().flat_map(|a| a.to_le_bytes()).collect();
    image.put(XSDT_AT, table(b"XSDT", &entries));
    image
}

#[test]
fn an_xsdt_listing_one_large_table_many_times_costs_one_read_of_it() {
    // The largest XSDT a table may be (1 MiB): 131,067 entries, every one the same 1 MiB
    // table. Read naively that is 128 GiB copied and checksummed.
    let mut image = with_xsdt(&vec![BIG_AT; (MIB - 36) / 8]);
    image.put(BIG_AT, big_table(MIB));
    let memory = Counting::new(&image);
    let error = load(&image).map(drop);
    let result = Tables::load(&memory, &find_rsdp(&memory).unwrap());
    assert!(memory.asked.get() < 8 * MIB as u64, "asked for {} bytes", memory.asked.get());
    assert_eq!(result, Err(AcpiError::TooManyTables { what: "XSDT", address: XSDT_AT, count: (MIB - 36) / 8 }));
    assert_eq!(error, Err(AcpiError::TooManyTables { what: "XSDT", address: XSDT_AT, count: (MIB - 36) / 8 }));

    // Under the entry limit, the same table listed again and again is read once; each
    // repeat is left out, named.
    let mut image = with_xsdt(&[vec![BIG_AT; 200], vec![MADT_AT, MCFG_AT]].concat());
    image.put(BIG_AT, big_table(MIB));
    let memory = Counting::new(&image);
    let tables = Tables::load(&memory, &find_rsdp(&memory).unwrap()).unwrap();
    let names: Vec<String> = tables.tables.iter().map(|t| t.name()).collect();
    assert_eq!(names, ["SSDT", "APIC", "MCFG"]);
    assert_eq!(tables.broken.len(), 199);
    assert_eq!(tables.broken[0], AcpiError::Duplicate { address: BIG_AT });
    assert!(memory.asked.get() < 2 * MIB as u64, "asked for {} bytes", memory.asked.get());
    assert!(tables.madt(&image).unwrap().is_some(), "the tables after the repeats still count");
}

#[test]
fn tables_adding_up_past_the_budget_stop_the_load() {
    // 40 distinct tables of 1 MiB each: each is a possible table, together they are more than
    // any firmware leaves.
    let addresses: Vec<u64> = (0..40).map(|i| BIG_AT + i * MIB as u64).collect();
    let mut image = with_xsdt(&addresses);
    for &address in &addresses {
        image.put(address, big_table(MIB));
    }
    let memory = Counting::new(&image);
    let result = Tables::load(&memory, &find_rsdp(&memory).unwrap());
    assert!(memory.asked.get() <= 17 * MIB as u64, "asked for {} bytes", memory.asked.get());
    assert_eq!(result, Err(AcpiError::TooMuch { limit: 16 * MIB as u64 }));

    // Fifteen of them fit.
    let image = with_xsdt(&addresses[..15]);
    let mut image = image;
    for &address in &addresses[..15] {
        image.put(address, big_table(MIB));
    }
    let tables = load(&image).unwrap();
    assert_eq!((tables.tables.len(), tables.broken.len()), (15, 0));
}
