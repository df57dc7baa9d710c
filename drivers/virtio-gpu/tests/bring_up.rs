//! Bring-up over legacy and modern interfaces: the 2D commands in order, the display chosen
//! from the display info, and every nonsense answer refused with the device left FAILED.

mod common;

use common::{Rig, BOTH, HEIGHT, WIDTH};
use registry::{DeviceState, Platform, Registry};
use virtio::sim::gpu::*;
use virtio::sim::{Interface, SimBus, SimDevice, SimPlatform};
use virtio::status::{DRIVER_OK, FAILED};
use virtio::{Interrupt, VirtioDevice};
use virtio_gpu::{DisplayMode, Gpu, GpuError};

#[test]
fn brings_up_the_display_with_the_2d_commands_on_both_interfaces() {
    for interface in BOTH {
        let rig = Rig::new(interface, WIDTH, HEIGHT);
        let gpu = rig.bring_up().unwrap_or_else(|e| panic!("{interface:?}: {e}"));
        assert_eq!(gpu.mode(), DisplayMode { scanout: 0, width: WIDTH, height: HEIGHT });
        assert_ne!(rig.device.status() & DRIVER_OK, 0);
        let expected = [CMD_GET_DISPLAY_INFO, CMD_RESOURCE_CREATE_2D, CMD_RESOURCE_ATTACH_BACKING, CMD_SET_SCANOUT];
        assert_eq!(rig.view.commands(), expected);
        assert_eq!(rig.view.screen(), Some((0, WIDTH, HEIGHT)));
        assert_eq!(rig.view.pixel(0, 0), Some(0), "nothing flushed yet");
    }
}

#[test]
fn the_first_enabled_scanout_is_driven() {
    let platform = SimPlatform::leaked();
    // A disabled scanout's nonsense size does not matter.
    let model = GpuModel::with_scanouts(platform, &[(0, 0, false), (800, 600, true), (640, 480, true)]);
    let view = model.view();
    let device = SimDevice::new(platform, Interface::Modern, model);
    let gpu = Gpu::new(VirtioDevice { transport: Box::new(device.transport()) }, platform, Interrupt::polled()).expect("bring-up");
    assert_eq!(gpu.mode(), DisplayMode { scanout: 1, width: 800, height: 600 });
    assert_eq!(view.screen(), Some((1, 800, 600)));
}

/// Brings up `rig` and checks it fails with `expected`, leaving the device FAILED and no DMA
/// memory behind.
fn expect_refused(rig: &Rig, expected: GpuError, message: &str) {
    let error = rig.bring_up().err().expect("bring-up must fail");
    assert_eq!(error, expected);
    assert_eq!(error.to_string(), message);
    assert_ne!(rig.device.status() & FAILED, 0, "device marked FAILED");
    assert_eq!(rig.dma_live(), 0, "every DMA buffer freed after the reset");
}

#[test]
fn nonsense_display_sizes_are_refused() {
    for (width, height) in [(0, 0), (u32::MAX, 480), (640, 100_000)] {
        let rig = Rig::new(Interface::Modern, width, height);
        let message = format!("scanout 0 reports an unusable size {width}x{height}");
        expect_refused(&rig, GpuError::BadDisplaySize { scanout: 0, width, height }, &message);
    }
}

#[test]
fn a_display_without_enabled_scanouts_is_refused() {
    let platform = SimPlatform::leaked();
    let model = GpuModel::with_scanouts(platform, &[(640, 480, false), (640, 480, false)]);
    let rig = Rig { platform, view: model.view(), device: SimDevice::new(platform, Interface::Modern, model) };
    expect_refused(&rig, GpuError::NoEnabledScanout, "device reports no enabled scanout");
}

#[test]
fn nonsense_scanout_counts_are_refused() {
    for count in [0u32, 17, u32::MAX] {
        let rig = Rig::new(Interface::Legacy, WIDTH, HEIGHT);
        rig.device.change_config(8, &count.to_le_bytes());
        let message = format!("device reports {count} scanouts, expected 1 to 16");
        expect_refused(&rig, GpuError::BadScanoutCount(count), &message);
    }
}


#[test]
fn the_registry_binds_gpus_and_lsdev_shows_the_display_or_the_failure() {
    let platform = SimPlatform::leaked();
    let good = SimDevice::new(platform, Interface::Modern, GpuModel::new(platform, 1280, 800));
    let bad = SimDevice::new(platform, Interface::Legacy, GpuModel::new(platform, 0, 0));
    let mut registry = registry::probe_all(platform, &[&SimBus(vec![good, bad.clone()])]);
    let gpu0 = registry.find_by_path("/virtio-gpu0").expect("gpu0");
    assert_eq!((gpu0.state.clone(), gpu0.driver.map(|d| d.name)), (DeviceState::Bound, Some("virtio-gpu")));
    assert_eq!(gpu0.info, [("display", "1280x800 on scanout 0".to_string())]);
    let gpu1 = registry.find_by_path("/virtio-gpu1").expect("gpu1");
    assert_eq!(gpu1.state, DeviceState::Failed("scanout 0 reports an unusable size 0x0".into()));
    assert_ne!(bad.status() & FAILED, 0);
    let text = registry::lsdev::text(&registry);
    assert!(text.contains("display: 1280x800 on scanout 0"), "{text}");
    let gpus: Vec<_> = registry.driver_data::<Gpu>().map(|(path, gpu)| (path.to_string(), gpu.mode().width)).collect();
    assert_eq!(gpus, [("/virtio-gpu0".to_string(), 1280)]);
}

#[test]
fn requests_complete_by_interrupt_while_the_driver_sleeps() {
    let platform = SimPlatform::leaked();
    let device = SimDevice::new(platform, Interface::Modern, GpuModel::new(platform, WIDTH, HEIGHT));
    device.set_completion_latency(Some(100_000));
    let mut registry = registry::probe_all(platform, &[&SimBus(vec![device])]);
    let handled = |registry: &Registry| registry.find_by_path("/virtio-gpu").unwrap().irq_stats[0].1.handled();
    assert_eq!(handled(&registry), 4, "four bring-up commands, one at a time: one interrupt each");
    let (_, gpu) = registry.driver_data::<Gpu>().next().expect("bound");
    let start = platform.now_ns();
    gpu.flush(virtio_gpu::Rect::new(0, 0, WIDTH, HEIGHT)).expect("flush");
    assert!(platform.now_ns() - start >= 100_000, "waited for the device");
    assert_eq!(handled(&registry), 5, "the transfer and the flush went together and came back together");
}

#[test]
fn a_control_queue_too_small_for_a_flush_is_refused() {
    let rig = Rig::new(Interface::Modern, WIDTH, HEIGHT);
    rig.device.set_queue_max(0, 2);
    expect_refused(&rig, GpuError::ControlQueueTooSmall(2), "control queue of 2 entries is too small");

    // Four entries hold one flush: two requests of two descriptors.
    let rig = Rig::new(Interface::Legacy, WIDTH, HEIGHT);
    rig.device.set_queue_max(0, 4);
    let mut gpu = rig.bring_up().expect("bring-up");
    gpu.flush(virtio_gpu::Rect::new(0, 0, WIDTH, HEIGHT)).expect("flush");
}

#[test]
fn a_gpu_that_answers_nonsense_after_the_probe_shows_failed_in_lsdev() {
    let platform = SimPlatform::leaked();
    let model = GpuModel::new(platform, WIDTH, HEIGHT);
    let view = model.view();
    let device = SimDevice::new(platform, Interface::Modern, model);
    let mut registry = registry::probe_all(platform, &[&SimBus(vec![device])]);
    assert_eq!(registry.find_by_path("/virtio-gpu").unwrap().outcome(), DeviceState::Bound);

    view.answer_badly(CMD_RESOURCE_FLUSH, BadReply::Type(0xdead));
    let (_, gpu) = registry.driver_data::<Gpu>().next().expect("bound");
    let reason = gpu.flush(virtio_gpu::Rect::new(0, 0, 8, 8)).unwrap_err().to_string();
    assert!(reason.contains("0xdead"), "{reason}");

    assert_eq!(registry.find_by_path("/virtio-gpu").unwrap().outcome(), DeviceState::Failed(reason.clone()));
    let text = registry::lsdev::text(&registry);
    assert!(text.contains(&format!("failed: {reason}")), "{text}");
    let json = registry::lsdev::json(&registry);
    assert!(json.contains(&format!(r#""outcome":"failed","reason":"{reason}""#)), "{json}");
}
