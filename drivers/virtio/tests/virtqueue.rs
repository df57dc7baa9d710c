//! The split virtqueue against the simulated block device: data integrity, many chains in
//! flight completed out of order, notification suppression, bounded waits, no leaks.

mod common;

use common::{pattern, BlockRig, Request, SECTOR, STATUS_IOERR, STATUS_OK};
use virtio::sim::{BlockModel, CompletionOrder, Interface};
use virtio::{Buffer, Interrupt, Transport, VirtioError};

const INTERFACES: [Interface; 2] = [Interface::Modern, Interface::Legacy];

#[test]
fn requests_round_trip_through_the_block_model() {
    for interface in INTERFACES {
        let disk = pattern(0, 64, 1);
        let mut rig = BlockRig::new(interface, BlockModel::with_contents(disk.clone()), 256);
        let p = rig.platform;

        let read = Request::read(p, 5, 3);
        assert_eq!(rig.run(&read), 3 * SECTOR as u32 + 1, "data and status byte");
        assert_eq!((read.status(), read.data()), (STATUS_OK, disk[5 * SECTOR..8 * SECTOR].to_vec()));

        let new_data = pattern(10, 2, 9);
        let write = Request::write(p, 10, &new_data);
        assert_eq!(rig.run(&write), 1);
        assert_eq!(write.status(), STATUS_OK);
        let read_back = Request::read(p, 10, 2);
        rig.run(&read_back);
        assert_eq!(read_back.data(), new_data);

        let beyond = Request::read(p, 63, 2);
        assert_eq!(rig.run(&beyond), 1);
        assert_eq!(beyond.status(), STATUS_IOERR);

        let flush = Request::flush(p);
        rig.run(&flush);
        assert_eq!(flush.status(), STATUS_OK);
        let id = Request::get_id(p);
        assert_eq!(rig.run(&id), 21);
        assert_eq!(id.data(), b"sim-virtio-blk\0\0\0\0\0\0");

        assert_eq!(rig.queue.free_descriptors(), 256);
        let status = rig.transport.interrupt_status();
        assert_eq!(status.take_causes(), Ok(1), "used-buffer interrupt pending");
        assert_eq!(status.take_causes(), Ok(0));
    }
}

#[test]
fn many_chains_in_flight_complete_out_of_order_without_leaks() {
    for interface in INTERFACES {
        let mut rig = BlockRig::new(interface, BlockModel::new(64), 128);
        let p = rig.platform;
        rig.device.set_auto_complete(false);

        // 32 writes of two sectors each, all outstanding at once.
        let writes: Vec<Request> = (0..32).map(|i| Request::write(p, 2 * i, &pattern(2 * i, 2, 3))).collect();
        let tokens: Vec<u16> = writes.iter().map(|w| rig.queue.add(&w.buffers()).unwrap()).collect();
        rig.queue.notify(&rig.transport).unwrap();
        assert_eq!((rig.queue.in_flight(), rig.queue.free_descriptors()), (32, 128 - 96));
        assert_eq!(rig.device.held(0), 32);
        assert_eq!(rig.device.complete(0, CompletionOrder::Shuffled(42)), 32);
        let mut completed = Vec::new();
        while let Some(used) = rig.queue.pop_used() {
            completed.push(used.unwrap().token);
        }
        assert_ne!(completed, tokens, "the device completed out of order");
        completed.sort_unstable();
        let mut sorted = tokens.clone();
        sorted.sort_unstable();
        assert_eq!(completed, sorted, "every chain came back exactly once");
        assert!(writes.iter().all(|w| w.status() == STATUS_OK));

        // Read everything back, again all at once, completed in reverse.
        let reads: Vec<Request> = (0..32).map(|i| Request::read(p, 2 * i, 2)).collect();
        let tokens: Vec<u16> = reads.iter().map(|r| rig.queue.add(&r.buffers()).unwrap()).collect();
        rig.queue.notify(&rig.transport).unwrap();
        rig.device.complete(0, CompletionOrder::Reversed);
        for expected in tokens.iter().rev() {
            let used = rig.queue.pop_used().unwrap().unwrap();
            assert_eq!((used.token, used.len), (*expected, 2 * SECTOR as u32 + 1));
        }
        assert!(rig.queue.pop_used().is_none());
        for (i, read) in reads.iter().enumerate() {
            assert_eq!(read.data(), pattern(2 * i as u64, 2, 3), "sector {}", 2 * i);
        }

        assert_eq!((rig.queue.free_descriptors(), rig.queue.in_flight()), (128, 0));
        let host = rig.platform.host();
        drop((rig, writes, reads));
        assert_eq!(host.dma_live(), 0, "ring and request memory all freed");
    }
}

#[test]
fn a_full_queue_refuses_more_and_recovers_once_chains_come_back() {
    let mut rig = BlockRig::new(Interface::Modern, BlockModel::new(8), 8);
    let p = rig.platform;
    rig.device.set_auto_complete(false);
    let requests: Vec<Request> = (0..3).map(|_| Request::read(p, 0, 1)).collect();
    for request in &requests[..2] {
        rig.queue.add(&request.buffers()).unwrap();
    }
    let full = rig.queue.add(&requests[2].buffers());
    assert_eq!(full, Err(VirtioError::QueueFull { needed: 3, free: 2 }));
    let too_long = rig.queue.add(&[Buffer::readable(0, 1); 9]);
    assert_eq!(too_long, Err(VirtioError::ChainTooLong { descriptors: 9, size: 8 }));
    rig.queue.notify(&rig.transport).unwrap();
    rig.device.complete_next(0);
    rig.queue.pop_used().unwrap().unwrap();
    rig.queue.add(&requests[2].buffers()).expect("room again");
}

#[test]
fn ring_indices_wrap_around_u16() {
    let mut rig = BlockRig::new(Interface::Modern, BlockModel::new(1), 4);
    let flush = Request::flush(rig.platform);
    for _ in 0..70_000 {
        rig.run(&flush);
    }
    assert_eq!(rig.queue.free_descriptors(), 4);
}

#[test]
fn without_event_idx_the_device_is_only_notified_when_it_wants_to_be() {
    let mut rig = BlockRig::without_event_idx(Interface::Modern, BlockModel::new(8), 16);
    let p = rig.platform;
    let first = Request::flush(p);
    rig.run(&first);
    assert_eq!(rig.device.notifications(0), 1);
    rig.queue.notify(&rig.transport).unwrap();
    assert_eq!(rig.device.notifications(0), 1, "nothing new, no notification");

    // A polling device sets NO_NOTIFY: chains are published without a notification.
    rig.device.set_no_notify(0, true);
    let second = Request::flush(p);
    let token = rig.submit(&second);
    assert_eq!(rig.device.notifications(0), 1);
    assert!(rig.queue.pop_used().is_none());
    rig.device.poll(0);
    assert_eq!(rig.queue.pop_used(), Some(Ok(virtio::Used { token, len: 1 })));

    rig.device.set_no_notify(0, false);
    rig.run(&first);
    assert_eq!(rig.device.notifications(0), 2);
}

#[test]
fn waiting_for_a_completion_is_bounded() {
    let mut rig = BlockRig::new(Interface::Modern, BlockModel::new(8), 16);
    rig.device.set_auto_complete(false);
    let flush = Request::flush(rig.platform);
    let token = rig.submit(&flush);
    let waited = rig.queue.wait_used(&mut rig.transport, rig.platform, 1_000_000, &Interrupt::polled());
    let Err(VirtioError::TimedOut(timeout)) = waited else { panic!("{waited:?}") };
    assert_eq!(timeout.what, "the device to use a buffer");
    assert_eq!(rig.device.status() & virtio::status::FAILED, 0, "a slow device is not failed");
    assert_eq!(rig.queue.in_flight(), 1, "the chain stays with the device");

    rig.device.complete(0, CompletionOrder::InOrder);
    let used = rig.queue.wait_used(&mut rig.transport, rig.platform, 1_000_000, &Interrupt::polled()).unwrap();
    assert_eq!(used.token, token);
}
