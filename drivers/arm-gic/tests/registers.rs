//! Bring-up and line programming of GICv2 and GICv3 against register blocks in host memory.

mod common;

use arm_gic::{Gic, GicError, IccRegister, Line, Trigger};
use common::{Block, FakeIcc, GICC, GICC_SIZE, GICD, GICD_SIZE, GICR, GICR_SIZE, TYPER_288_LINES};
use registry::testing::HostPlatform;
use registry::{Irq, IrqError};

const PATH: &str = "/intc@8000000";

fn spi(number: u32, flags: u32) -> Irq {
    Irq { controller: PATH.into(), cells: vec![0, number, flags], number: Some(32 + number), label: format!("SPI {number}") }
}

fn distributor(platform: &'static HostPlatform) -> Block {
    let gicd = Block::new(platform, GICD, GICD_SIZE);
    gicd.set(0x004, TYPER_288_LINES);
    gicd
}

fn gicv2() -> (Gic, Block, Block) {
    let platform = HostPlatform::leaked();
    let (gicd, gicc) = (distributor(platform), Block::new(platform, GICC, GICC_SIZE));
    gicd.set(0x100, 0xffff_ffff); // a boot loader left private interrupts on
    let gic = Gic::v2(PATH, gicd.window(), gicc.window()).expect("GICv2 up");
    (gic, gicd, gicc)
}

#[test]
fn gicv2_comes_up_with_everything_disabled_and_forwarding_on() {
    let (gic, gicd, gicc) = gicv2();
    assert_eq!((gic.version(), gic.lines()), (2, 288));
    assert_eq!(gicd.get(0x000), 1, "GICD_CTLR: forwarding on");
    for register in 0..9 {
        assert_eq!(gicd.get(0x180 + 4 * register), 0xffff_ffff, "ICENABLER{register}");
        assert_eq!(gicd.get(0x380 + 4 * register), 0xffff_ffff, "ICACTIVER{register}");
    }
    assert_eq!(gicd.get(0x180 + 4 * 9), 0, "nothing beyond the 288 lines is touched");
    assert_eq!((gicc.get(0x04), gicc.get(0x08), gicc.get(0x00)), (0xf0, 0, 1), "PMR, BPR, CTLR");
}

#[test]
fn gicv2_lines_get_priority_trigger_target_and_enable() {
    let (gic, gicd, _) = gicv2();
    let edge = gic.line(&spi(16, 1)).unwrap();
    assert_eq!(edge, Line { intid: 48, trigger: Trigger::Edge });
    gic.enable(edge).unwrap();
    gic.enable(gic.line(&spi(17, 4)).unwrap()).unwrap();
    assert_eq!(gicd.get(0x430), 0x0000_a0a0, "IPRIORITYR for 48 and 49, neighbours kept");
    assert_eq!(gicd.get(0xc0c), 0b00_10, "ICFGR3: 48 edge, 49 level");
    // The banked ITARGETSR0-7 read 0 here (a uniprocessor GIC): CPU interface 0.
    assert_eq!(gicd.get(0x830), 0x0000_0101, "ITARGETSR for 48 and 49");
    assert_eq!(gicd.get(0x104), 1 << 17, "ISENABLER1: the last enable wrote only its own bit");

    gic.enable(Line::ppi(11).unwrap()).unwrap();
    assert_eq!((gicd.get(0x418) >> 24, gicd.get(0x100)), (0xa0, 1 << 27), "PPI 11 is INTID 27, banked");
    gic.disable(48).unwrap();
    assert_eq!(gicd.get(0x184), 1 << 16, "ICENABLER1");
    assert_eq!(gic.disable(288), Err(GicError::NoSuchLine { intid: 288, lines: 288 }));
}

#[test]
fn gicv2_targets_the_cpu_its_banked_registers_name() {
    let platform = HostPlatform::leaked();
    let (gicd, gicc) = (distributor(platform), Block::new(platform, GICC, GICC_SIZE));
    gicd.set(0x800, 0x0404_0404); // read from CPU interface 2
    let gic = Gic::v2(PATH, gicd.window(), gicc.window()).unwrap();
    gic.enable(gic.line(&spi(0, 4)).unwrap()).unwrap();
    assert_eq!(gicd.get(0x820) & 0xff, 0x04);
}

#[test]
fn gicv2_acknowledges_until_nothing_is_pending_and_ends_with_what_it_read() {
    let (gic, _, gicc) = gicv2();
    gicc.set(0x0c, 0x0c21); // SGI source CPU 3 in bits 10-12, INTID 33
    let taken = gic.acknowledge().expect("pending");
    assert_eq!(taken.intid(), 33);
    gic.end_of_interrupt(taken);
    assert_eq!(gicc.get(0x10), 0x0c21, "EOIR gets the whole acknowledge value");
    gicc.set(0x0c, 1023);
    assert_eq!(gic.acknowledge(), None, "1023: nothing pending");
}

#[test]
fn lines_the_gic_cannot_serve_are_refused_with_the_reason() {
    let (gic, _, _) = gicv2();
    let mut other = spi(1, 4);
    other.controller = "/soc/gpio@1000".into();
    let invalid = |irq| match gic.line(&irq) {
        Err(IrqError::Invalid(reason)) => reason,
        other => panic!("{other:?}"),
    };
    assert_eq!(invalid(other), "SPI 1 belongs to /soc/gpio@1000, not to the GIC /intc@8000000");
    assert_eq!(invalid(spi(300, 4)), "INTID 332 beyond the 288 interrupts the GIC has");
    assert_eq!(invalid(spi(1, 8)), "SPI 1: trigger 0x8 is not one a GIC SPI has");
}

#[test]
fn a_gicv2_cpu_interface_window_without_eoir_is_refused() {
    let platform = HostPlatform::leaked();
    let (gicd, gicc) = (distributor(platform), Block::new(platform, GICC, 0x10));
    assert!(matches!(Gic::v2(PATH, gicd.window(), gicc.window()), Err(GicError::Register(_))));
}

/// Aff3 1, Aff1 1, Aff0 2: the second of three redistributors.
const MPIDR: u64 = 0x01_0000_0102;
const OUR_RD: usize = 0x2_0000;

fn redistributors(platform: &'static HostPlatform) -> Block {
    let gicr = Block::new(platform, GICR, GICR_SIZE);
    for (index, affinity) in [0u32, 0x0100_0102, 0x0100_0103].into_iter().enumerate() {
        let rd = index * 0x2_0000;
        gicr.set(rd + 0x0c, affinity);
        gicr.set(rd + 0x14, 0b110); // asleep
    }
    gicr.set(0x4_0000 + 0x08, 1 << 4); // the last one
    gicr
}

fn gicv3(icc: &'static FakeIcc) -> (Result<Gic, GicError>, Block, Block) {
    let platform = HostPlatform::leaked();
    let (gicd, gicr) = (distributor(platform), redistributors(platform));
    // A woken redistributor's ChildrenAsleep reads 0: the test block does that on the write.
    gicr.set(OUR_RD + 0x14, 0b010);
    let gic = Gic::v3(PATH, gicd.window(), gicr.window(), MPIDR, icc, platform);
    (gic, gicd, gicr)
}

#[test]
fn gicv3_wakes_its_cpus_redistributor_and_turns_the_cpu_interface_on() {
    let icc = FakeIcc::leaked(true);
    let (gic, gicd, gicr) = gicv3(icc);
    let gic = gic.expect("GICv3 up");
    assert_eq!((gic.version(), gic.lines()), (3, 288));
    assert_eq!(gicd.get(0x000), 0x13, "GICD_CTLR: ARE, group 0 and 1");
    assert_eq!((gicd.get(0x080), gicd.get(0x084), gicd.get(0x0a0)), (0, 0xffff_ffff, 0xffff_ffff), "SPIs in group 1");
    assert_eq!(gicr.get(OUR_RD + 0x14), 0, "awake");
    let sgi = OUR_RD + 0x1_0000;
    assert_eq!((gicr.get(sgi + 0x080), gicr.get(sgi + 0x180)), (0xffff_ffff, 0xffff_ffff), "private: group 1, disabled");
    assert_eq!((gicr.get(0x14), gicr.get(0x1_0000 + 0x080)), (0b110, 0), "another CPU's redistributor untouched");
    let writes = icc.writes.lock().unwrap().clone();
    let expected = [(IccRegister::Sre, 7), (IccRegister::Pmr, 0xf0), (IccRegister::Bpr1, 0), (IccRegister::Ctlr, 0), (IccRegister::Igrpen1, 1)];
    assert_eq!(writes, expected);
}

#[test]
fn gicv3_routes_spis_to_its_cpu_and_enables_ppis_in_the_redistributor() {
    let icc = FakeIcc::leaked(true);
    let (gic, gicd, gicr) = gicv3(icc);
    let gic = gic.unwrap();
    gic.enable(gic.line(&spi(16, 4)).unwrap()).unwrap();
    assert_eq!((gicd.get(0x6000 + 8 * 48), gicd.get(0x6000 + 8 * 48 + 4)), (0x0102, 0x01), "IROUTER48: MPIDR's affinity");
    assert_eq!((gicd.get(0x430), gicd.get(0x104)), (0xa0, 1 << 16));
    gic.enable(Line::ppi(11).unwrap()).unwrap();
    let sgi = OUR_RD + 0x1_0000;
    assert_eq!((gicr.get(sgi + 0x418) >> 24, gicr.get(sgi + 0x100)), (0xa0, 1 << 27));
    assert_eq!(gicd.get(0x100), 0, "not through the distributor");

    icc.pending.lock().unwrap().extend([48, 27]);
    let first = gic.acknowledge().unwrap();
    gic.end_of_interrupt(first);
    assert_eq!((first.intid(), gic.acknowledge().map(|a| a.intid()), gic.acknowledge()), (48, Some(27), None));
    assert!(icc.writes.lock().unwrap().ends_with(&[(IccRegister::Eoir1, 48)]));
}

#[test]
fn gicv3_acknowledges_lpis_and_stops_at_the_special_intids() {
    let icc = FakeIcc::leaked(true);
    let gic = gicv3(icc).0.unwrap();
    icc.pending.lock().unwrap().extend([8192, 0xff_ffff, 1019, 1020]);
    let lpi = gic.acknowledge().expect("an LPI is an interrupt");
    gic.end_of_interrupt(lpi);
    assert!(icc.writes.lock().unwrap().ends_with(&[(IccRegister::Eoir1, 8192)]));
    let taken = [gic.acknowledge(), gic.acknowledge(), gic.acknowledge()].map(|a| a.map(|a| a.intid()));
    assert_eq!(taken, [Some(0xff_ffff), Some(1019), None], "24-bit INTIDs; 1020 is special");
    for special in [1021, 1022, 1023] {
        icc.pending.lock().unwrap().push_back(special);
        assert_eq!(gic.acknowledge(), None, "INTID {special}");
    }
}

#[test]
fn gicv3_failures_are_reported() {
    let (gic, _, _) = gicv3(FakeIcc::leaked(false));
    assert_eq!(gic.err(), Some(GicError::SystemRegistersDisabled));

    let platform = HostPlatform::leaked();
    let (gicd, gicr) = (distributor(platform), redistributors(platform));
    let error = Gic::v3(PATH, gicd.window(), gicr.window(), MPIDR, FakeIcc::leaked(true), platform).err().unwrap();
    assert_eq!(error.to_string(), "timed out after 100 ms waiting for the GIC redistributor to wake");

    let (gicd, gicr) = (distributor(platform), Block::new(platform, GICR + 0x100_0000, GICR_SIZE));
    let error = Gic::v3(PATH, gicd.window(), gicr.window(), 7, FakeIcc::leaked(true), platform).err().unwrap();
    assert_eq!(error, GicError::NoRedistributor { affinity: 7 });
}
