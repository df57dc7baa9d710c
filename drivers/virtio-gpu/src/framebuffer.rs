//! The framebuffer the kernel draws into: guest memory backing the GPU's resource, shown once
//! a damaged rectangle of it is flushed.


use registry::DmaBuffer;
use virtio::dma::DmaAccess;

use crate::protocol::BYTES_PER_PIXEL;

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
        Rect {
            x,
            y,
            width: self.width.min(width - x),
            height: self.height.min(height - y),
        }
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

    /// The pixel in B8G8R8X8 memory order: blue, green, red, unused.
    fn bytes(self) -> [u8; 4] {
        [self.b, self.g, self.r, 0]
    }
}

/// The pixels of the display, `width * 4` bytes a row, in B8G8R8X8 format. Drawing changes
/// guest memory only: the screen shows it after [`Gpu::flush`](crate::Gpu::flush) of the area.
/// Drawing outside the framebuffer is clipped, as on a screen.
pub struct Framebuffer<'a> {
    memory: &'a DmaBuffer,
    width: u32,
    height: u32,
}

impl<'a> Framebuffer<'a> {
    /// `memory` holds at least `width * height` pixels (checked by the caller).
    pub(crate) fn new(memory: &'a DmaBuffer, width: u32, height: u32) -> Self {
        Framebuffer { memory, width, height }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    fn offset(&self, x: u32, y: u32) -> usize {
        (y as usize * self.width as usize + x as usize) * BYTES_PER_PIXEL as usize
    }

    pub fn set_pixel(&mut self, x: u32, y: u32, color: Rgb) {
        if x < self.width && y < self.height {
            self.memory.write_bytes(self.offset(x, y), &color.bytes());
        }
    }

    /// Fills the part of `rect` that is inside the framebuffer.
    pub fn fill_rect(&mut self, rect: Rect, color: Rgb) {
        let rect = rect.clipped_to(self.width, self.height);
        if rect.is_empty() {
            return;
        }
        // A run of pixels on the stack, copied along each row: no allocation, so filling works
        // however full the heap is.
        const RUN: u32 = 64;
        let mut run = [0u8; RUN as usize * BYTES_PER_PIXEL as usize];
        for pixel in run.chunks_exact_mut(BYTES_PER_PIXEL as usize) {
            pixel.copy_from_slice(&color.bytes());
        }
        for y in rect.y..rect.y + rect.height {
            let mut x = rect.x;
            while x < rect.x + rect.width {
                let pixels = RUN.min(rect.x + rect.width - x);
                self.memory.write_bytes(self.offset(x, y), &run[..(pixels * BYTES_PER_PIXEL) as usize]);
                x += pixels;
            }
        }
    }
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
