//! The GICv2m frame against a register block in host memory: the SPI range from MSI_TYPER,
//! messages that raise those SPIs, and the system GIC taking them as edge-triggered lines.

mod common;

use arm_gic::msi::{self, MsiController};
use arm_gic::{Gic, Line, Trigger, V2mFrame};
use common::{Block, GICC, GICC_SIZE, GICD, GICD_SIZE, TYPER_288_LINES};
use registry::testing::HostPlatform;
use registry::{IrqError, MsiMessage};

const FRAME: u64 = 0x0802_0000;
const FRAME_PATH: &str = "/intc@8000000/v2m@8020000";

/// A frame whose MSI_TYPER says `count` SPIs from INTID `first`.
fn frame(first: u32, count: u32) -> Result<V2mFrame, String> {
    let block = Block::new(HostPlatform::leaked(), FRAME, 0x1000);
    block.set(0x008, first << 16 | count);
    V2mFrame::new(FRAME_PATH, &block.window(), FRAME)
}

#[test]
fn messages_raise_the_frame_s_spis_at_its_doorbell() {
    let frame = frame(80, 64).expect("QEMU's range");
    assert_eq!(frame.spis(), 80..144);
    let vectors = frame.allocate(0x0108, 3).expect("three SPIs");
    let messages: Vec<MsiMessage> = vectors.iter().map(|v| v.message).collect();
    let doorbell = FRAME + 0x40;
    assert_eq!(messages, [80, 81, 82].map(|data| MsiMessage { address: doorbell, data }));
    assert_eq!((vectors[1].irq.label.as_str(), vectors[1].irq.controller.as_str(), vectors[1].irq.number), ("MSI 81", FRAME_PATH, Some(81)));
    assert!(frame.owns(143) && !frame.owns(144) && !frame.owns(79));

    assert!(matches!(frame.allocate(0, 62), Err(IrqError::Invalid(_))), "61 left: all or nothing");
    frame.free(0x0108, &vectors[1].irq);
    assert_eq!(frame.allocate(0, 62).expect("61 + the one given back").len(), 62);
}

#[test]
fn a_typer_that_names_no_spis_is_refused() {
    let refused = |first, count| frame(first, count).err().unwrap_or_else(|| panic!("{first}+{count} accepted"));
    assert_eq!(refused(80, 0), "MSI_TYPER 0x500000: SPIs 80..80 are no usable range");
    assert!(refused(16, 8).contains("SPIs 16..24"), "PPIs are no MSIs");
    assert!(refused(1000, 64).contains("SPIs 1000..1064"), "past the last SPI");
}

#[test]
fn the_gic_takes_a_registered_frame_s_messages_as_edges() {
    let platform = HostPlatform::leaked();
    let gicd = Block::new(platform, GICD, GICD_SIZE);
    gicd.set(0x004, TYPER_288_LINES);
    let gic = Gic::v2("/intc@8000000", gicd.window(), Block::new(platform, GICC, GICC_SIZE).window()).expect("GICv2 up");
    let frame: &'static V2mFrame = Box::leak(Box::new(frame(80, 64).unwrap()));
    let irq = frame.allocate(0, 1).unwrap().remove(0).irq;
    assert!(matches!(gic.line(&irq), Err(IrqError::Invalid(_))), "not before the frame is registered");
    msi::register(frame);
    assert_eq!(gic.line(&irq), Ok(Line { intid: 80, trigger: Trigger::Edge }));
    let stranger = registry::Irq { number: Some(200), ..irq.clone() };
    assert!(matches!(gic.line(&stranger), Err(IrqError::Invalid(_))), "an INTID the frame does not hand out");
    let intid = irq.number.unwrap() as usize;
    gic.enable(gic.line(&irq).unwrap()).unwrap();
    assert_ne!(gicd.get(0x100 + 4 * (intid / 32)) & 1 << (intid % 32), 0, "the SPI is enabled");
    assert_eq!((gicd.get(0xc00 + 4 * (intid / 16)) >> (2 * (intid % 16))) & 0b10, 0b10, "edge-triggered");
}
