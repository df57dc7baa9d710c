//! The request paths over both interfaces: single requests through submit / poll, ranges
//! through the blocking helpers, flush and GET_ID; the data lands where it should on the
//! simulated disk and nothing else changes.

mod common;

use common::{contents, patterned, Rig, INTERFACES};
use virtio::sim::{BlockModel, Interface};
use virtio_blk::{pattern, BlockError, Request, RequestKind, SECTOR_SIZE};

const SECTORS: u64 = 4096;

#[test]
fn single_requests_come_back_through_poll_with_their_data() {
    for interface in INTERFACES {
        let mut rig = Rig::new(interface, BlockModel::with_contents(patterned(SECTORS, 1)));
        let read = rig.blk.submit(Request::read(100, rig.blk.buffer(3).unwrap())).unwrap();
        let done = rig.blk.poll().expect("completed");
        assert_eq!((done.token, done.result, done.request.kind(), done.request.sector()), (read, Ok(()), RequestKind::Read, 100));
        assert_eq!(contents(done.request.buffer().unwrap()), patterned(SECTORS, 1)[100 * SECTOR_SIZE..103 * SECTOR_SIZE]);

        let data = vec![0x5a; 2 * SECTOR_SIZE];
        let write = rig.blk.submit(Request::write(7, rig.buffer_with(&data))).unwrap();
        let done = rig.blk.poll().expect("completed");
        assert_eq!((done.token, done.result), (write, Ok(())));
        assert_eq!(rig.on_disk(7, 2), data);
        assert_eq!(rig.on_disk(6, 1), patterned(SECTORS, 1)[6 * SECTOR_SIZE..7 * SECTOR_SIZE], "neighbour untouched");

        rig.blk.submit(Request::flush()).unwrap();
        assert_eq!(rig.blk.poll().map(|done| done.result), Some(Ok(())));
        assert_eq!(rig.disk.flushes(), 1);

        rig.blk.submit(Request::get_id(rig.blk.buffer(1).unwrap())).unwrap();
        let id = contents(rig.blk.poll().unwrap().request.buffer().unwrap());
        assert_eq!(&id[..20], b"sim-virtio-blk\0\0\0\0\0\0");
        assert_eq!((rig.blk.poll().is_none(), rig.blk.pending()), (true, 0));
    }
}

#[test]
fn blocking_helpers_move_ranges_larger_than_a_request() {
    for interface in INTERFACES {
        let mut rig = Rig::new(interface, BlockModel::with_contents(patterned(SECTORS, 1)));
        // The helpers' requests: 64 KiB, or the device's largest if that is smaller.
        let max = u64::from(rig.blk.info().max_request_sectors).min(128);
        let (start, count) = (33, 5 * max + 17);

        let mut read = vec![0; count as usize * SECTOR_SIZE];
        rig.blk.read(start, &mut read).unwrap();
        assert_eq!(pattern::first_mismatch(start, 1, &read), None);

        let mut fresh = vec![0; count as usize * SECTOR_SIZE];
        pattern::fill(start, 2, &mut fresh);
        rig.blk.write(start, &fresh).unwrap();
        rig.blk.flush().unwrap();
        let disk = rig.disk.contents();
        let (begin, end) = (start as usize * SECTOR_SIZE, (start + count) as usize * SECTOR_SIZE);
        assert_eq!(disk[begin..end], fresh);
        assert_eq!(disk[..begin], patterned(SECTORS, 1)[..begin], "before the range");
        assert_eq!(disk[end..], patterned(SECTORS, 1)[end..], "after the range");
        assert_eq!(rig.disk.flushes(), 1);

        let mut seen = Vec::new();
        rig.blk.read_with(start, count, |sector, data| seen.push((sector, pattern::first_mismatch(sector, 2, data)))).unwrap();
        seen.sort_unstable_by_key(|&(sector, _)| sector);
        let expected: Vec<_> = (0..count.div_ceil(max)).map(|i| (start + i * max, None)).collect();
        assert_eq!(seen, expected, "every request's data, once");
    }
}

#[test]
fn small_segments_split_requests_without_losing_data() {
    // 1000-byte segments: sectors straddle descriptors.
    let mut rig = Rig::new(Interface::Modern, BlockModel::new(1024).with_segment_limits(1000, 9));
    assert_eq!(rig.blk.info().max_request_sectors, 17);
    let mut fresh = vec![0; 300 * SECTOR_SIZE];
    pattern::fill(10, 3, &mut fresh);
    rig.blk.write(10, &fresh).unwrap();
    assert_eq!(rig.on_disk(10, 300), fresh);
    let mut read = vec![0; 300 * SECTOR_SIZE];
    rig.blk.read(10, &mut read).unwrap();
    assert_eq!(read, fresh);
}

#[test]
fn requests_on_a_disk_with_large_blocks_are_whole_blocks() {
    let mut rig = Rig::new(Interface::Modern, BlockModel::new(256).with_blk_size(4096));
    rig.blk.write(8, &[0xa5; 8 * SECTOR_SIZE]).unwrap();
    assert_eq!(rig.on_disk(8, 8), vec![0xa5; 8 * SECTOR_SIZE]);
    let misaligned = BlockError::Misaligned { sector: 4, sectors: 8, block_sectors: 8 };
    assert_eq!(rig.blk.write(4, &[1; 8 * SECTOR_SIZE]), Err(misaligned));
    let partial = rig.blk.submit(Request::read(8, rig.blk.buffer(4).unwrap())).unwrap_err();
    assert_eq!(partial.error, BlockError::Misaligned { sector: 8, sectors: 4, block_sectors: 8 });
    assert_eq!(rig.on_disk(0, 8), vec![0; 8 * SECTOR_SIZE], "nothing written by refused requests");
}
