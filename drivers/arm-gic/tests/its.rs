//! The GICv3 ITS and LPIs against register blocks in host memory and a fake ITS that reads the
//! command queue whenever the driver waits (`common::fake_its`). Command layouts are checked
//! against the GICv3 architecture specification (IHI 0069, 5.3), not against the encoder.

mod common;

use arm_gic::its::{Command, Its, RdBase};
use arm_gic::msi::{self, MsiController};
use arm_gic::{Gic, GicError, Line, Trigger};
use common::fake_its::{gic_memory, Behaviour, ItsPlatform, Seen};
use common::fake_its::{BASER, BASER_COLLECTIONS, BASER_DEVICES, ITS, ITS_SIZE, TYPER_PTA, TYPER_QEMU};
use common::{Block, FakeIcc, GICD, GICD_SIZE, GICR, TYPER_288_LINES};
use registry::{Irq, IrqError, MsiMessage, MsiVector};

const GIC_PATH: &str = "/intc@8000000";
/// GICD_TYPER: LPIs supported, 16 INTID bits (QEMU's).
const GICD_LPIS: u32 = 1 << 17 | 15 << 19;
/// GICR_TYPER (low word): physical LPIs, processor number 1, the last redistributor.
const GICR_TYPER: u32 = 1 | 1 << 8 | 1 << 4;
const GICR_DIRECT_LPI: u32 = 1 << 3;
const PROPBASER: usize = 0x70;
const PENDBASER: usize = 0x78;
const DOORBELL: u64 = ITS + 0x1_0040;
const PROCESSOR_1: u64 = 1 << 16;

/// The GIC and ITS register blocks of one test, on their own platform.
struct Rig {
    platform: &'static ItsPlatform,
    gic: &'static Gic,
    gicr: Block,
    its: Block,
}

/// A GICv3 (distributor TYPER `gicd_typer`, one redistributor with TYPER `gicr_typer`) and
/// an ITS block as QEMU resets it, with GITS_TYPER `its_typer`; the fake ITS attached.
fn gic_and_its(gicd_typer: u32, gicr_typer: u32, its_typer: u32, behaviour: Behaviour) -> Rig {
    let platform = ItsPlatform::leaked();
    let gicd = Block::new(platform.host, GICD, GICD_SIZE);
    gicd.set(0x004, TYPER_288_LINES | gicd_typer);
    let gicr = Block::new(platform.host, GICR, 0x2_0000);
    gicr.set(0x08, gicr_typer);
    gicr.set(0x14, 0b010); // asleep, ChildrenAsleep already reading 0 (the block does not react)
    let gic = Gic::v3(GIC_PATH, gicd.window(), gicr.window(), 0, FakeIcc::leaked(true), platform).expect("GICv3 up");
    let its = Block::new(platform.host, ITS, ITS_SIZE);
    its.set(0x08, its_typer);
    its.set(0x00, 1 << 31); // disabled and quiescent
    for (index, baser) in [BASER_DEVICES, BASER_COLLECTIONS].into_iter().enumerate() {
        set64(&its, BASER + 8 * index, baser);
    }
    platform.attach(its.window(), behaviour);
    Rig { platform, gic: Box::leak(Box::new(gic)), gicr, its }
}

fn qemu_like() -> Rig {
    gic_and_its(GICD_LPIS, GICR_TYPER, TYPER_QEMU, Behaviour::Prompt)
}

impl Rig {
    fn bring_up(&self, path: &str) -> Result<&'static Its, GicError> {
        Its::bring_up(path, self.its.window(), self.gic, self.platform)
    }

    /// Brought up and registered as the MSI controller at `path`, the bring-up's commands
    /// consumed.
    fn up(&self, path: &str) -> &'static Its {
        let its = self.bring_up(path).expect("ITS up");
        msi::register(its);
        self.platform.take_seen();
        its
    }

    fn seen(&self) -> Vec<[u64; 4]> {
        self.platform.take_seen().into_iter().map(|(_, words)| words).collect()
    }

    /// LPI `intid`'s configuration byte, read where GICR_PROPBASER points.
    fn config_byte(&self, intid: u32) -> u8 {
        let table = get64(&self.gicr, PROPBASER) & 0x000f_ffff_ffff_f000;
        gic_memory(table + u64::from(intid - 8192), 1)[0]
    }
}

fn get64(block: &Block, offset: usize) -> u64 {
    u64::from(block.get(offset)) | u64::from(block.get(offset + 4)) << 32
}

fn set64(block: &Block, offset: usize, value: u64) {
    block.set(offset, value as u32);
    block.set(offset + 4, (value >> 32) as u32);
}

const V: u64 = 1 << 63;

/// MAPD by hand: 0x08, DeviceID in DW0[63:32], Size (EventID bits - 1) in DW1[4:0], ITT_addr in
/// DW2[51:8], V in DW2[63].
fn mapd(device: u64, size: u64, itt: u64) -> [u64; 4] {
    [device << 32 | 0x08, size, V | itt, 0]
}

/// MAPTI: 0x0a, DeviceID in DW0[63:32], EventID in DW1[31:0], pINTID in DW1[63:32], ICID in
/// DW2[15:0].
fn mapti(device: u64, event: u64, lpi: u64) -> [u64; 4] {
    [device << 32 | 0x0a, lpi << 32 | event, 0, 0]
}

/// SYNC: 0x05, RDbase in DW2[51:16].
fn sync(rd: u64) -> [u64; 4] {
    [0x05, 0, rd, 0]
}

fn invalid(result: Result<Vec<MsiVector>, IrqError>) -> String {
    match result {
        Err(IrqError::Invalid(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn commands_have_the_layout_of_the_architecture() {
    let itt = 0x4567_8900;
    assert_eq!(Command::mapd(0x1234, itt, 5).words(), [0x0000_1234_0000_0008, 4, V | itt, 0]);
    assert_eq!(Command::mapd(1, 0x1_0000_0100, 1).words()[1], 0, "Size is EventID bits minus one");
    assert_eq!(Command::unmapd(0x1234).words(), [0x0000_1234_0000_0008, 0, 0, 0], "MAPD with V = 0");
    assert_eq!(Command::mapc(3, RdBase::ProcessorNumber(2)).words(), [0x09, 0, V | 2 << 16 | 3, 0]);
    assert_eq!(Command::mapc(3, RdBase::Physical(0x080a_0000)).words(), [0x09, 0, V | 0x080a_0000 | 3, 0]);
    assert_eq!(Command::mapti(0x10, 7, 8200, 2).words(), [0x10_0000_000a, 8200 << 32 | 7, 2, 0]);
    assert_eq!(Command::inv(0x10, 7).words(), [0x10_0000_000c, 7, 0, 0]);
    assert_eq!(Command::invall(5).words(), [0x0d, 0, 5, 0]);
    assert_eq!(Command::discard(0xffff, 31).words(), [0xffff_0000_000f, 31, 0, 0]);
    assert_eq!(Command::sync(RdBase::ProcessorNumber(1)).words(), [0x05, 0, 0x1_0000, 0]);
    assert_eq!(Command::sync(RdBase::Physical(0x080a_0000)).words(), [0x05, 0, 0x080a_0000, 0]);
    assert_eq!((Command::name(0x10_0000_000a), Command::name(0x0d), Command::name(0x03)), ("MAPTI", "INVALL", "unknown"));
}

#[test]
fn bring_up_gives_the_redistributor_and_the_its_their_tables_and_maps_collection_0() {
    let rig = qemu_like();
    assert_eq!(rig.gic.lpis(), None, "no LPIs before an ITS");
    let its = rig.bring_up("/intc@8000000/its-tables").expect("ITS up");
    assert_eq!(rig.gic.lpis(), Some(8192..9216));
    assert_eq!((its.doorbell(), its.device_ids(), its.events_per_device()), (DOORBELL, 0x1_0000, 32));

    let propbaser = get64(&rig.gicr, PROPBASER);
    assert_eq!(propbaser & 0x1f, 13, "PROPBASER.IDbits: 14 INTID bits");
    assert_eq!((propbaser >> 10 & 3, propbaser >> 7 & 7), (1, 0b111), "inner shareable, write-back");
    let config = propbaser & 0x000f_ffff_ffff_f000;
    assert_eq!(config % 4096, 0);
    assert!(gic_memory(config, 8192).iter().all(|&byte| byte == 0xa2), "every LPI: priority 0xa0, RES1, disabled");
    let pendbaser = get64(&rig.gicr, PENDBASER);
    let pending = pendbaser & 0x000f_ffff_ffff_0000;
    assert_eq!((pendbaser >> 62 & 1, pending % 0x1_0000), (1, 0), "PTZ, 64 KiB aligned");
    assert!(gic_memory(pending, 2048).iter().all(|&byte| byte == 0), "nothing pending");
    assert_eq!(rig.gicr.get(0x00) & 1, 1, "GICR_CTLR.EnableLPIs");

    let devices = get64(&rig.its, BASER);
    assert_eq!(devices >> 63, 1, "device table valid");
    assert_eq!((devices >> 56 & 7, devices >> 48 & 0x1f), (1, 7), "type and entry size kept");
    assert_eq!((devices >> 8 & 3, devices & 0xff), (0, 127), "4 KiB pages, 128 of them: 2^16 entries of 8 bytes");
    let collections = get64(&rig.its, BASER + 8);
    assert_eq!((collections >> 63, collections >> 56 & 7, collections >> 8 & 3, collections & 0xff), (1, 4, 0, 0));
    assert_eq!((devices & 0xfff, collections & 0xfff), (0x400 | devices & 0xff, 0x400), "inner shareable, 4 KiB pages");
    assert!((2..8).all(|index| get64(&rig.its, BASER + 8 * index) == 0), "unimplemented tables left alone");

    let cbaser = get64(&rig.its, 0x80);
    assert_eq!((cbaser >> 63, cbaser >> 59 & 7, cbaser >> 10 & 3, cbaser & 0xff), (1, 0b111, 1, 0), "CBASER: one page");
    assert_eq!(rig.its.get(0x00) & 1, 1, "GITS_CTLR.Enabled");
    let seen = rig.platform.take_seen();
    let expected: Vec<Seen> = vec![(0, [0x09, 0, V | PROCESSOR_1, 0]), (32, sync(PROCESSOR_1))];
    assert_eq!(seen, expected, "MAPC collection 0 -> processor 1 (GICR_TYPER), then SYNC");
}

#[test]
fn with_pta_collections_name_the_redistributor_by_address() {
    let rig = gic_and_its(GICD_LPIS, GICR_TYPER, TYPER_QEMU | TYPER_PTA, Behaviour::Prompt);
    let its = rig.bring_up("/intc@8000000/its-pta").unwrap();
    assert_eq!(its.target(), RdBase::Physical(GICR));
    assert_eq!(rig.seen(), [[0x09, 0, V | GICR, 0], sync(GICR)]);
}

#[test]
fn an_its_left_enabled_is_quiesced_first() {
    let rig = qemu_like();
    rig.its.set(0x00, 1 << 31 | 1);
    rig.bring_up("/intc@8000000/its-enabled").expect("ITS up");
    let rig = qemu_like();
    rig.its.set(0x00, 1); // enabled, and never quiescent
    let error = rig.bring_up("/intc@8000000/its-busy").err().unwrap();
    assert_eq!(error.to_string(), "timed out after 100 ms waiting for the ITS to become quiescent");
}

#[test]
fn the_device_table_covers_16_bit_device_ids_within_256_pages() {
    // 20 DeviceID bits and 32-byte entries: 2^16 entries would take 512 pages.
    let rig = gic_and_its(GICD_LPIS, GICR_TYPER, TYPER_QEMU | 0x1f << 13, Behaviour::Prompt);
    set64(&rig.its, BASER, BASER_DEVICES | 0x1f << 48);
    let its = rig.bring_up("/intc@8000000/its-big-entries").unwrap();
    assert_eq!((get64(&rig.its, BASER) & 0xff, its.device_ids()), (255, 0x8000));
    let reason = "device ID 0x8000 is beyond the 0x8000 device IDs the ITS /intc@8000000/its-big-entries maps";
    assert_eq!(invalid(its.allocate(0x8000, 1)), reason);
}

#[test]
fn allocate_maps_events_to_lpis_and_hands_out_the_doorbell_message() {
    let rig = qemu_like();
    let path = "/intc@8000000/its-allocate";
    let its = rig.up(path);
    let vectors = its.allocate(0x10, 3).expect("allocated");
    let seen = rig.seen();
    let itt = seen[0][2] & 0x000f_ffff_ffff_ff00;
    assert_eq!(itt % 256, 0, "ITT 256-byte aligned");
    let expected = [mapd(0x10, 4, itt), mapti(0x10, 0, 8192), mapti(0x10, 1, 8193), mapti(0x10, 2, 8194), sync(PROCESSOR_1)];
    assert_eq!(seen, expected, "MAPD with 5 EventID bits, then an event per LPI in collection 0");
    for (event, vector) in vectors.iter().enumerate() {
        let lpi = 8192 + event as u32;
        let irq = Irq { controller: path.into(), cells: vec![lpi], number: Some(lpi), label: format!("LPI {lpi}") };
        assert_eq!(vector, &MsiVector { irq, message: MsiMessage { address: DOORBELL, data: event as u32 } });
    }
    assert_eq!(rig.gic.line(&vectors[2].irq), Ok(Line { intid: 8194, trigger: Trigger::Edge }), "the GIC takes it as an edge");
    assert!(its.owns(8194) && !its.owns(8195));

    let more = its.allocate(0x10, 2).unwrap();
    assert_eq!(rig.seen(), [mapti(0x10, 3, 8195), mapti(0x10, 4, 8196), sync(PROCESSOR_1)], "same device: no MAPD");
    assert_eq!(more.iter().map(|v| v.message.data).collect::<Vec<_>>(), [3, 4]);
    its.allocate(0x11, 1).unwrap();
    assert_eq!(rig.seen()[1], mapti(0x11, 0, 8197));
    assert_eq!(its.allocate(0x12, 0), Ok(vec![]));
    assert_eq!(rig.seen(), Vec::<[u64; 4]>::new(), "nothing asked, nothing mapped");
}

#[test]
fn lpis_are_switched_by_their_configuration_byte_and_an_inv() {
    let rig = qemu_like();
    let before = rig.gic.enable(Line { intid: 8192, trigger: Trigger::Edge }).unwrap_err();
    assert_eq!(before.to_string(), "INTID 8192 is an LPI, and no ITS has set LPIs up");
    let its = rig.up("/intc@8000000/its-enable");
    let vector = its.allocate(0x10, 2).unwrap().remove(1);
    rig.seen();
    let line = rig.gic.line(&vector.irq).unwrap();
    rig.gic.enable(line).unwrap();
    assert_eq!(rig.config_byte(8193), 0xa3, "priority 0xa0, RES1, enabled");
    assert_eq!(rig.config_byte(8192), 0xa2, "its neighbour untouched");
    assert_eq!(rig.seen(), [[0x10_0000_000c, 1, 0, 0], sync(PROCESSOR_1)], "INV (device 0x10, event 1), SYNC");
    rig.gic.disable(8193).unwrap();
    assert_eq!(rig.config_byte(8193), 0xa2);
    assert_eq!(rig.seen(), [[0x10_0000_000c, 1, 0, 0], sync(PROCESSOR_1)]);

    rig.gic.enable(Line { intid: 8300, trigger: Trigger::Edge }).unwrap();
    assert_eq!((rig.config_byte(8300), rig.seen()), (0xa3, vec![]), "no event maps to it: nothing to invalidate");
    let beyond = rig.gic.enable(Line { intid: 9216, trigger: Trigger::Edge }).unwrap_err();
    assert_eq!(beyond.to_string(), "LPI 9216 is not one of the LPIs 8192-9215 the GIC hands out");
    assert_eq!(rig.gic.disable(1020), Err(GicError::NoSuchLine { intid: 1020, lines: 288 }));
}

#[test]
fn a_disable_while_the_thread_holds_the_queue_is_invalidated_when_it_lets_go() {
    let rig = qemu_like();
    let its = rig.up("/intc@8000000/its-deferred");
    let vectors = its.allocate(0x10, 2).unwrap();
    for vector in &vectors {
        rig.gic.enable(rig.gic.line(&vector.irq).unwrap()).unwrap();
    }
    rig.gic.disable(8193).unwrap();
    rig.seen();
    let gic = rig.gic;
    // An interrupt handler masks LPI 8192 while the thread waits for its own INV.
    rig.platform.interrupt_while_busy(move || gic.disable(8192).expect("no error from the interrupt path"));
    rig.gic.enable(Line { intid: 8193, trigger: Trigger::Edge }).unwrap();
    assert_eq!(rig.config_byte(8192), 0xa2, "disabled at once");
    let invall = [0x0d, 0, 0, 0];
    assert_eq!(rig.seen(), [[0x10_0000_000c, 1, 0, 0], sync(PROCESSOR_1), invall, sync(PROCESSOR_1)], "then INVALL by the holder");
    assert_eq!(rig.config_byte(8193), 0xa3);
}

#[test]
fn free_discards_the_event_and_unmaps_the_device_after_its_last() {
    let rig = qemu_like();
    let its = rig.up("/intc@8000000/its-free");
    let live = rig.platform.host.dma_live();
    let vectors = its.allocate(0x20, 2).unwrap();
    rig.gic.enable(rig.gic.line(&vectors[0].irq).unwrap()).unwrap();
    assert_eq!(rig.platform.host.dma_live(), live + 1, "the device's ITT");
    rig.seen();
    its.free(0x21, &vectors[0].irq);
    its.free(0x20, &Irq { number: Some(9000), ..vectors[0].irq.clone() });
    assert_eq!(rig.seen(), Vec::<[u64; 4]>::new(), "not this device's, not an LPI of it: nothing done");

    its.free(0x20, &vectors[0].irq);
    assert_eq!(rig.seen(), [[0x20_0000_000f, 0, 0, 0], sync(PROCESSOR_1)], "DISCARD (device 0x20, event 0)");
    assert!(!its.owns(8192) && its.owns(8193));
    assert_eq!(rig.config_byte(8192), 0xa2, "left disabled for its next device");
    its.free(0x20, &vectors[1].irq);
    assert_eq!(rig.seen(), [[0x20_0000_000f, 1, 0, 0], [0x20_0000_0008, 0, 0, 0], sync(PROCESSOR_1)], "the last: MAPD V=0");
    assert_eq!(rig.platform.host.dma_live(), live, "its ITT freed");
    rig.gic.disable(8193).unwrap();
    assert_eq!(rig.seen(), Vec::<[u64; 4]>::new(), "no INV for an event that is gone");

    let again = its.allocate(0x21, 1).unwrap();
    assert_eq!((again[0].irq.number, again[0].message.data), (Some(8192), 0), "the LPI back in the pool");
    assert_eq!(rig.seen()[0][0], 0x21_0000_0008, "a new device: MAPD");
}

#[test]
fn requests_the_its_cannot_map_are_refused_with_the_reason() {
    let rig = qemu_like();
    let path = "/intc@8000000/its-refuse";
    let its = rig.up(path);
    assert_eq!(invalid(its.allocate(0x1_0000, 1)), format!("device ID 0x10000 is beyond the 0x10000 device IDs the ITS {path} maps"));
    assert_eq!(invalid(its.allocate(1, 33)), "33 interrupts asked for device 0x1; the ITS maps 32 per device");
    its.allocate(2, 30).unwrap();
    assert_eq!(invalid(its.allocate(2, 3)), "device 0x2 has 2 of its 32 interrupts free, 3 asked");
    (0x100..0x11f).for_each(|device| drop(its.allocate(device, 32).unwrap()));
    its.allocate(2, 2).unwrap();
    rig.seen();
    assert_eq!(invalid(its.allocate(0x200, 1)), "out of LPIs: all of 8192-9215 are taken");
    assert_eq!(rig.seen(), Vec::<[u64; 4]>::new());
}

#[test]
fn events_per_device_follow_the_its_eventid_bits() {
    // 4 EventID bits: 16 events.
    let rig = gic_and_its(GICD_LPIS, GICR_TYPER, TYPER_QEMU & !(0x1f << 8) | 3 << 8, Behaviour::Prompt);
    let its = rig.up("/intc@8000000/its-16-events");
    assert_eq!(invalid(its.allocate(1, 17)), "17 interrupts asked for device 0x1; the ITS maps 16 per device");
    its.allocate(1, 16).unwrap();
    assert_eq!(rig.seen()[0][1], 3, "MAPD Size: 4 bits");
}

#[test]
fn an_its_that_never_reads_its_queue_gives_a_timeout_and_a_stalled_one_names_the_command() {
    let rig = gic_and_its(GICD_LPIS, GICR_TYPER, TYPER_QEMU, Behaviour::Frozen);
    let error = rig.bring_up("/intc@8000000/its-frozen").err().unwrap();
    assert_eq!(error.to_string(), "timed out after 100 ms waiting for the ITS to process its commands");

    let rig = gic_and_its(GICD_LPIS, GICR_TYPER, TYPER_QEMU, Behaviour::StallOn(0x09));
    let error = rig.bring_up("/intc@8000000/its-stalled").err().unwrap();
    assert_eq!(error, GicError::ItsStalled { command: "MAPC", offset: 0 });
    assert_eq!(error.to_string(), "the ITS stalled on the MAPC command at queue offset 0x0 (GITS_CREADR.Stalled)");

    let rig = qemu_like();
    let its = rig.up("/intc@8000000/its-freezes");
    rig.platform.set_behaviour(Behaviour::Frozen);
    let reason = invalid(its.allocate(0x10, 1));
    assert_eq!(reason, "timed out after 100 ms waiting for the ITS to process its commands");
    rig.platform.set_behaviour(Behaviour::Prompt);
    let vector = its.allocate(0x11, 1).unwrap().remove(0);
    assert_eq!(vector.irq.number, Some(8193), "the LPI of the failed mapping is not handed out again");
}

#[test]
fn the_command_queue_wraps_around() {
    let rig = gic_and_its(GICD_LPIS, GICR_TYPER, TYPER_QEMU, Behaviour::Slow);
    let its = rig.bring_up("/intc@8000000/its-wrap").unwrap();
    msi::register(its);
    let vector = its.allocate(0x10, 1).unwrap().remove(0);
    let line = rig.gic.line(&vector.irq).unwrap();
    for _ in 0..70 {
        rig.gic.enable(line).unwrap();
        rig.gic.disable(line.intid).unwrap();
    }
    let seen = rig.platform.take_seen();
    assert_eq!(seen.len(), 2 + 3 + 70 * 4, "every command read once, none lost or repeated");
    for (index, (offset, _)) in seen.iter().enumerate() {
        assert_eq!(*offset, index * 32 % 4096, "command {index} in slot {}", index % 128);
    }
    let inv = [0x10_0000_000c, 0, 0, 0];
    assert_eq!((seen[127].1, seen[128].1), (inv, sync(PROCESSOR_1)), "an INV in the last slot, its SYNC in slot 0");
    assert_eq!((seen[seen.len() - 2].1, seen[seen.len() - 1].1), (inv, sync(PROCESSOR_1)));
    assert_eq!(rig.its.get(0x88) as usize, seen.len() * 32 % 4096, "GITS_CWRITER after the last command");
}

#[test]
fn direct_lpi_redistributors_are_invalidated_without_the_its() {
    let rig = gic_and_its(GICD_LPIS, GICR_TYPER | GICR_DIRECT_LPI, TYPER_QEMU, Behaviour::Prompt);
    let its = rig.up("/intc@8000000/its-direct");
    let vector = its.allocate(0x10, 1).unwrap().remove(0);
    rig.seen();
    rig.gic.enable(rig.gic.line(&vector.irq).unwrap()).unwrap();
    assert_eq!((get64(&rig.gicr, 0xa0), rig.config_byte(8192)), (8192, 0xa3), "GICR_INVLPIR");
    assert_eq!(rig.seen(), Vec::<[u64; 4]>::new(), "no INV command");
    rig.gicr.set(0xc0, 1); // GICR_SYNCR.Busy, for ever
    let error = rig.gic.disable(8192).unwrap_err();
    assert_eq!(error.to_string(), "timed out after 100 ms waiting for the redistributor to invalidate an LPI's configuration");
}

#[test]
fn without_lpis_in_the_gic_the_its_is_refused_with_the_reason() {
    let refused = |gicd_typer, gicr_typer, its_typer| {
        let rig = gic_and_its(gicd_typer, gicr_typer, its_typer, Behaviour::Prompt);
        rig.bring_up("/intc@8000000/its-refused").err().unwrap().to_string()
    };
    let no_lpis = "no LPIs: the distributor does not support them (GICD_TYPER.LPIS is 0)";
    assert_eq!(refused(15 << 19, GICR_TYPER, TYPER_QEMU), no_lpis);
    assert_eq!(refused(1 << 17 | 12 << 19, GICR_TYPER, TYPER_QEMU), "no LPIs: the distributor takes 13-bit INTIDs, too few to reach 8192");
    let no_plpis = "no LPIs: the redistributor does not support physical LPIs (GICR_TYPER.PLPIS is 0)";
    assert_eq!(refused(GICD_LPIS, GICR_TYPER & !1, TYPER_QEMU), no_plpis);
    assert_eq!(refused(GICD_LPIS, GICR_TYPER, TYPER_QEMU & !1), "the ITS does not translate to physical LPIs (GITS_TYPER.Physical is 0)");

    let rig = qemu_like();
    rig.gicr.set(0x00, 1);
    let error = rig.bring_up("/intc@8000000/its-late").err().unwrap();
    assert_eq!(error.to_string(), "no LPIs: an earlier boot stage left them enabled at the redistributor");
    let rig = qemu_like();
    set64(&rig.its, BASER, 0);
    let error = rig.bring_up("/intc@8000000/its-no-devices").err().unwrap();
    assert_eq!(error.to_string(), "no GITS_BASER describes a device table");
}

#[test]
fn one_its_per_gic() {
    let rig = qemu_like();
    rig.bring_up("/intc@8000000/its-first").unwrap();
    let error = rig.bring_up("/intc@8000000/its-second").err().unwrap();
    assert_eq!(error.to_string(), "/intc@8000000/its-first already serves the LPIs of /intc@8000000: one ITS per GIC is driven");
}
