//! `gpu info`, `gpu draw`, `gpu box X Y W H RRGGBB`: the virtio-gpu display from the shell.

mod picture;

use registry::Registry;
use virtio_gpu::{Gpu, Rect, Rgb};

use super::{shell_command, Command};

const USAGE: &str = "usage: gpu info | gpu draw | gpu box X Y WIDTH HEIGHT RRGGBB";

shell_command!(GPU = Command {
    name: "gpu",
    usage: "gpu info|draw|box .. the display: its size, the test picture, fill and flush a box",
    run: gpu,
});

fn gpu(registry: &mut Registry, args: &[&str]) {
    match args {
        ["info"] => info(registry),
        ["draw"] => draw(registry),
        ["box", x, y, width, height, color] => match parse_box(x, y, width, height, color) {
            Some((rect, color)) => fill_box(registry, rect, color),
            None => println!("{USAGE} (decimal numbers, a colour of 6 hex digits)"),
        },
        _ => println!("{USAGE}"),
    }
}

fn info(registry: &mut Registry) {
    let mut found = false;
    for (path, gpu) in registry.driver_data::<Gpu>() {
        let mode = gpu.mode();
        println!("{path}: {}x{} on scanout {}, B8G8R8X8", mode.width, mode.height, mode.scanout);
        found = true;
    }
    if !found {
        println!("gpu: no virtio-gpu is bound");
    }
}

/// The test picture with the `lsdev` tree on the first GPU, flushed in full.
fn draw(registry: &mut Registry) {
    let tree = registry::lsdev::text(registry);
    let Some((path, gpu)) = registry.driver_data::<Gpu>().next() else {
        println!("gpu: no virtio-gpu is bound");
        return;
    };
    let mode = gpu.mode();
    picture::draw(&mut gpu.framebuffer(), &tree);
    match gpu.flush(Rect::new(0, 0, mode.width, mode.height)) {
        Ok(()) => println!("gpu: drew the test picture on {path} ({}x{})", mode.width, mode.height),
        Err(error) => println!("gpu: flush failed: {error}"),
    }
}

/// Fills `rect` (clipped to the display) and flushes only that rectangle.
fn fill_box(registry: &mut Registry, rect: Rect, color: Rgb) {
    let Some((_, gpu)) = registry.driver_data::<Gpu>().next() else {
        println!("gpu: no virtio-gpu is bound");
        return;
    };
    let mode = gpu.mode();
    let rect = rect.clipped_to(mode.width, mode.height);
    if rect.is_empty() {
        println!("gpu: the box is outside the {}x{} display", mode.width, mode.height);
        return;
    }
    gpu.framebuffer().fill_rect(rect, color);
    match gpu.flush(rect) {
        Ok(()) => println!("gpu: filled and flushed {}x{} at ({}, {})", rect.width, rect.height, rect.x, rect.y),
        Err(error) => println!("gpu: flush failed: {error}"),
    }
}

fn parse_box(x: &str, y: &str, width: &str, height: &str, color: &str) -> Option<(Rect, Rgb)> {
    let rect = Rect::new(x.parse().ok()?, y.parse().ok()?, width.parse().ok()?, height.parse().ok()?);
    let color = (color.len() == 6).then(|| u32::from_str_radix(color, 16).ok()).flatten()?;
    Some((rect, Rgb::from_hex(color)))
}
