//! The display class: a framebuffer in memory the CPU draws into, made visible one damaged
//! rectangle at a time ([`Display::flush`]). An `embedded-graphics` `DrawTarget` sits on
//! [`Framebuffer`] (pixels, filled rectangles) plus a flush of the area it drew.

use alloc::string::String;
use core::fmt;

use crate::platform::DmaBuffer;

/// How a pixel lies in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// Four bytes: blue, green, red, unused (virtio-gpu's B8G8R8X8_UNORM, most UEFI GOPs).
    B8G8R8X8,
}

impl PixelFormat {
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::B8G8R8X8 => 4,
        }
    }

    fn encode(self, color: Rgb) -> [u8; 4] {
        match self {
            PixelFormat::B8G8R8X8 => [color.b, color.g, color.r, 0],
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PixelFormat::B8G8R8X8 => "B8G8R8X8",
        })
    }
}

/// The display's size and format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisplayMode {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
}

/// A rectangle in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Rect { x, y, width, height }
    }

    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Whether the rectangle lies within a `width` x `height` area.
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.x.checked_add(self.width).is_some_and(|right| right <= width)
            && self.y.checked_add(self.height).is_some_and(|bottom| bottom <= height)
    }

    /// The part of the rectangle inside a `width` x `height` area (possibly empty).
    pub fn clipped_to(&self, width: u32, height: u32) -> Rect {
        let x = self.x.min(width);
        let y = self.y.min(height);
        Rect { x, y, width: self.width.min(width - x), height: self.height.min(height - y) }
    }
}

/// A colour, 8 bits per channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rgb {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Rgb {
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Rgb { r, g, b }
    }

    /// From `0xRRGGBB` (higher bits ignored).
    pub const fn from_hex(rgb: u32) -> Self {
        Rgb { r: (rgb >> 16) as u8, g: (rgb >> 8) as u8, b: rgb as u8 }
    }
}

/// A display error, as its driver describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayError(pub String);

impl fmt::Display for DisplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The pixels of a display, rows of `width` pixels without padding. Drawing changes memory
/// only: the screen shows it after [`Display::flush`] of the area. Drawing outside is clipped.
pub struct Framebuffer<'a> {
    memory: &'a DmaBuffer,
    mode: DisplayMode,
}

impl<'a> Framebuffer<'a> {
    /// The framebuffer of `mode` in `memory`; `None` if `memory` is too small for it.
    pub fn new(memory: &'a DmaBuffer, mode: DisplayMode) -> Option<Self> {
        let bytes = (mode.width as usize)
            .checked_mul(mode.height as usize)?
            .checked_mul(mode.format.bytes_per_pixel())?;
        (bytes <= memory.len()).then_some(Framebuffer { memory, mode })
    }

    pub fn width(&self) -> u32 {
        self.mode.width
    }

    pub fn height(&self) -> u32 {
        self.mode.height
    }

    pub fn mode(&self) -> DisplayMode {
        self.mode
    }

    fn offset(&self, x: u32, y: u32) -> usize {
        (y as usize * self.mode.width as usize + x as usize) * self.mode.format.bytes_per_pixel()
    }

    /// Copies `bytes` to byte `offset`; the callers keep it inside the pixels checked in `new`.
    fn store(&mut self, offset: usize, bytes: &[u8]) {
        let fits = offset.checked_add(bytes.len()).is_some_and(|end| end <= self.memory.len());
        if !fits {
            return;
        }
        // SAFETY: the range lies inside the buffer (checked above), which outlives `self`; the
        // device reads the framebuffer only during a flush, which its driver runs with the
        // framebuffer's lock held, so nothing else touches these bytes now.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.memory.as_ptr().as_ptr().add(offset), bytes.len());
        }
    }

    pub fn set_pixel(&mut self, x: u32, y: u32, color: Rgb) {
        if x < self.mode.width && y < self.mode.height {
            let pixel = self.mode.format.encode(color);
            self.store(self.offset(x, y), &pixel[..self.mode.format.bytes_per_pixel()]);
        }
    }

    /// Fills the part of `rect` that is inside the framebuffer.
    pub fn fill_rect(&mut self, rect: Rect, color: Rgb) {
        let rect = rect.clipped_to(self.mode.width, self.mode.height);
        if rect.is_empty() {
            return;
        }
        // A run of pixels on the stack, copied along each row: no allocation, so filling works
        // however full the heap is (a 4K framebuffer's row would be 15 KiB).
        const RUN: usize = 64;
        let pixel_bytes = self.mode.format.bytes_per_pixel();
        let pixel = self.mode.format.encode(color);
        let mut run = [0u8; RUN * 4];
        for slot in run.chunks_exact_mut(pixel_bytes) {
            slot.copy_from_slice(&pixel[..pixel_bytes]);
        }
        for y in rect.y..rect.y + rect.height {
            let mut x = rect.x;
            while x < rect.x + rect.width {
                let pixels = (RUN as u32).min(rect.x + rect.width - x);
                self.store(self.offset(x, y), &run[..pixels as usize * pixel_bytes]);
                x += pixels;
            }
        }
    }
}

/// A display, whatever drives it.
pub trait Display: Send + Sync {
    fn mode(&self) -> DisplayMode;

    /// Lets `draw` draw into the framebuffer (the driver's lock held meanwhile).
    fn draw(&self, draw: &mut dyn FnMut(&mut Framebuffer<'_>));

    /// Makes `rect` of the framebuffer visible and waits until the device has done it.
    fn flush(&self, rect: Rect) -> Result<(), DisplayError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rectangles_fit_and_clip_without_overflow() {
        assert!(Rect::new(0, 0, 8, 4).fits(8, 4));
        assert!(!Rect::new(1, 0, 8, 4).fits(8, 4));
        assert!(!Rect::new(u32::MAX, 0, 2, 1).fits(8, 4), "x + width overflows");
        assert_eq!(Rect::new(6, 3, 10, 10).clipped_to(8, 4), Rect::new(6, 3, 2, 1));
        assert!(Rect::new(20, 0, 5, 5).clipped_to(8, 4).is_empty());
        assert!(Rect::new(u32::MAX, u32::MAX, u32::MAX, u32::MAX).clipped_to(8, 4).is_empty());
        assert_eq!(Rgb::from_hex(0x12_3456), Rgb::new(0x12, 0x34, 0x56));
    }
}
