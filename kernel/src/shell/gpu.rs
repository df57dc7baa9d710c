//! `gpu info`, `gpu draw`, `gpu box X Y W H RRGGBB`: the display class (`fb0`) from the shell.

mod picture;

use registry::class::display::{Rect, Rgb};
use registry::class::Display;
use registry::{Instance, Registry};

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
    let displays = registry.instances::<dyn Display>();
    for display in &displays {
        let mode = display.device.mode();
        println!("{}: {}x{} {}, {}", display.name, mode.width, mode.height, mode.format, display.path);
    }
    if displays.is_empty() {
        println!("gpu: no display is bound");
    }
}

/// The first display of the class (`fb0`).
fn first_display(registry: &Registry) -> Option<Instance<dyn Display>> {
    let display = registry.instances::<dyn Display>().into_iter().next();
    if display.is_none() {
        println!("gpu: no display is bound");
    }
    display
}

/// The test picture with the `lsdev` tree on the first display, flushed in full.
fn draw(registry: &mut Registry) {
    let tree = registry::lsdev::text(registry);
    let Some(display) = first_display(registry) else { return };
    let mode = display.device.mode();
    display.device.draw(&mut |framebuffer| picture::draw(framebuffer, &tree));
    match display.device.flush(Rect::new(0, 0, mode.width, mode.height)) {
        Ok(()) => println!("gpu: drew the test picture on {} ({}x{})", display.path, mode.width, mode.height),
        Err(error) => println!("gpu: flush failed: {error}"),
    }
}

/// Fills `rect` (clipped to the display) and flushes only that rectangle.
fn fill_box(registry: &mut Registry, rect: Rect, color: Rgb) {
    let Some(display) = first_display(registry) else { return };
    let mode = display.device.mode();
    let rect = rect.clipped_to(mode.width, mode.height);
    if rect.is_empty() {
        println!("gpu: the box is outside the {}x{} display", mode.width, mode.height);
        return;
    }
    display.device.draw(&mut |framebuffer| framebuffer.fill_rect(rect, color));
    match display.device.flush(rect) {
        Ok(()) => println!("gpu: filled and flushed {}x{} at ({}, {})", rect.width, rect.height, rect.x, rect.y),
        Err(error) => println!("gpu: flush failed: {error}"),
    }
}

fn parse_box(x: &str, y: &str, width: &str, height: &str, color: &str) -> Option<(Rect, Rgb)> {
    let rect = Rect::new(x.parse().ok()?, y.parse().ok()?, width.parse().ok()?, height.parse().ok()?);
    let color = (color.len() == 6).then(|| u32::from_str_radix(color, 16).ok()).flatten()?;
    Some((rect, Rgb::from_hex(color)))
}
