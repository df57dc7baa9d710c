//! Many requests in flight at once, completed by the device in any order; a full queue hands
//! the request back; the blocking helpers keep several requests in flight and leave other
//! requests' completions for poll.

mod common;

use std::collections::BTreeMap;

use common::{contents, patterned, BusyDevicePlatform, Rig, INTERFACES};
use virtio::sim::{BlockModel, CompletionOrder, Interface};
use virtio_blk::{pattern, BlockError, Request, Token, SECTOR_SIZE};

#[test]
fn many_requests_in_flight_complete_out_of_order() {
    for interface in INTERFACES {
        let mut rig = Rig::holding(interface, BlockModel::with_contents(patterned(1024, 4)));
        let mut submitted = BTreeMap::new();
        for i in 0..40u64 {
            let (sector, sectors) = (i * 20 + i % 3, (i % 4 + 1) as u32);
            let token = rig.blk.submit(Request::read(sector, rig.blk.buffer(sectors).unwrap())).unwrap();
            submitted.insert(token, (sector, sectors));
        }
        assert_eq!((submitted.len(), rig.blk.pending(), rig.device.held(0)), (40, 40, 40), "all in flight at once");
        assert_eq!(rig.blk.most_in_flight(), 40);
        assert!(rig.blk.poll().is_none(), "nothing completed yet");

        rig.device.complete(0, CompletionOrder::Shuffled(11));
        let mut order = Vec::new();
        while let Some(done) = rig.blk.poll() {
            let (sector, sectors) = submitted.remove(&done.token).expect("a token in flight, once");
            assert_eq!((done.result, done.request.sector()), (Ok(()), sector));
            let data = contents(done.request.buffer().unwrap());
            assert_eq!((data.len(), pattern::first_mismatch(sector, 4, &data)), (sectors as usize * SECTOR_SIZE, None));
            order.push(done.token);
        }
        assert!(submitted.is_empty(), "every request came back");
        assert!(!order.is_sorted(), "the device completed out of submission order");
    }
}

#[test]
fn a_full_queue_hands_the_request_back() {
    let mut rig = Rig::shaped(Interface::Modern, BlockModel::new(64), |device| device.set_queue_max(0, 8));
    rig.device.set_auto_complete(false);
    // Eight descriptors: two requests of three each fit, a third does not.
    let first = rig.blk.submit(Request::write(0, rig.buffer_with(&[1; SECTOR_SIZE]))).unwrap();
    rig.blk.submit(Request::write(1, rig.buffer_with(&[2; SECTOR_SIZE]))).unwrap();
    let refused = rig.blk.submit(Request::write(2, rig.buffer_with(&[3; SECTOR_SIZE]))).unwrap_err();
    assert_eq!(refused.error, BlockError::QueueFull);
    assert_eq!(contents(refused.request.buffer().unwrap()), [3; SECTOR_SIZE], "handed back intact");

    assert!(rig.device.complete_next(0));
    assert_eq!(rig.blk.poll().map(|done| (done.token, done.result)), Some((first, Ok(()))));
    rig.blk.submit(refused.request).unwrap();
    rig.device.complete(0, CompletionOrder::InOrder);
    assert_eq!((rig.blk.poll().is_some(), rig.blk.poll().is_some(), rig.blk.poll().is_none()), (true, true, true));
    assert_eq!(rig.on_disk(0, 3), [[1; SECTOR_SIZE], [2; SECTOR_SIZE], [3; SECTOR_SIZE]].concat());
}

#[test]
fn blocking_helpers_keep_several_requests_in_flight() {
    for interface in INTERFACES {
        let (platform, _device, disk, mut blk) = BusyDevicePlatform::bring_up(interface, BlockModel::new(8192));
        // 40 of the helpers' 64 KiB requests.
        let count = 40 * 128;
        blk.write_with(0, count, |sector, data| pattern::fill(sector, 5, data)).unwrap();
        assert!(platform.most_held() >= 8, "{} requests in flight at most", platform.most_held());
        assert_eq!(usize::from(blk.most_in_flight()), platform.most_held(), "the driver's count agrees");
        assert_eq!(pattern::first_mismatch(0, 5, &disk.contents()[..count as usize * SECTOR_SIZE]), None);

        let mut mismatches = 0;
        blk.read_with(0, count, |sector, data| mismatches += usize::from(pattern::first_mismatch(sector, 5, data).is_some()))
            .unwrap();
        assert_eq!(mismatches, 0);
        drop(blk);
        assert_eq!(platform.dma_live(), 0, "every buffer freed");
    }
}

#[test]
fn completions_of_earlier_requests_wait_for_poll_across_a_blocking_call() {
    let (_, device, _, mut blk) = BusyDevicePlatform::bring_up(Interface::Modern, BlockModel::with_contents(patterned(64, 6)));
    let mut earlier: BTreeMap<Token, u64> =
        (0..3).map(|sector| (blk.submit(Request::read(sector, blk.buffer(1).unwrap())).unwrap(), sector)).collect();
    assert_eq!(device.held(0), 3);
    blk.write(10, &[7; 4 * SECTOR_SIZE]).unwrap();
    blk.flush().unwrap();
    for _ in 0..3 {
        let done = blk.poll().expect("kept for poll");
        let sector = earlier.remove(&done.token).expect("one of the earlier requests");
        assert_eq!((done.result, pattern::first_mismatch(sector, 6, &contents(done.request.buffer().unwrap()))), (Ok(()), None));
    }
    assert!(blk.poll().is_none());
}
