//! VIRTIO_F_EVENT_IDX through the simulated device (virtio 1.2, 2.7.7 and 2.7.10): the driver
//! notifies only when its available index passes the device's avail_event, and the device
//! interrupts only when its used index passes the driver's used_event, which the driver moves
//! on each time it has consumed everything. Legacy and modern alike.

mod common;

use common::{BlockRig, Request};
use virtio::features::RING_EVENT_IDX;
use virtio::sim::{BlockModel, CompletionOrder, Interface};

const INTERFACES: [Interface; 2] = [Interface::Modern, Interface::Legacy];

/// Adds a flush and notifies (the notify may be suppressed); returns the token.
fn submit_flush(rig: &mut BlockRig) -> (u16, Request) {
    let request = Request::flush(rig.platform);
    (rig.submit(&request), request)
}

#[test]
fn the_device_is_notified_only_when_the_available_index_passes_avail_event() {
    for interface in INTERFACES {
        let mut rig = BlockRig::new(interface, BlockModel::new(8), 16);
        assert!(rig.negotiated.has(RING_EVENT_IDX), "{interface:?}: offered, so taken");
        rig.device.set_auto_complete(false);
        let _first = submit_flush(&mut rig);
        assert_eq!(rig.device.notifications(0), 1, "{interface:?}: an idle device asks for the next chain");

        // Busy with what it has, the device asks to hear only once chain index 3 is published
        // (the fourth): chains 1 and 2 go unannounced, even with NO_NOTIFY clear.
        rig.device.set_avail_event(0, 3);
        let _held: Vec<_> = (0..2).map(|_| submit_flush(&mut rig)).collect();
        assert_eq!((rig.device.notifications(0), rig.device.held(0)), (1, 1), "{interface:?}: suppressed");
        let _fourth = submit_flush(&mut rig);
        assert_eq!(rig.device.notifications(0), 2, "{interface:?}: index 3 -> 4 passes avail_event");
        assert_eq!(rig.device.held(0), 4, "{interface:?}: the notified device found all four");

        // With EVENT_IDX the NO_NOTIFY flag means nothing (2.7.10): avail_event alone decides.
        rig.device.set_no_notify(0, true);
        let _fifth = submit_flush(&mut rig);
        assert_eq!(rig.device.notifications(0), 3, "{interface:?}: the flag is ignored");
        assert_eq!(rig.device.complete(0, CompletionOrder::InOrder), 5);
    }
}

#[test]
fn the_device_interrupts_only_when_the_used_index_passes_used_event() {
    for interface in INTERFACES {
        let mut rig = BlockRig::new(interface, BlockModel::new(8), 16);
        rig.device.set_auto_complete(false);
        let _batch: Vec<_> = (0..4).map(|_| submit_flush(&mut rig)).collect();
        assert!(rig.queue.pop_used().is_none(), "{interface:?}: nothing used yet; used_event = 0");
        assert_eq!(rig.device.complete(0, CompletionOrder::Reversed), 4);
        assert_eq!(rig.device.interrupts(0), 1, "{interface:?}: one interrupt for the four");

        // Only two consumed: the driver has not asked for more, so a fifth completion is silent.
        let popped = [rig.queue.pop_used(), rig.queue.pop_used()];
        assert!(popped.iter().all(|used| matches!(used, Some(Ok(_)))), "{interface:?}: {popped:?}");
        let _fifth = submit_flush(&mut rig);
        assert!(rig.device.complete_next(0));
        assert_eq!(rig.device.interrupts(0), 1, "{interface:?}: completions before the driver catches up are silent");

        // Caught up (pop_used until None), the driver asks again: the next completion interrupts.
        let rest: Vec<_> = core::iter::from_fn(|| rig.queue.pop_used()).collect();
        assert_eq!(rest.len(), 3, "{interface:?}: the silent completion is still found");
        let _sixth = submit_flush(&mut rig);
        assert!(rig.device.complete_next(0));
        assert_eq!(rig.device.interrupts(0), 2, "{interface:?}");
        assert!(matches!(rig.queue.pop_used(), Some(Ok(_))));
    }
}

#[test]
fn without_event_idx_every_completion_interrupts() {
    for interface in INTERFACES {
        let mut rig = BlockRig::without_event_idx(interface, BlockModel::new(8), 16);
        assert!(!rig.negotiated.has(RING_EVENT_IDX));
        rig.device.set_auto_complete(false);
        let _batch: Vec<_> = (0..4).map(|_| submit_flush(&mut rig)).collect();
        assert!(rig.queue.pop_used().is_none());
        assert_eq!(rig.device.complete(0, CompletionOrder::InOrder), 4);
        assert_eq!(rig.device.interrupts(0), 4, "{interface:?}");
        assert_eq!(rig.device.notifications(0), 4, "{interface:?}: an idle device without NO_NOTIFY hears each");
    }
}
