//! The 2D part of the virtio-gpu control protocol (virtio 1.2, 5.7.6): requests encoded as the
//! spec lays out its little-endian structures, and responses decoded with every field checked.

use crate::{GpuError, Rect};

pub(crate) const GET_DISPLAY_INFO: u32 = 0x0100;
pub(crate) const RESOURCE_CREATE_2D: u32 = 0x0101;
pub(crate) const SET_SCANOUT: u32 = 0x0103;
pub(crate) const RESOURCE_FLUSH: u32 = 0x0104;
pub(crate) const TRANSFER_TO_HOST_2D: u32 = 0x0105;
pub(crate) const RESOURCE_ATTACH_BACKING: u32 = 0x0106;
const OK_NODATA: u32 = 0x1100;
const OK_DISPLAY_INFO: u32 = 0x1101;
/// VIRTIO_GPU_RESP_ERR_UNSPEC and the error types after it.
const ERRORS: core::ops::RangeInclusive<u32> = 0x1200..=0x12ff;

/// B8G8R8X8_UNORM: bytes blue, green, red, unused, so a little-endian u32 reads 0x00RRGGBB.
pub(crate) const FORMAT_B8G8R8X8_UNORM: u32 = 2;
pub(crate) const BYTES_PER_PIXEL: u32 = 4;
/// `struct virtio_gpu_ctrl_hdr`: type, flags, fence_id, ctx_id, ring_idx, padding.
const HEADER_SIZE: usize = 24;
pub(crate) const MAX_SCANOUTS: usize = 16;
/// `struct virtio_gpu_display_one`: a rectangle, enabled, flags.
const DISPLAY_ONE_SIZE: usize = 24;
/// The largest request: TRANSFER_TO_HOST_2D (header, rectangle, offset, resource, padding).
pub(crate) const MAX_REQUEST_SIZE: usize = 56;
/// The largest response: the display info.
pub(crate) const MAX_RESPONSE_SIZE: usize = HEADER_SIZE + MAX_SCANOUTS * DISPLAY_ONE_SIZE;

/// What a request's response must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expected {
    NoData,
    DisplayInfo,
}

impl Expected {
    fn response_type(self) -> u32 {
        match self {
            Expected::NoData => OK_NODATA,
            Expected::DisplayInfo => OK_DISPLAY_INFO,
        }
    }

    /// The response's full size: the device-writable buffer offered for it.
    pub(crate) fn response_size(self) -> usize {
        match self {
            Expected::NoData => HEADER_SIZE,
            Expected::DisplayInfo => MAX_RESPONSE_SIZE,
        }
    }
}

/// A control request, encoded.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    bytes: [u8; MAX_REQUEST_SIZE],
    len: usize,
    pub(crate) command: u32,
    pub(crate) expects: Expected,
}

impl Request {
    /// A header of `command` (no flags, no fence, context 0), to be followed by the fields.
    fn new(command: u32, expects: Expected) -> Self {
        let request = Request { bytes: [0; MAX_REQUEST_SIZE], len: HEADER_SIZE, command, expects };
        request.put(0, command)
    }

    /// Writes `value` at `offset`, extending the request to cover it.
    fn put(mut self, offset: usize, value: u32) -> Self {
        self.bytes[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        self.len = self.len.max(offset + 4);
        self
    }

    fn put_u64(self, offset: usize, value: u64) -> Self {
        self.put(offset, value as u32).put(offset + 4, (value >> 32) as u32)
    }

    fn put_rect(self, offset: usize, rect: Rect) -> Self {
        self.put(offset, rect.x).put(offset + 4, rect.y).put(offset + 8, rect.width).put(offset + 12, rect.height)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

pub(crate) fn get_display_info() -> Request {
    Request::new(GET_DISPLAY_INFO, Expected::DisplayInfo)
}

pub(crate) fn resource_create_2d(resource: u32, width: u32, height: u32) -> Request {
    Request::new(RESOURCE_CREATE_2D, Expected::NoData)
        .put(24, resource)
        .put(28, FORMAT_B8G8R8X8_UNORM)
        .put(32, width)
        .put(36, height)
}

/// Backs `resource` with one contiguous guest buffer (a single `virtio_gpu_mem_entry`).
pub(crate) fn resource_attach_backing(resource: u32, address: u64, length: u32) -> Request {
    Request::new(RESOURCE_ATTACH_BACKING, Expected::NoData)
        .put(24, resource)
        .put(28, 1)
        .put_u64(32, address)
        .put(40, length)
        .put(44, 0)
}

pub(crate) fn set_scanout(scanout: u32, resource: u32, rect: Rect) -> Request {
    Request::new(SET_SCANOUT, Expected::NoData).put_rect(24, rect).put(40, scanout).put(44, resource)
}

/// Copies `rect` of the backing, which starts `offset` bytes into it, to the host resource.
pub(crate) fn transfer_to_host_2d(resource: u32, rect: Rect, offset: u64) -> Request {
    Request::new(TRANSFER_TO_HOST_2D, Expected::NoData)
        .put_rect(24, rect)
        .put_u64(40, offset)
        .put(48, resource)
        .put(52, 0)
}

pub(crate) fn resource_flush(resource: u32, rect: Rect) -> Request {
    Request::new(RESOURCE_FLUSH, Expected::NoData).put_rect(24, rect).put(40, resource).put(44, 0)
}

/// A scanout as GET_DISPLAY_INFO reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ScanoutInfo {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) enabled: bool,
}

/// A checked response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Response {
    NoData,
    DisplayInfo([ScanoutInfo; MAX_SCANOUTS]),
}

/// Checks what the device wrote in answer to `request` (`written`: as many bytes as the used
/// length says) and decodes it.
pub(crate) fn decode(request: &Request, written: &[u8]) -> Result<Response, GpuError> {
    let command = request.command;
    let short = || GpuError::ShortResponse { command, len: written.len(), expected: request.expects.response_size() };
    let kind = u32_at(written, 0).ok_or_else(short)?;
    if ERRORS.contains(&kind) {
        return Err(GpuError::Device { command, code: kind });
    }
    if kind != request.expects.response_type() {
        return Err(GpuError::UnexpectedResponse { command, response: kind });
    }
    if written.len() < request.expects.response_size() {
        return Err(short());
    }
    Ok(match request.expects {
        Expected::NoData => Response::NoData,
        Expected::DisplayInfo => Response::DisplayInfo(core::array::from_fn(|index| {
            let at = HEADER_SIZE + index * DISPLAY_ONE_SIZE;
            // Fields are present: the length was checked against the full structure above.
            let field = |offset| u32_at(written, at + offset).unwrap_or(0);
            ScanoutInfo { width: field(8), height: field(12), enabled: field(16) != 0 }
        })),
    })
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

/// The spec's name for a command type, for error messages.
pub(crate) fn command_name(command: u32) -> &'static str {
    match command {
        GET_DISPLAY_INFO => "GET_DISPLAY_INFO",
        RESOURCE_CREATE_2D => "RESOURCE_CREATE_2D",
        SET_SCANOUT => "SET_SCANOUT",
        RESOURCE_FLUSH => "RESOURCE_FLUSH",
        TRANSFER_TO_HOST_2D => "TRANSFER_TO_HOST_2D",
        RESOURCE_ATTACH_BACKING => "RESOURCE_ATTACH_BACKING",
        _ => "an unknown command",
    }
}

/// The spec's name for an error response type, for error messages.
pub(crate) fn error_name(code: u32) -> &'static str {
    match code {
        0x1200 => "ERR_UNSPEC",
        0x1201 => "ERR_OUT_OF_MEMORY",
        0x1202 => "ERR_INVALID_SCANOUT_ID",
        0x1203 => "ERR_INVALID_RESOURCE_ID",
        0x1204 => "ERR_INVALID_CONTEXT_ID",
        0x1205 => "ERR_INVALID_PARAMETER",
        _ => "an unknown error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_follow_the_specs_layout() {
        let transfer = transfer_to_host_2d(7, Rect::new(1, 2, 3, 4), 0x1_0000_0010);
        let words: alloc::vec::Vec<u32> =
            transfer.bytes().chunks(4).map(|w| u32::from_le_bytes(w.try_into().unwrap())).collect();
        assert_eq!(words, [0x0105, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0x10, 1, 7, 0]);
        assert_eq!(resource_attach_backing(1, 0x8000_1000, 4096).bytes().len(), 48);
        assert_eq!(set_scanout(0, 1, Rect::new(0, 0, 8, 8)).bytes().len(), 48);
        assert_eq!(resource_create_2d(1, 8, 8).bytes().len(), 40);
        assert_eq!(get_display_info().bytes().len(), 24);
    }

    #[test]
    fn responses_are_checked_before_they_are_decoded() {
        let flush = resource_flush(1, Rect::new(0, 0, 1, 1));
        let mut ok = [0u8; 24];
        ok[..4].copy_from_slice(&OK_NODATA.to_le_bytes());
        assert_eq!(decode(&flush, &ok), Ok(Response::NoData));
        assert_eq!(decode(&flush, &ok[..20]), Err(GpuError::ShortResponse { command: RESOURCE_FLUSH, len: 20, expected: 24 }));
        assert_eq!(decode(&flush, &ok[..2]), Err(GpuError::ShortResponse { command: RESOURCE_FLUSH, len: 2, expected: 24 }));
        let mut error = ok;
        error[..4].copy_from_slice(&0x1205u32.to_le_bytes());
        assert_eq!(decode(&flush, &error), Err(GpuError::Device { command: RESOURCE_FLUSH, code: 0x1205 }));
        // A display info answer to a flush is as wrong as garbage.
        let mut wrong = ok;
        wrong[..4].copy_from_slice(&OK_DISPLAY_INFO.to_le_bytes());
        assert_eq!(decode(&flush, &wrong), Err(GpuError::UnexpectedResponse { command: RESOURCE_FLUSH, response: OK_DISPLAY_INFO }));
        // The display info must be complete, not only its header.
        let mut info = [0u8; MAX_RESPONSE_SIZE];
        info[..4].copy_from_slice(&OK_DISPLAY_INFO.to_le_bytes());
        info[24 + 8..24 + 20].copy_from_slice(&[0x00, 5, 0, 0, 0xd0, 2, 0, 0, 1, 0, 0, 0]);
        let Ok(Response::DisplayInfo(scanouts)) = decode(&get_display_info(), &info) else { panic!("display info") };
        assert_eq!(scanouts[0], ScanoutInfo { width: 1280, height: 720, enabled: true });
        assert!(matches!(decode(&get_display_info(), &info[..100]), Err(GpuError::ShortResponse { len: 100, .. })));
    }
}
