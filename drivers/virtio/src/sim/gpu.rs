//! A virtio GPU (virtio 1.2, section 5.7) with the 2D command set: host-side resources filled
//! from their guest backing by TRANSFER_TO_HOST_2D, scanouts, and a screen that shows the
//! scanout set up last as of each RESOURCE_FLUSH, so tests see exactly which rectangles reached
//! the display.
//!
//! The model checks commands as QEMU does (unknown resources, rectangles outside a resource,
//! transfers beyond the backing get an error response), and a test can make it answer one
//! command type badly ([`BadReply`]) to exercise the driver's response checks.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use spin::Mutex;

use super::platform::SimPlatform;
use super::DeviceModel;

pub const CMD_GET_DISPLAY_INFO: u32 = 0x0100;
pub const CMD_RESOURCE_CREATE_2D: u32 = 0x0101;
pub const CMD_SET_SCANOUT: u32 = 0x0103;
pub const CMD_RESOURCE_FLUSH: u32 = 0x0104;
pub const CMD_TRANSFER_TO_HOST_2D: u32 = 0x0105;
pub const CMD_RESOURCE_ATTACH_BACKING: u32 = 0x0106;
pub const RESP_OK_NODATA: u32 = 0x1100;
pub const RESP_OK_DISPLAY_INFO: u32 = 0x1101;
pub const RESP_ERR_UNSPEC: u32 = 0x1200;
pub const RESP_ERR_OUT_OF_MEMORY: u32 = 0x1201;
pub const RESP_ERR_INVALID_SCANOUT_ID: u32 = 0x1202;
pub const RESP_ERR_INVALID_RESOURCE_ID: u32 = 0x1203;
pub const RESP_ERR_INVALID_PARAMETER: u32 = 0x1205;

/// The control header: type, flags, fence_id, ctx_id, ring_idx and padding.
const HEADER: usize = 24;
const MAX_SCANOUTS: usize = 16;
/// One `virtio_gpu_display_one`: a rectangle, enabled, flags.
const DISPLAY_ONE: usize = 24;
const QUEUE_SIZE: u16 = 64;
/// Formats of four bytes per pixel (B8G8R8A8 ... R8G8B8X8): all the 2D command set defines.
const FORMATS: [u32; 8] = [1, 2, 3, 4, 67, 68, 121, 134];
/// The largest resource the model allocates, in pixels: bigger ones get ERR_OUT_OF_MEMORY.
const MAX_RESOURCE_PIXELS: u64 = 16 << 20;

/// How the model answers a command it was told to botch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadReply {
    /// A response header of this type (an error code, a wrong success type, or garbage).
    Type(u32),
    /// The correct response, cut to this many bytes.
    Truncated(u32),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    fn read(request: &[u8], at: usize) -> Option<Rect> {
        Some(Rect {
            x: u32_at(request, at)?,
            y: u32_at(request, at + 4)?,
            width: u32_at(request, at + 8)?,
            height: u32_at(request, at + 12)?,
        })
    }

    /// Whether the rectangle lies within `width` x `height`.
    fn inside(&self, width: u32, height: u32) -> bool {
        self.x.checked_add(self.width).is_some_and(|right| right <= width)
            && self.y.checked_add(self.height).is_some_and(|bottom| bottom <= height)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Mode {
    width: u32,
    height: u32,
    enabled: bool,
}

struct Resource {
    width: u32,
    pixels: Vec<u32>,
    /// (bus address, length) of each backing entry, in order.
    backing: Vec<(u64, u32)>,
}

impl Resource {
    fn height(&self) -> u32 {
        (self.pixels.len() / self.width as usize) as u32
    }
}

/// What the scanout set up last shows: a resource from the scanout rectangle's origin, as last
/// flushed.
struct Screen {
    scanout: u32,
    resource: u32,
    rect: Rect,
    pixels: Vec<u32>,
}

struct GpuState {
    modes: Vec<Mode>,
    resources: BTreeMap<u32, Resource>,
    screen: Option<Screen>,
    commands: Vec<u32>,
    flushes: Vec<Rect>,
    bad_replies: Vec<(u32, BadReply)>,
}

/// The device model; give it to [`SimDevice::new`](super::SimDevice::new) and keep a
/// [`GpuView`] of it.
pub struct GpuModel {
    platform: &'static SimPlatform,
    state: Arc<Mutex<GpuState>>,
}

/// A test's view of a [`GpuModel`]: the screen and the commands, and how to make it misbehave.
#[derive(Clone)]
pub struct GpuView {
    state: Arc<Mutex<GpuState>>,
}

impl GpuModel {
    /// A GPU with one enabled scanout of `width` x `height` (any values, nonsense included).
    pub fn new(platform: &'static SimPlatform, width: u32, height: u32) -> Self {
        Self::with_scanouts(platform, &[(width, height, true)])
    }

    /// A GPU with a scanout per `(width, height, enabled)`, at most 16.
    pub fn with_scanouts(platform: &'static SimPlatform, scanouts: &[(u32, u32, bool)]) -> Self {
        assert!(scanouts.len() <= MAX_SCANOUTS, "sim: at most {MAX_SCANOUTS} scanouts");
        let state = GpuState {
            modes: scanouts.iter().map(|&(width, height, enabled)| Mode { width, height, enabled }).collect(),
            resources: BTreeMap::new(),
            screen: None,
            commands: Vec::new(),
            flushes: Vec::new(),
            bad_replies: Vec::new(),
        };
        GpuModel { platform, state: Arc::new(Mutex::new(state)) }
    }

    pub fn view(&self) -> GpuView {
        GpuView { state: Arc::clone(&self.state) }
    }
}

impl GpuView {
    /// Answers the next command of type `command` with `reply` instead of the right response.
    pub fn answer_badly(&self, command: u32, reply: BadReply) {
        self.state.lock().bad_replies.push((command, reply));
    }

    /// Every command type received, in order.
    pub fn commands(&self) -> Vec<u32> {
        self.state.lock().commands.clone()
    }

    /// The rectangle of every successful RESOURCE_FLUSH, in order.
    pub fn flushes(&self) -> Vec<Rect> {
        self.state.lock().flushes.clone()
    }

    /// The scanout set up last and the size of its picture.
    pub fn screen(&self) -> Option<(u32, u32, u32)> {
        self.state.lock().screen.as_ref().map(|s| (s.scanout, s.rect.width, s.rect.height))
    }

    /// The pixel at (x, y) of the screen as last flushed, in the resource's memory order.
    pub fn pixel(&self, x: u32, y: u32) -> Option<u32> {
        let state = self.state.lock();
        let screen = state.screen.as_ref()?;
        (x < screen.rect.width && y < screen.rect.height)
            .then(|| screen.pixels[y as usize * screen.rect.width as usize + x as usize])
    }
}

impl DeviceModel for GpuModel {
    fn device_id(&self) -> u32 {
        crate::ids::GPU
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_sizes(&self) -> Vec<u16> {
        // The control queue and the cursor queue.
        vec![QUEUE_SIZE, QUEUE_SIZE]
    }

    fn config_space(&self) -> Vec<u8> {
        // events_read, events_clear, num_scanouts, num_capsets.
        let mut config = vec![0; 16];
        config[8..12].copy_from_slice(&(self.state.lock().modes.len() as u32).to_le_bytes());
        config
    }

    fn serve(&mut self, queue: u16, request: &[u8], reply: &mut [u8]) -> u32 {
        if queue != 0 {
            return 0; // cursor commands have no response
        }
        let mut state = self.state.lock();
        let command = u32_at(request, 0).unwrap_or(0);
        state.commands.push(command);
        let mut response = match state.execute(self.platform, command, request) {
            Ok(response) => response,
            Err(error) => header(error),
        };
        if let Some(position) = state.bad_replies.iter().position(|&(c, _)| c == command) {
            match state.bad_replies.remove(position).1 {
                BadReply::Type(kind) => response = header(kind),
                BadReply::Truncated(len) => response.truncate(len as usize),
            }
        }
        let len = response.len().min(reply.len());
        reply[..len].copy_from_slice(&response[..len]);
        len as u32
    }
}

impl GpuState {
    /// Runs one control command; returns the whole response, or the error type to answer with.
    fn execute(&mut self, platform: &SimPlatform, command: u32, request: &[u8]) -> Result<Vec<u8>, u32> {
        let field = |at| u32_at(request, at).ok_or(RESP_ERR_UNSPEC);
        let rect = || Rect::read(request, HEADER).ok_or(RESP_ERR_UNSPEC);
        match command {
            CMD_GET_DISPLAY_INFO => return Ok(self.display_info()),
            CMD_RESOURCE_CREATE_2D => self.create_2d(field(24)?, field(28)?, field(32)?, field(36)?)?,
            CMD_RESOURCE_ATTACH_BACKING => self.attach_backing(field(24)?, field(28)?, request)?,
            CMD_SET_SCANOUT => self.set_scanout(field(40)?, field(44)?, rect()?)?,
            CMD_TRANSFER_TO_HOST_2D => {
                let offset = u64::from(field(40)?) | u64::from(field(44)?) << 32;
                self.transfer(platform, field(48)?, rect()?, offset)?;
            }
            CMD_RESOURCE_FLUSH => self.flush(field(40)?, rect()?)?,
            _ => return Err(RESP_ERR_UNSPEC),
        }
        Ok(header(RESP_OK_NODATA))
    }

    fn display_info(&self) -> Vec<u8> {
        let mut response = header(RESP_OK_DISPLAY_INFO);
        response.resize(HEADER + MAX_SCANOUTS * DISPLAY_ONE, 0);
        for (index, mode) in self.modes.iter().enumerate() {
            let at = HEADER + index * DISPLAY_ONE;
            // x and y stay 0: the scanouts are not placed relative to each other.
            response[at + 8..at + 12].copy_from_slice(&mode.width.to_le_bytes());
            response[at + 12..at + 16].copy_from_slice(&mode.height.to_le_bytes());
            response[at + 16..at + 20].copy_from_slice(&u32::from(mode.enabled).to_le_bytes());
        }
        response
    }

    fn create_2d(&mut self, id: u32, format: u32, width: u32, height: u32) -> Result<(), u32> {
        if id == 0 || self.resources.contains_key(&id) {
            return Err(RESP_ERR_INVALID_RESOURCE_ID);
        }
        if !FORMATS.contains(&format) || width == 0 || height == 0 {
            return Err(RESP_ERR_INVALID_PARAMETER);
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > MAX_RESOURCE_PIXELS {
            return Err(RESP_ERR_OUT_OF_MEMORY);
        }
        self.resources.insert(id, Resource { width, pixels: vec![0; pixels as usize], backing: Vec::new() });
        Ok(())
    }

    fn attach_backing(&mut self, id: u32, entries: u32, request: &[u8]) -> Result<(), u32> {
        let resource = self.resources.get_mut(&id).ok_or(RESP_ERR_INVALID_RESOURCE_ID)?;
        let mut backing = Vec::new();
        for index in 0..entries as usize {
            // struct virtio_gpu_mem_entry { le64 addr; le32 length; le32 padding; }
            let at = 32 + 16 * index;
            let low = u32_at(request, at).ok_or(RESP_ERR_UNSPEC)?;
            let high = u32_at(request, at + 4).ok_or(RESP_ERR_UNSPEC)?;
            let length = u32_at(request, at + 8).ok_or(RESP_ERR_UNSPEC)?;
            backing.push((u64::from(low) | u64::from(high) << 32, length));
        }
        resource.backing = backing;
        Ok(())
    }

    fn set_scanout(&mut self, scanout: u32, id: u32, rect: Rect) -> Result<(), u32> {
        if scanout as usize >= self.modes.len() {
            return Err(RESP_ERR_INVALID_SCANOUT_ID);
        }
        let resource = self.resources.get(&id).ok_or(RESP_ERR_INVALID_RESOURCE_ID)?;
        if !rect.inside(resource.width, resource.height()) || rect.width == 0 || rect.height == 0 {
            return Err(RESP_ERR_INVALID_PARAMETER);
        }
        let pixels = vec![0; rect.width as usize * rect.height as usize];
        self.screen = Some(Screen { scanout, resource: id, rect, pixels });
        Ok(())
    }

    /// Copies `rect` from the backing into the resource, row by row from `offset` with the
    /// resource's stride, as QEMU does.
    fn transfer(&mut self, platform: &SimPlatform, id: u32, rect: Rect, offset: u64) -> Result<(), u32> {
        let resource = self.resources.get_mut(&id).ok_or(RESP_ERR_INVALID_RESOURCE_ID)?;
        if !rect.inside(resource.width, resource.height()) || resource.backing.is_empty() {
            return Err(RESP_ERR_INVALID_PARAMETER);
        }
        let stride = u64::from(resource.width) * 4;
        let mut row = vec![0u8; rect.width as usize * 4];
        for line in 0..rect.height {
            read_backing(platform, &resource.backing, offset + stride * u64::from(line), &mut row)?;
            let start = (rect.y + line) as usize * resource.width as usize + rect.x as usize;
            for (pixel, bytes) in resource.pixels[start..].iter_mut().zip(row.chunks_exact(4)) {
                *pixel = u32::from_le_bytes(bytes.try_into().expect("4 bytes"));
            }
        }
        Ok(())
    }

    fn flush(&mut self, id: u32, rect: Rect) -> Result<(), u32> {
        let resource = self.resources.get(&id).ok_or(RESP_ERR_INVALID_RESOURCE_ID)?;
        if !rect.inside(resource.width, resource.height()) {
            return Err(RESP_ERR_INVALID_PARAMETER);
        }
        self.flushes.push(rect);
        let Some(screen) = self.screen.as_mut().filter(|s| s.resource == id) else { return Ok(()) };
        let shown = screen.rect;
        for y in rect.y..rect.y + rect.height {
            for x in rect.x..rect.x + rect.width {
                let on_screen = x >= shown.x && x - shown.x < shown.width && y >= shown.y && y - shown.y < shown.height;
                if on_screen {
                    let pixel = resource.pixels[y as usize * resource.width as usize + x as usize];
                    screen.pixels[(y - shown.y) as usize * shown.width as usize + (x - shown.x) as usize] = pixel;
                }
            }
        }
        Ok(())
    }
}

/// Reads `out.len()` bytes from `offset` into the backing, across its entries.
fn read_backing(platform: &SimPlatform, backing: &[(u64, u32)], mut offset: u64, out: &mut [u8]) -> Result<(), u32> {
    let mut done = 0;
    for &(address, length) in backing {
        if done == out.len() {
            break;
        }
        let length = u64::from(length);
        if offset >= length {
            offset -= length;
            continue;
        }
        let take = ((length - offset) as usize).min(out.len() - done);
        platform.read(address + offset, &mut out[done..done + take]);
        done += take;
        offset = 0;
    }
    if done == out.len() { Ok(()) } else { Err(RESP_ERR_INVALID_PARAMETER) }
}

/// A response that is just a control header of `kind`.
fn header(kind: u32) -> Vec<u8> {
    let mut bytes = vec![0; HEADER];
    bytes[..4].copy_from_slice(&kind.to_le_bytes());
    bytes
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at.checked_add(4)?)?.try_into().ok()?))
}
