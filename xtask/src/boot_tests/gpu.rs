//! Boot tests of the virtio-gpu driver, from what QEMU's display shows: the kernel draws its
//! test picture, a QMP screendump is checked pixel by pixel, then the kernel fills and flushes
//! a box and a second screendump must differ from the first exactly there. The GPU answers by
//! interrupt: `lsdev` must count them.

use std::path::Path;

use boards::Board;

use super::interrupts::interrupt_counts;
use super::{boot_and_drive, has_device_tree, run_command, BootTest};
use crate::qemu::Options;
use crate::qmp::{self, Qmp};
use crate::{fail, scratch_dir, XtaskResult};

pub const TESTS: &[BootTest] = &[
    BootTest {
        name: "virtio-gpu over legacy virtio-mmio: the picture and a box, from screendumps",
        applies: has_device_tree,
        run: |b, i| picture_on_screen(b, i, "legacy", |_| {}),
    },
    BootTest {
        name: "virtio-gpu over modern virtio-mmio: the picture and a box, from screendumps",
        applies: has_device_tree,
        run: |b, i| picture_on_screen(b, i, "modern", |options| options.modern_mmio = true),
    },
    BootTest {
        name: "virtio-gpu-pci on the PCIe host: the picture and a box, from screendumps",
        applies: has_device_tree,
        run: |b, i| {
            picture_on_screen(b, i, "pci", |options| {
                options.gpu = false;
                options.extra.extend(["-device".into(), "virtio-gpu-pci".into()]);
            })
        },
    },
    BootTest {
        name: "virtio-gpu-pci on a PC (no VGA, so the screendump is the GPU's): the picture and a box",
        applies: |board| !has_device_tree(board),
        run: |b, i| picture_on_screen(b, i, "pc", |options| options.extra.extend(["-vga".into(), "none".into()])),
    },
];

/// What the kernel's picture has where (kernel/src/shell/gpu/picture.rs).
const BARS: [u32; 8] = [0xffffff, 0xffff00, 0x00ffff, 0x00ff00, 0xff00ff, 0xff0000, 0x0000ff, 0x000000];
const BACKGROUND: u32 = 0x102040;
const TEXT: u32 = 0xd0d8e0;
const TITLE: u32 = 0xffd040;
const BOX_COLOR: u32 = 0xff8000;

/// Boots with the default devices changed by `attach_gpu` (one GPU, which the kernel draws on)
/// and checks the screen.
pub(super) fn picture_on_screen(board: &Board, image: &Path, mode: &str, attach_gpu: fn(&mut Options)) -> XtaskResult {
    let mut options = Options::with_default_devices(board)?;
    attach_gpu(&mut options);
    let socket = qmp::serve(&mut options, mode);
    let screenshots = scratch_dir()?;
    let result = boot_and_drive(board, image, &options, &format!("gpu-{mode}"), |session| {
        let at_boot = interrupt_counts(session)?;
        let info = run_command(session, "gpu info")?;
        let (width, height) = display_size(&info)?;
        let mut qmp = Qmp::connect(&socket, qmp::CONNECT_TIMEOUT)?;

        expect_output(&run_command(session, "gpu draw")?, "gpu: drew the test picture")?;
        let before_path = screenshots.join(format!("screenshot-{}-{mode}.png", board.name));
        let before = Screenshot::take(&mut qmp, &before_path)?;
        if (before.width, before.height) != (width, height) {
            let shown = format!("{}x{}", before.width, before.height);
            return Err(fail(format!("screendump is {shown}, the kernel drives {width}x{height}")));
        }
        check_picture(&before, tree_text_pixels(board)).map_err(|e| fail(format!("{} ({})", e, before_path.display())))?;

        let (x, y, w, h) = (width * 5 / 8, height * 3 / 4, width / 8, height / 8);
        let command = format!("gpu box {x} {y} {w} {h} {BOX_COLOR:06x}");
        expect_output(&run_command(session, &command)?, "gpu: filled and flushed")?;
        let after_path = screenshots.join(format!("screenshot-{}-{mode}-box.png", board.name));
        let after = Screenshot::take(&mut qmp, &after_path)?;
        check_box(&before, &after, (x, y, w, h)).map_err(|e| fail(format!("{} ({})", e, after_path.display())))?;
        eprint!("{}", interrupt_counts(session)?.expect_more_than(&at_boot, &["virtio-gpu"])?);
        Ok(())
    });
    let _ = std::fs::remove_file(&socket);
    result
}

/// `WxH` from `gpu info`.
fn display_size(info: &str) -> XtaskResult<(u32, u32)> {
    let size = info.split_whitespace().find_map(|word| {
        let (w, h) = word.split_once('x')?;
        Some((w.parse().ok()?, h.parse().ok()?))
    });
    size.ok_or_else(|| fail(format!("gpu info shows no display size:\n{info}")))
}

fn expect_output(output: &str, wanted: &str) -> XtaskResult {
    if output.contains(wanted) {
        Ok(())
    } else {
        Err(fail(format!("expected {wanted:?}, the kernel said:\n{output}")))
    }
}

/// The least the lsdev tree in the picture has of text pixels: it is some 60 lines of up to 100
/// characters of 6x10 pixels on virt, some 20 on a PC.
fn tree_text_pixels(board: &Board) -> u32 {
    if has_device_tree(board) {
        20_000
    } else {
        8_000
    }
}

/// The bars and the ramp at their known places, the background, and at least `min_text` pixels
/// of text drawn on it.
fn check_picture(shot: &Screenshot, min_text: u32) -> XtaskResult {
    let (width, height) = (shot.width, shot.height);
    for (index, &color) in (0u32..).zip(BARS.iter()) {
        shot.expect_pixel((2 * index + 1) * width / 16, height / 10, color, "colour bar")?;
    }
    let ramp_y = (height / 5 + height / 4) / 2;
    for x in [0, width / 4, width / 2, width * 3 / 4, width - 1] {
        let level = x * 256 / width;
        shot.expect_pixel(x, ramp_y, level << 16 | level << 8 | level, "grey ramp")?;
    }
    shot.expect_pixel(width - 2, height - 2, BACKGROUND, "background")?;
    let text_area = (0..width).flat_map(|x| (height / 4..height).map(move |y| (x, y)));
    let (text, title) = text_area.fold((0, 0), |(text, title), (x, y)| match shot.pixel(x, y) {
        TEXT => (text + 1, title),
        TITLE => (text, title + 1),
        _ => (text, title),
    });
    if text < min_text || title < 500 {
        return Err(fail(format!("too little text on screen: {text} text pixels, {title} title pixels")));
    }
    Ok(())
}

/// Inside the box: its colour; everywhere else: exactly what was there before.
fn check_box(before: &Screenshot, after: &Screenshot, (x, y, w, h): (u32, u32, u32, u32)) -> XtaskResult {
    if (after.width, after.height) != (before.width, before.height) {
        return Err(fail("the display changed size"));
    }
    let inside = |px: u32, py: u32| (x..x + w).contains(&px) && (y..y + h).contains(&py);
    for py in 0..after.height {
        for px in 0..after.width {
            let expected = if inside(px, py) { BOX_COLOR } else { before.pixel(px, py) };
            after.expect_pixel(px, py, expected, if inside(px, py) { "box" } else { "outside the box" })?;
        }
    }
    Ok(())
}

/// A decoded screendump.
struct Screenshot {
    width: u32,
    height: u32,
    /// 0xRRGGBB per pixel, row by row.
    pixels: Vec<u32>,
}

impl Screenshot {
    fn take(qmp: &mut Qmp, path: &Path) -> XtaskResult<Self> {
        qmp.screendump(path)?;
        Self::decode(path).map_err(|e| fail(format!("{}: {e}", path.display())))
    }

    fn decode(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut decoder = png::Decoder::new(file);
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
        let mut buffer = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buffer).map_err(|e| e.to_string())?;
        let channels = match frame.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => return Err(format!("unexpected PNG colour type {other:?}")),
        };
        let pixels = buffer[..frame.buffer_size()]
            .chunks_exact(channels)
            .map(|p| u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]))
            .collect();
        Ok(Screenshot { width: frame.width, height: frame.height, pixels })
    }

    fn pixel(&self, x: u32, y: u32) -> u32 {
        self.pixels[(y * self.width + x) as usize]
    }

    fn expect_pixel(&self, x: u32, y: u32, expected: u32, what: &str) -> XtaskResult {
        let found = self.pixel(x, y);
        if found != expected {
            return Err(fail(format!("{what} at ({x}, {y}): expected {expected:06x}, screen shows {found:06x}")));
        }
        Ok(())
    }
}
