//! The test picture: colour bars and a grey ramp a person recognises (and the boot test checks
//! pixel by pixel), above the `lsdev` tree in a mono font, drawn with embedded-graphics.
//!
//! Layout, for a W x H display: eight bars (white, yellow, cyan, green, magenta, red, blue,
//! black) of W/8 each over the top H/5; a ramp from black to white across the width from H/5
//! to H/4 (grey level x * 256 / W); below, the text on a dark blue background, in two columns.

use core::convert::Infallible;

use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::mono_font::MonoTextStyle;
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::{Dimensions, DrawTarget, OriginDimensions, Point, Size};
use embedded_graphics::primitives::Rectangle;
use embedded_graphics::text::{Baseline, Text};
use embedded_graphics::{Drawable, Pixel};
use registry::class::display::{Framebuffer, Rect, Rgb};

const BARS: [u32; 8] = [0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000];
const BACKGROUND: u32 = 0x102040;
const TITLE: Rgb888 = Rgb888::new(0xff, 0xd0, 0x40);
const TEXT: Rgb888 = Rgb888::new(0xd0, 0xd8, 0xe0);
const MARGIN: u32 = 8;
const LINE_HEIGHT: u32 = 10;

pub fn draw(framebuffer: &mut Framebuffer<'_>, lsdev: &str) {
    let (width, height) = (framebuffer.width(), framebuffer.height());
    let bars_end = height / 5;
    for (index, &color) in (0u32..).zip(BARS.iter()) {
        let x = index * width / 8;
        let next = (index + 1) * width / 8;
        framebuffer.fill_rect(Rect::new(x, 0, next - x, bars_end), Rgb::from_hex(color));
    }
    let ramp_end = height / 4;
    for x in 0..width {
        let level = (u64::from(x) * 256 / u64::from(width)) as u8;
        framebuffer.fill_rect(Rect::new(x, bars_end, 1, ramp_end - bars_end), Rgb::new(level, level, level));
    }
    framebuffer.fill_rect(Rect::new(0, ramp_end, width, height - ramp_end), Rgb::from_hex(BACKGROUND));

    let mut canvas = Canvas(framebuffer);
    let title = alloc::format!("test-kernel: virtio-gpu {width}x{height}, the devices it found (lsdev)");
    let top = ramp_end + MARGIN;
    write(&mut canvas, &title, MARGIN, top, TITLE);
    let first_line = top + 2 * LINE_HEIGHT;
    let lines_per_column = (height.saturating_sub(first_line + MARGIN) / LINE_HEIGHT).max(1) as usize;
    for (index, line) in lsdev.lines().take(2 * lines_per_column).enumerate() {
        let column = (index / lines_per_column) as u32;
        let row = (index % lines_per_column) as u32;
        write(&mut canvas, line, MARGIN + column * width / 2, first_line + row * LINE_HEIGHT, TEXT);
    }
}

fn write(canvas: &mut Canvas<'_, '_>, text: &str, x: u32, y: u32, color: Rgb888) {
    let style = MonoTextStyle::new(&FONT_6X10, color);
    let origin = Point::new(x as i32, y as i32);
    // Drawing into the framebuffer cannot fail.
    let Ok(_) = Text::with_baseline(text, origin, style, Baseline::Top).draw(canvas);
}

/// The framebuffer as an embedded-graphics target.
struct Canvas<'a, 'b>(&'a mut Framebuffer<'b>);

impl OriginDimensions for Canvas<'_, '_> {
    fn size(&self) -> Size {
        Size::new(self.0.width(), self.0.height())
    }
}

impl DrawTarget for Canvas<'_, '_> {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), Infallible> {
        for Pixel(point, color) in pixels {
            // Negative coordinates are off screen; the framebuffer clips the rest.
            if let (Ok(x), Ok(y)) = (u32::try_from(point.x), u32::try_from(point.y)) {
                self.0.set_pixel(x, y, Rgb::new(color.r(), color.g(), color.b()));
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Rgb888) -> Result<(), Infallible> {
        // Clipped to the screen, the rectangle starts at coordinates of at least 0.
        let area = area.intersection(&self.bounding_box());
        let [x, y] = [area.top_left.x, area.top_left.y].map(|c| u32::try_from(c).unwrap_or(0));
        let rect = Rect::new(x, y, area.size.width, area.size.height);
        self.0.fill_rect(rect, Rgb::new(color.r(), color.g(), color.b()));
        Ok(())
    }
}
