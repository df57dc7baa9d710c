//! Drawing and flushing: only the flushed rectangle reaches the screen, flushes can be in
//! flight together and are matched to their tickets whatever the completion order, and tearing
//! the GPU down frees everything.

mod common;

use common::{pixel, Rig, BOTH, HEIGHT, WIDTH};
use virtio::sim::gpu::Rect as SimRect;
use virtio::sim::{CompletionOrder, Interface};
use registry::DmaDirection;
use virtio_gpu::{GpuError, Rect, Rgb};

const RED: u32 = 0xff0000;
const BLUE: u32 = 0x0000ff;

#[test]
fn only_the_flushed_rectangle_reaches_the_screen() {
    for interface in BOTH {
        let rig = Rig::new(interface, WIDTH, HEIGHT);
        let mut gpu = rig.bring_up().expect("bring-up");
        gpu.framebuffer().expect("sized at bring-up").fill_rect(Rect::new(0, 0, WIDTH, HEIGHT), Rgb::from_hex(RED));
        assert_eq!(rig.view.pixel(5, 5), Some(0), "drawing alone changes nothing on screen");

        let damaged = Rect::new(10, 20, 30, 8);
        gpu.flush(damaged).expect("flush");
        for (x, y) in [(10, 20), (39, 27), (25, 24)] {
            assert_eq!(rig.view.pixel(x, y), Some(pixel(RED)), "({x}, {y}) inside");
        }
        for (x, y) in [(9, 20), (40, 27), (10, 19), (39, 28), (0, 0), (WIDTH - 1, HEIGHT - 1)] {
            assert_eq!(rig.view.pixel(x, y), Some(0), "({x}, {y}) outside");
        }
        assert_eq!(rig.view.flushes(), [SimRect { x: 10, y: 20, width: 30, height: 8 }]);

        // A pixel drawn on its own, and a full-screen flush.
        gpu.framebuffer().expect("sized at bring-up").set_pixel(WIDTH - 1, HEIGHT - 1, Rgb::from_hex(BLUE));
        gpu.framebuffer().expect("sized at bring-up").set_pixel(WIDTH, 0, Rgb::from_hex(BLUE)); // clipped
        gpu.flush(Rect::new(0, 0, WIDTH, HEIGHT)).expect("full flush");
        assert_eq!(rig.view.pixel(0, 0), Some(pixel(RED)));
        assert_eq!(rig.view.pixel(WIDTH - 1, HEIGHT - 1), Some(pixel(BLUE)));
    }
}

#[test]
fn rectangles_outside_the_framebuffer_are_refused_before_the_device_sees_them() {
    let rig = Rig::new(Interface::Modern, WIDTH, HEIGHT);
    let mut gpu = rig.bring_up().expect("bring-up");
    let commands = rig.view.commands().len();
    for rect in [Rect::new(1, 0, WIDTH, 1), Rect::new(0, HEIGHT, 1, 1), Rect::new(u32::MAX, 0, 2, 2), Rect::new(3, 3, 0, 5)] {
        let error = gpu.flush(rect).unwrap_err();
        assert_eq!(error, GpuError::RectOutOfBounds { rect, width: WIDTH, height: HEIGHT });
    }
    assert_eq!(
        GpuError::RectOutOfBounds { rect: Rect::new(1, 2, 3, 4), width: 8, height: 8 }.to_string(),
        "rectangle 3x4 at (1, 2) is outside the 8x8 framebuffer"
    );
    assert_eq!(rig.view.commands().len(), commands);
}

#[test]
fn flushes_in_flight_are_picked_up_by_ticket_in_any_order() {
    let rig = Rig::new(Interface::Modern, WIDTH, HEIGHT);
    let mut gpu = rig.bring_up().expect("bring-up");
    rig.device.set_auto_complete(false);
    gpu.framebuffer().expect("sized at bring-up").fill_rect(Rect::new(0, 0, 8, 8), Rgb::from_hex(RED));
    gpu.framebuffer().expect("sized at bring-up").fill_rect(Rect::new(32, 32, 8, 8), Rgb::from_hex(BLUE));
    let first = gpu.submit_flush(Rect::new(0, 0, 8, 8)).expect("first");
    let second = gpu.submit_flush(Rect::new(32, 32, 8, 8)).expect("second");
    gpu.poll_completions().expect("nothing to collect yet");
    assert_eq!(gpu.flush_outcome(&first), None);

    // The device serves the control queue in order (the driver relies on a transfer being
    // done before the flush behind it).
    assert_eq!(rig.device.complete(0, CompletionOrder::InOrder), 4);
    gpu.poll_completions().expect("poll");
    assert_eq!(gpu.flush_outcome(&second), Some(Ok(())));
    assert_eq!(gpu.flush_outcome(&first), Some(Ok(())));
    assert_eq!(gpu.flush_outcome(&first), None, "an outcome is handed out once");
    assert_eq!(rig.view.pixel(7, 7), Some(pixel(RED)));
    assert_eq!(rig.view.pixel(39, 39), Some(pixel(BLUE)));
}

#[test]
fn a_full_control_queue_is_busy_until_the_device_answers() {
    let rig = Rig::new(Interface::Legacy, WIDTH, HEIGHT);
    let mut gpu = rig.bring_up().expect("bring-up");
    rig.device.set_auto_complete(false);
    let rect = Rect::new(0, 0, 4, 4);
    let tickets: Vec<_> = (0..4).map(|_| gpu.submit_flush(rect).expect("slot")).collect();
    assert_eq!(gpu.submit_flush(rect).unwrap_err(), GpuError::Busy);
    rig.device.complete(0, CompletionOrder::Shuffled(3));
    gpu.poll_completions().expect("poll");
    for ticket in &tickets {
        assert_eq!(gpu.flush_outcome(ticket), Some(Ok(())));
    }
    rig.device.set_auto_complete(true);
    gpu.flush(rect).expect("slots free again");
}

#[test]
fn tearing_down_resets_the_device_before_freeing_its_memory() {
    for interface in BOTH {
        let rig = Rig::new(interface, WIDTH, HEIGHT);
        let mut gpu = rig.bring_up().expect("bring-up");
        rig.device.set_auto_complete(false);
        let _in_flight = gpu.submit_flush(Rect::new(0, 0, 1, 1)).expect("submit");
        assert!(rig.dma_live() > 0);
        drop(gpu);
        assert_eq!(rig.device.status(), 0, "reset");
        assert_eq!(rig.device.held(0), 0, "the reset dropped the requests in flight");
        assert_eq!(rig.dma_live(), 0);
    }
}

#[test]
fn drawing_through_the_display_class_shows_after_its_flush() {
    use registry::class::display::{self as class, Display as _, PixelFormat};
    for interface in BOTH {
        let rig = Rig::new(interface, WIDTH, HEIGHT);
        let display = virtio_gpu::DisplayClass::new(rig.bring_up().expect("bring-up"));
        let mode = display.mode();
        assert_eq!((mode.width, mode.height, mode.format), (WIDTH, HEIGHT, PixelFormat::B8G8R8X8));
        display.draw(&mut |framebuffer| {
            framebuffer.fill_rect(class::Rect::new(2, 3, 4, 5), class::Rgb::from_hex(BLUE));
            framebuffer.set_pixel(WIDTH, HEIGHT, class::Rgb::from_hex(RED)); // clipped
        });
        assert_eq!(rig.view.pixel(2, 3), Some(0), "drawing alone changes nothing on screen");
        display.flush(class::Rect::new(0, 0, 8, 8)).expect("flush");
        assert_eq!((rig.view.pixel(2, 3), rig.view.pixel(5, 7)), (Some(pixel(BLUE)), Some(pixel(BLUE))));
        assert_eq!((rig.view.pixel(6, 3), rig.view.pixel(2, 8)), (Some(0), Some(0)), "outside the box");
    }
}

#[test]
fn the_rectangle_is_synced_for_the_device_before_its_transfer() {
    let rig = Rig::new(Interface::Modern, WIDTH, HEIGHT);
    let mut gpu = rig.bring_up().expect("bring-up");
    rig.platform.record_syncs();
    let rect = Rect::new(1, 2, 3, 4);
    gpu.flush(rect).expect("flush");
    // Rows 2 to 5, from pixel 1 of the first to pixel 3 of the last, 4 bytes a pixel.
    let len = ((5 * WIDTH + 4) - (2 * WIDTH + 1)) as usize * 4;
    let syncs = rig.platform.syncs();
    let framebuffer = syncs.iter().position(|s| s.for_device && s.len == len && s.direction == DmaDirection::ToDevice);
    // The transfer request itself (a descriptor of 16 bytes) is synced after the framebuffer.
    let request = syncs.iter().rposition(|s| s.for_device && s.len == 16);
    assert!(framebuffer.is_some() && framebuffer < request, "{syncs:#?}");
}
