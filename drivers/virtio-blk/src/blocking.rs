//! Blocking helpers on top of submit / poll: one request at a time (flush, the ID string), or a
//! range of sectors split into requests with several in flight (read, write, and the streaming
//! forms). Every wait is bounded by the completion timeout; completions of requests submitted
//! before a helper ran stay queued for `poll`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::info::decode_id;
use crate::{BlockDevice, BlockError, Completion, Refused, Request, RequestKind, SectorBuffer, Token, ID_BYTES, SECTOR_SIZE};

/// Requests a streaming helper keeps in flight.
const PIPELINE_DEPTH: usize = 16;
/// The helpers' requests: 64 KiB (a whole number of blocks of any size the driver accepts),
/// so a range in flight holds at most 1 MiB of DMA memory whatever the device allows.
const HELPER_REQUEST_SECTORS: u64 = (64 << 10) / SECTOR_SIZE as u64;

/// The requests of one blocking call, told apart from completions of other requests.
struct Batch {
    tokens: Vec<Token>,
    others: Vec<Completion>,
}

impl BlockDevice {
    /// Makes every completed write durable. Refused on a device without a write cache
    /// ([`BlockError::FlushNotSupported`]), whose writes are durable when they complete.
    pub fn flush(&mut self) -> Result<(), BlockError> {
        self.run(Request::flush()).map(drop)
    }

    /// Reads `out.len()` bytes (whole sectors) from sector `start`.
    pub fn read(&mut self, start: u64, out: &mut [u8]) -> Result<(), BlockError> {
        let sectors = whole_sectors(out.len())?;
        self.read_with(start, sectors, |sector, data| {
            let at = (sector - start) as usize * SECTOR_SIZE;
            out[at..at + data.len()].copy_from_slice(data);
        })
    }

    /// Writes `data` (whole sectors) from sector `start`.
    pub fn write(&mut self, start: u64, data: &[u8]) -> Result<(), BlockError> {
        let sectors = whole_sectors(data.len())?;
        self.write_with(start, sectors, |sector, out| {
            let at = (sector - start) as usize * SECTOR_SIZE;
            out.copy_from_slice(&data[at..at + out.len()]);
        })
    }

    /// Reads `count` sectors from `start`, several requests in flight, and hands each request's
    /// data to `consume(first_sector, bytes)` as it completes: in completion order, which need
    /// not be sector order. Stops at the first error, after the requests in flight came back.
    pub fn read_with(&mut self, start: u64, count: u64, mut consume: impl FnMut(u64, &[u8])) -> Result<(), BlockError> {
        let mut staging = self.staging()?;
        self.stream(RequestKind::Read, start, count, &mut |sector, buffer| {
            staging.resize(buffer.sectors() as usize * SECTOR_SIZE, 0);
            buffer.read_at(0, &mut staging);
            consume(sector, &staging);
        })
    }

    /// Writes `count` sectors from `start`, several requests in flight; `produce(first_sector,
    /// bytes)` fills each request's data (zeroed) before it is submitted. Stops at the first
    /// error, after the requests in flight came back.
    pub fn write_with(&mut self, start: u64, count: u64, mut produce: impl FnMut(u64, &mut [u8])) -> Result<(), BlockError> {
        let mut staging = self.staging()?;
        self.stream(RequestKind::Write, start, count, &mut |sector, buffer| {
            staging.clear();
            staging.resize(buffer.sectors() as usize * SECTOR_SIZE, 0);
            produce(sector, &mut staging);
            buffer.write_at(0, &staging);
        })
    }

    /// An empty buffer with room for the largest request the helpers make, allocated
    /// fallibly (a kernel out of memory gets an error, not a panic): `resize` within it does
    /// not allocate again.
    fn staging(&self) -> Result<Vec<u8>, BlockError> {
        let bytes = self.helper_request_sectors() as usize * SECTOR_SIZE;
        let mut staging = Vec::new();
        staging.try_reserve_exact(bytes).map_err(|_| BlockError::OutOfMemory { what: "a staging buffer", bytes })?;
        Ok(staging)
    }

    /// The sectors of each request the helpers make.
    fn helper_request_sectors(&self) -> u64 {
        u64::from(self.info().max_request_sectors).min(HELPER_REQUEST_SECTORS)
    }

    /// The device ID string; `None` when the device has none (GET_ID has no feature bit: such a
    /// device answers UNSUPP, or IOERR).
    pub(crate) fn read_id(&mut self) -> Result<Option<String>, BlockError> {
        let buffer = self.buffer(1)?;
        match self.run(Request::get_id(buffer)) {
            Ok(buffer) => {
                let mut raw = [0; ID_BYTES];
                if let Some(buffer) = buffer {
                    buffer.read_at(0, &mut raw);
                }
                Ok(decode_id(&raw))
            }
            Err(BlockError::Unsupported | BlockError::IoError) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Submits `request` alone and waits for it; returns its buffer (holding a read's data).
    fn run(&mut self, request: Request) -> Result<Option<SectorBuffer>, BlockError> {
        let mut batch = self.begin();
        let mut outcome = self.submit_own(&mut batch, request).map(|()| None).map_err(|refused| refused.error);
        while let Some(completion) = self.next_own(&mut batch) {
            outcome = completion.result.map(|()| completion.request.into_buffer());
        }
        self.end(batch);
        outcome
    }

    /// Reads or writes `count` sectors from `start` in requests of up to the device's maximum,
    /// keeping up to [`PIPELINE_DEPTH`] in flight and reusing their buffers. `each` fills a
    /// write's buffer before submission, or takes a read's data after completion.
    fn stream(
        &mut self,
        kind: RequestKind,
        start: u64,
        count: u64,
        each: &mut dyn FnMut(u64, &mut SectorBuffer),
    ) -> Result<(), BlockError> {
        let writing = kind == RequestKind::Write;
        if let Some(error) = self.failure() {
            return Err(error.clone());
        }
        if writing && self.info().read_only {
            return Err(BlockError::ReadOnly);
        }
        // The whole range is checked first, so nothing is written if any of it is refused.
        self.info().check_extent(start, count)?;
        let chunk = self.helper_request_sectors();
        let end = start + count;
        let (mut next, mut spare, mut first_error) = (start, Vec::new(), None);
        // Room for every token and spare buffer of the pipeline, so nothing below allocates.
        let room = |what| BlockError::OutOfMemory { what, bytes: PIPELINE_DEPTH * 16 };
        spare.try_reserve(PIPELINE_DEPTH + 1).map_err(|_| room("the spare buffer list"))?;
        let mut batch = self.begin();
        if batch.tokens.try_reserve(PIPELINE_DEPTH).is_err() {
            self.end(batch);
            return Err(room("the request list"));
        }
        loop {
            while first_error.is_none() && next < end && batch.tokens.len() < PIPELINE_DEPTH {
                // At most the maximum request, which is whole blocks, and so is what is left.
                let sectors = (end - next).min(chunk) as u32;
                let mut buffer = match take_spare(&mut spare, sectors).map_or_else(|| self.buffer(sectors), Ok) {
                    Ok(buffer) => buffer,
                    Err(error) => {
                        first_error = Some(error);
                        break;
                    }
                };
                if writing {
                    each(next, &mut buffer);
                }
                let request = if writing { Request::write(next, buffer) } else { Request::read(next, buffer) };
                match self.submit_own(&mut batch, request) {
                    Ok(()) => next += u64::from(sectors),
                    Err(Refused { error, request }) => {
                        spare.extend(request.into_buffer());
                        // A full queue only means waiting until one of ours makes room.
                        if error != BlockError::QueueFull || batch.tokens.is_empty() {
                            first_error = Some(error);
                        }
                        break;
                    }
                }
            }
            let Some(Completion { request, result, .. }) = self.next_own(&mut batch) else { break };
            let sector = request.sector();
            let mut buffer = request.into_buffer();
            match (result, buffer.as_mut()) {
                (Ok(()), Some(buffer)) if !writing => each(sector, buffer),
                (Ok(()), _) => {}
                (Err(error), _) => {
                    first_error.get_or_insert(error);
                }
            }
            spare.extend(buffer);
        }
        self.end(batch);
        first_error.map_or(Ok(()), Err)
    }

    /// Starts a blocking call: completions already waiting belong to earlier submissions.
    fn begin(&mut self) -> Batch {
        Batch { tokens: Vec::new(), others: self.completed.drain(..).collect() }
    }

    fn submit_own(&mut self, batch: &mut Batch, request: Request) -> Result<(), Refused> {
        batch.tokens.push(self.submit(request)?);
        Ok(())
    }

    /// The next completion of the batch's requests, setting others aside; `None` once all of
    /// the batch's requests came back.
    fn next_own(&mut self, batch: &mut Batch) -> Option<Completion> {
        while !batch.tokens.is_empty() {
            let completion = self.wait()?;
            match batch.tokens.iter().position(|&token| token == completion.token) {
                Some(at) => {
                    batch.tokens.swap_remove(at);
                    return Some(completion);
                }
                None => batch.others.push(completion),
            }
        }
        None
    }

    /// Ends a blocking call: the completions set aside go back first in line for `poll`.
    fn end(&mut self, batch: Batch) {
        for completion in batch.others.into_iter().rev() {
            self.completed.push_front(completion);
        }
    }
}

/// The sectors in `bytes` bytes of host data.
fn whole_sectors(bytes: usize) -> Result<u64, BlockError> {
    if !bytes.is_multiple_of(SECTOR_SIZE) {
        return Err(BlockError::NotWholeSectors { bytes });
    }
    Ok((bytes / SECTOR_SIZE) as u64)
}

/// A spare buffer of exactly `sectors` sectors, if there is one.
fn take_spare(spare: &mut Vec<SectorBuffer>, sectors: u32) -> Option<SectorBuffer> {
    let at = spare.iter().position(|buffer| buffer.sectors() == sectors)?;
    Some(spare.swap_remove(at))
}
