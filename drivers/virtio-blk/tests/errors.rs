//! What goes wrong: IOERR and UNSUPP fail their request only; an undefined status byte, a
//! short read, a ring violation or a device that stops answering fail the device, and every
//! request in flight comes back with the error; requests the disk cannot take are refused
//! before the device sees them.

mod common;

use common::{contents, patterned, Rig, INTERFACES};
use virtio::sim::{BlockFault, BlockModel, CompletionOrder, Interface, Misbehaviour, STATUS_IOERR, STATUS_UNSUPP};
use virtio::status::FAILED;
use virtio::VirtioError;
use virtio_blk::{pattern, BlockError, Request, SECTOR_SIZE};

#[test]
fn ioerr_and_unsupp_fail_only_their_request() {
    for interface in INTERFACES {
        let mut rig = Rig::new(interface, BlockModel::with_contents(patterned(64, 1)));
        rig.disk.inject(10, BlockFault::Status(STATUS_IOERR));
        rig.disk.inject(20, BlockFault::Status(STATUS_UNSUPP));
        for (sector, expected) in [(10, Err(BlockError::IoError)), (19, Err(BlockError::Unsupported)), (30, Ok(()))] {
            rig.blk.submit(Request::read(sector, rig.blk.buffer(2).unwrap())).unwrap();
            assert_eq!(rig.blk.poll().map(|done| done.result), Some(expected), "sector {sector}");
        }
        let mut data = vec![0; 64 * SECTOR_SIZE];
        assert_eq!(rig.blk.read(0, &mut data), Err(BlockError::IoError));
        assert_eq!(rig.blk.write(16, &[9; 8 * SECTOR_SIZE]), Err(BlockError::Unsupported));
        assert_eq!(rig.on_disk(16, 8), patterned(64, 1)[16 * SECTOR_SIZE..24 * SECTOR_SIZE], "no data moved");

        assert_eq!(rig.blk.failure(), None, "the device is fine");
        assert_eq!(rig.device.status() & FAILED, 0);
        rig.disk.clear_faults();
        rig.blk.read(0, &mut data).unwrap();
        assert_eq!(data, patterned(64, 1));
    }
}

#[test]
fn an_undefined_status_byte_fails_the_device_and_every_request_in_flight() {
    for interface in INTERFACES {
        let mut rig = Rig::holding(interface, BlockModel::new(64));
        rig.disk.inject(5, BlockFault::Status(7));
        let bad = rig.blk.submit(Request::read(5, rig.blk.buffer(1).unwrap())).unwrap();
        let others: Vec<_> = (0..3).map(|i| rig.blk.submit(Request::read(i, rig.blk.buffer(1).unwrap())).unwrap()).collect();
        assert!(rig.device.complete_next(0), "only the bad one comes back from the device");

        let done = rig.blk.poll().unwrap();
        assert_eq!((done.token, done.result), (bad, Err(BlockError::InvalidStatus(7))));
        drop(done.request);
        assert_ne!(rig.device.status() & FAILED, 0, "device marked FAILED");
        for token in others {
            let done = rig.blk.poll().expect("failed with the device");
            assert_eq!((done.token, done.result), (token, Err(BlockError::InvalidStatus(7))));
            assert!(done.request.buffer().is_some(), "the reset device let go of the buffer");
        }
        assert!(rig.blk.poll().is_none());
        let refused = rig.blk.submit(Request::flush()).unwrap_err();
        assert_eq!(refused.error, BlockError::InvalidStatus(7), "no new work");
        assert_eq!(rig.blk.read(0, &mut [0; SECTOR_SIZE]), Err(BlockError::InvalidStatus(7)));

        let (platform, device) = (rig.platform, rig.device.clone());
        drop(rig);
        assert_eq!(platform.host().dma_live(), 0, "nothing leaked");
        assert_ne!(device.status() & FAILED, 0, "still FAILED");
    }
}

#[test]
fn a_short_read_fails_a_modern_device_but_legacy_used_lengths_are_ignored() {
    let mut modern = Rig::new(Interface::Modern, BlockModel::new(64));
    modern.disk.inject(3, BlockFault::ShortRead);
    let expected = BlockError::ShortRead { len: 1, expected: 4 * SECTOR_SIZE as u32 + 1 };
    assert_eq!(modern.blk.read(0, &mut [0; 4 * SECTOR_SIZE]), Err(expected.clone()));
    assert_eq!(modern.blk.failure(), Some(&expected));
    assert_ne!(modern.device.status() & FAILED, 0);

    // virtio 1.2, 5.2.6.4: legacy devices put all sorts of things in the used length.
    let mut legacy = Rig::new(Interface::Legacy, BlockModel::new(64));
    legacy.disk.inject(3, BlockFault::ShortRead);
    assert_eq!(legacy.blk.read(0, &mut [0; 4 * SECTOR_SIZE]), Ok(()));
    assert_eq!(legacy.blk.failure(), None);
}

#[test]
fn a_ring_violation_fails_the_device_and_returns_the_requests() {
    let mut rig = Rig::holding(Interface::Modern, BlockModel::new(64));
    rig.device.misbehave(Misbehaviour::UsedIdOutOfRange);
    let tokens: Vec<_> = (0..2).map(|i| rig.blk.submit(Request::read(i, rig.blk.buffer(1).unwrap())).unwrap()).collect();
    rig.device.complete(0, CompletionOrder::InOrder);
    let expected = BlockError::Virtio(VirtioError::UsedIdOutOfRange { id: 300, size: 256 });
    let mut returned: Vec<_> = std::iter::from_fn(|| rig.blk.poll()).map(|done| (done.token, done.result)).collect();
    returned.sort_unstable_by_key(|&(token, _)| token);
    assert_eq!(returned, tokens.iter().map(|&token| (token, Err(expected.clone()))).collect::<Vec<_>>());
    assert_ne!(rig.device.status() & FAILED, 0);
}

#[test]
fn a_device_that_stops_completing_is_given_up_after_the_timeout() {
    let mut rig = Rig::holding(Interface::Modern, BlockModel::new(64));
    rig.blk.set_completion_timeout(1_000_000);
    let earlier = rig.blk.submit(Request::read(1, rig.blk.buffer(1).unwrap())).unwrap();
    let Err(BlockError::Virtio(VirtioError::TimedOut(timeout))) = rig.blk.flush() else { panic!("the flush times out") };
    assert_eq!(timeout.what, "the block device to complete a request");
    assert_ne!(rig.device.status() & FAILED, 0);
    let done = rig.blk.poll().expect("the earlier request comes back");
    assert_eq!(done.token, earlier);
    assert!(matches!(done.result, Err(BlockError::Virtio(VirtioError::TimedOut(_)))));
    assert!(done.request.into_buffer().is_some());
    let platform = rig.platform;
    drop(rig);
    assert_eq!(platform.host().dma_live(), 0);
}

#[test]
fn memory_a_device_that_will_not_reset_could_still_write_is_never_freed() {
    let mut rig = Rig::holding(Interface::Modern, BlockModel::new(64));
    rig.blk.set_completion_timeout(1_000_000);
    rig.blk.submit(Request::read(1, rig.blk.buffer(1).unwrap())).unwrap();
    rig.device.misbehave(Misbehaviour::StuckReset);
    let done = rig.blk.wait().expect("the request comes back failed");
    assert!(matches!(done.result, Err(BlockError::Virtio(VirtioError::TimedOut(_)))));
    assert!(done.request.into_buffer().is_none(), "its buffer is kept from the device");
    let platform = rig.platform;
    drop(rig);
    assert_eq!(platform.host().dma_live(), 3, "ring, headers and the read's buffer stay allocated");
}

#[test]
fn writes_to_a_read_only_disk_are_refused_before_submission() {
    for interface in INTERFACES {
        let mut rig = Rig::new(interface, BlockModel::with_contents(patterned(64, 2)).read_only());
        let notified = rig.device.notifications(0);
        let refused = rig.blk.submit(Request::write(0, rig.buffer_with(&[1; SECTOR_SIZE]))).unwrap_err();
        assert_eq!((refused.error, contents(refused.request.buffer().unwrap())), (BlockError::ReadOnly, vec![1; SECTOR_SIZE]));
        assert_eq!(rig.blk.write(8, &[1; SECTOR_SIZE]), Err(BlockError::ReadOnly));
        assert_eq!(rig.blk.write_with(8, 1, |_, _| panic!("no data prepared")), Err(BlockError::ReadOnly));
        assert_eq!(rig.device.notifications(0), notified, "the device saw nothing");
        let mut data = vec![0; 64 * SECTOR_SIZE];
        rig.blk.read(0, &mut data).unwrap();
        assert_eq!(data, patterned(64, 2));
        rig.blk.flush().unwrap();
    }
}

#[test]
fn requests_beyond_the_capacity_or_the_request_size_are_refused() {
    // 4 KiB segments, 8 of them: requests of at most 64 sectors, on a disk of 4096.
    let mut rig = Rig::new(Interface::Modern, BlockModel::new(4096).with_segment_limits(4096, 8));
    let notified = rig.device.notifications(0);
    let beyond = rig.blk.submit(Request::read(4095, rig.blk.buffer(2).unwrap())).unwrap_err();
    assert_eq!(beyond.error, BlockError::OutOfRange { sector: 4095, sectors: 2, capacity: 4096 });
    let wrapping = rig.blk.submit(Request::write(u64::MAX, rig.blk.buffer(1).unwrap())).unwrap_err();
    assert_eq!(wrapping.error, BlockError::OutOfRange { sector: u64::MAX, sectors: 1, capacity: 4096 });
    let ranged = rig.blk.write_with(4090, 10, |_, _| panic!("nothing is written when any of the range is refused"));
    assert_eq!(ranged, Err(BlockError::OutOfRange { sector: 4090, sectors: 10, capacity: 4096 }));
    let huge = rig.blk.submit(Request::read(0, rig.blk.buffer(65).unwrap())).unwrap_err();
    assert_eq!(huge.error, BlockError::TooLarge { sectors: 65, max: 64 });
    assert_eq!(rig.blk.read(0, &mut [0; 100]), Err(BlockError::NotWholeSectors { bytes: 100 }));
    assert_eq!(rig.blk.buffer(0).err(), Some(BlockError::NotWholeSectors { bytes: 0 }));
    assert_eq!(rig.device.notifications(0), notified, "the device saw nothing");
}

#[test]
fn a_device_claiming_more_than_it_holds_fails_those_requests_not_the_driver() {
    let mut rig = Rig::new(Interface::Modern, BlockModel::with_contents(patterned(16, 3)).with_capacity(1000));
    assert_eq!(rig.blk.info().capacity, 1000);
    assert_eq!(rig.blk.read(500, &mut [0; SECTOR_SIZE]), Err(BlockError::IoError));
    let mut data = vec![0; 16 * SECTOR_SIZE];
    rig.blk.read(0, &mut data).unwrap();
    assert_eq!(pattern::first_mismatch(0, 3, &data), None);
}

#[test]
fn a_flush_to_a_device_without_a_cache_is_refused() {
    let mut rig = Rig::new(Interface::Modern, BlockModel::new(8).without_flush());
    assert_eq!(rig.blk.flush(), Err(BlockError::FlushNotSupported));
    assert_eq!(rig.disk.flushes(), 0);
    rig.blk.write(0, &[1; SECTOR_SIZE]).unwrap();
}
