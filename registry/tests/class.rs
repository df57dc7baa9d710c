//! Device classes: drivers publish class objects, the registry names them per class in tree
//! order, consumers find them by class, instance name or path and keep the handles.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use registry::class::block::{BlockCompletion, BlockError, BlockErrorKind, BlockInfo, BlockOp, BlockToken, Refused};
use registry::class::{BlockDevice, SerialPort};
use registry::testing::HostPlatform;
use registry::{Bus, BusAddress, BusError, Class, DeviceIds, DeviceSpec, DmaBuffer, Driver, Match, ProbeContext, ProbeError};

/// A RAM disk of 512-byte blocks.
struct RamDisk(spin::Mutex<Vec<u8>>);

impl RamDisk {
    fn range(&self, start: u64, len: usize) -> Result<std::ops::Range<usize>, BlockError> {
        let at = usize::try_from(start).ok().and_then(|s| s.checked_mul(512));
        let range = at.and_then(|at| Some(at..at.checked_add(len)?));
        range
            .filter(|r| r.end <= self.0.lock().len() && len.is_multiple_of(512))
            .ok_or_else(|| BlockError::new(BlockErrorKind::OutOfRange, "beyond the disk"))
    }
}

impl BlockDevice for RamDisk {
    fn info(&self) -> BlockInfo {
        let capacity = (self.0.lock().len() / 512) as u64;
        BlockInfo { capacity, block_size: 512, read_only: false, flush: false, id: None, max_request_sectors: 8 }
    }
    fn failure(&self) -> Option<BlockError> {
        None
    }
    fn read(&self, start: u64, out: &mut [u8]) -> Result<(), BlockError> {
        let range = self.range(start, out.len())?;
        out.copy_from_slice(&self.0.lock()[range]);
        Ok(())
    }
    fn write(&self, start: u64, data: &[u8]) -> Result<(), BlockError> {
        let range = self.range(start, data.len())?;
        self.0.lock()[range].copy_from_slice(data);
        Ok(())
    }
    fn flush(&self) -> Result<(), BlockError> {
        Err(BlockError::new(BlockErrorKind::FlushNotSupported, "no write cache"))
    }
    fn buffer(&self, _sectors: u32) -> Result<DmaBuffer, BlockError> {
        Err(BlockError::new(BlockErrorKind::NoMemory, "a RAM disk has no queue"))
    }
    fn submit(&self, _op: BlockOp, _sector: u64, buffer: DmaBuffer) -> Result<BlockToken, Refused> {
        Err(Refused { error: BlockError::new(BlockErrorKind::Unsupported, "no queue"), buffer: Some(buffer) })
    }
    fn poll(&self) -> Option<BlockCompletion> {
        None
    }
    fn wait(&self) -> Option<BlockCompletion> {
        None
    }
}

/// A serial port that remembers what was written.
struct Loopback(spin::Mutex<Vec<u8>>);

impl SerialPort for Loopback {
    fn write(&self, bytes: &[u8]) {
        self.0.lock().extend_from_slice(bytes);
    }
    fn read(&self, out: &mut [u8]) -> usize {
        let mut data = self.0.lock();
        let n = out.len().min(data.len());
        out[..n].copy_from_slice(&data[..n]);
        data.drain(..n);
        n
    }
    fn arm_receive_interrupt(&self) -> bool {
        false
    }
}

fn dt(path: &str, compatible: &str) -> DeviceSpec {
    let name = path.rsplit('/').next().unwrap_or("/");
    DeviceSpec::new(if name.is_empty() { "/" } else { name }, BusAddress::Dt { path: path.into() }, DeviceIds::Compatible(vec![compatible.into()]))
}

/// `/soc/disk@2` comes first in the tree but defers until the clock binds, so it probes after
/// `/disk@1`; `/nodriver` has no driver, `/plain` a driver without a class.
struct Tree;

impl Bus for Tree {
    fn name(&self) -> &str {
        "test"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let mut soc = dt("/soc", "simple-bus");
        soc.children.push(dt("/soc/disk@2", "acme,slow-disk"));
        soc.children.push(dt("/soc/uart@0", "acme,uart"));
        Ok(vec![soc, dt("/disk@1", "acme,disk"), dt("/clock", "acme,clock"), dt("/plain", "acme,plain")])
    }
}

static CLOCK_READY: AtomicBool = AtomicBool::new(false);

fn ram_disk(ctx: &mut ProbeContext<'_>, sectors: usize) -> Result<(), ProbeError> {
    ctx.publish_block(Arc::new(RamDisk(spin::Mutex::new(vec![0; sectors * 512]))));
    Ok(())
}

fn disk_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    ram_disk(ctx, 16)
}

fn slow_disk_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    if !CLOCK_READY.load(Ordering::SeqCst) {
        return Err(ProbeError::Defer("the clock".into()));
    }
    ram_disk(ctx, 8)
}

fn clock_probe(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    CLOCK_READY.store(true, Ordering::SeqCst);
    Ok(())
}

fn uart_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    ctx.publish_serial(Arc::new(Loopback(spin::Mutex::new(Vec::new()))));
    Ok(())
}

fn plain_probe(_: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    Ok(())
}

fn leak(name: &'static str, compatible: &'static str, class: Option<Class>, probe: fn(&mut ProbeContext<'_>) -> Result<(), ProbeError>) -> &'static Driver {
    let matches = Box::leak(Box::new([Match::Compatible(compatible)]));
    Box::leak(Box::new(Driver { name, matches, priority: 0, class, probe, remove: None }))
}

fn registry() -> registry::Registry {
    let drivers = [
        leak("disk", "acme,disk", Some(Class::Block), disk_probe),
        leak("slow-disk", "acme,slow-disk", Some(Class::Block), slow_disk_probe),
        leak("clock", "acme,clock", None, clock_probe),
        leak("uart", "acme,uart", Some(Class::Serial), uart_probe),
        leak("plain", "acme,plain", None, plain_probe),
    ];
    registry::probe_with(HostPlatform::leaked(), &[&Tree], drivers)
}

#[test]
fn instances_are_named_per_class_in_tree_order_not_probe_order() {
    let registry = registry();
    let named: Vec<(&str, Option<Class>, Option<&str>)> =
        registry.walk().into_iter().map(|(_, n)| (n.path.as_str(), n.class, n.instance.as_deref())).collect();
    assert_eq!(
        named,
        [
            ("/soc", None, None),
            ("/soc/disk@2", Some(Class::Block), Some("blk0")),
            ("/soc/uart@0", Some(Class::Serial), Some("ttyS0")),
            ("/disk@1", Some(Class::Block), Some("blk1")),
            ("/clock", None, None),
            ("/plain", None, None),
        ]
    );
}

#[test]
fn lookups_by_class_name_and_path() {
    let registry = registry();
    let disks = registry.instances::<dyn BlockDevice>();
    let names: Vec<(&str, &str, u64)> = disks.iter().map(|d| (d.name.as_str(), d.path.as_str(), d.device.info().capacity)).collect();
    assert_eq!(names, [("blk0", "/soc/disk@2", 8), ("blk1", "/disk@1", 16)]);
    assert_eq!(registry.instance::<dyn BlockDevice>("blk1").map(|d| d.path), Some("/disk@1".into()));
    assert_eq!(registry.instance::<dyn BlockDevice>("/soc/disk@2").map(|d| d.name), Some("blk0".into()));
    assert!(registry.instance::<dyn BlockDevice>("blk2").is_none());
    assert!(registry.instance::<dyn SerialPort>("blk0").is_none(), "a name of another class");
    assert!(registry.instance::<dyn BlockDevice>("/plain").is_none(), "a device without a class");
    assert_eq!(registry.instances::<dyn SerialPort>().len(), 1);
    assert_eq!(registry.class_object("ttyS0").map(|o| o.class()), Some(Class::Serial));
}

#[test]
fn a_handle_outlives_the_lookup_and_the_registry_and_crosses_threads() {
    let registry = registry();
    let disk = registry.instance::<dyn BlockDevice>("blk1").unwrap().device;
    let uart = registry.instance::<dyn SerialPort>("ttyS0").unwrap().device;
    drop(registry);
    let writer = std::thread::spawn(move || {
        disk.write(2, &[0xa5; 1024]).unwrap();
        disk
    });
    let disk = writer.join().unwrap();
    let mut back = vec![0; 1536];
    disk.read(1, &mut back).unwrap();
    assert!(back[..512].iter().all(|&b| b == 0) && back[512..].iter().all(|&b| b == 0xa5));
    assert_eq!(disk.read(16, &mut [0; 512]).unwrap_err().kind, BlockErrorKind::OutOfRange);
    // The default streaming helper splits 12 sectors into pieces of at most 8 (one request).
    let mut pieces = Vec::new();
    disk.read_with(0, 12, &mut |sector, bytes| pieces.push((sector, bytes.len()))).unwrap();
    assert_eq!(pieces, [(0, 4096), (8, 2048)]);
    uart.write(b"hi");
    let mut out = [0; 4];
    assert_eq!((uart.read(&mut out), &out[..2]), (2, &b"hi"[..]));
}

#[test]
fn removing_a_device_withdraws_its_instance_but_keeps_the_others_names() {
    let mut registry = registry();
    let held = registry.instance::<dyn BlockDevice>("blk0").unwrap().device;
    let id = registry.find_by_path("/soc/disk@2").unwrap().id;
    registry.remove(id);
    assert!(registry.instance::<dyn BlockDevice>("blk0").is_none());
    assert_eq!(registry.instance::<dyn BlockDevice>("blk1").map(|d| d.path), Some("/disk@1".into()));
    assert_eq!(held.info().capacity, 8, "a handle taken before still works");
}

#[test]
fn lsdev_shows_class_and_instance() {
    let registry = registry();
    let text = registry::lsdev::text(&registry);
    let below = |path_name: &str| {
        let lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| l.contains(path_name)).unwrap();
        lines[at + 1].trim_start_matches(['|', ' ', '`']).to_string()
    };
    assert_eq!(below("disk@2"), "blk0 (block)", "\n{text}");
    assert_eq!(below("uart@0"), "ttyS0 (serial)", "\n{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 100));
    let json = registry::lsdev::json(&registry);
    assert!(json.contains(r#""driver":"disk","class":"block","instance":"blk1","outcome":"bound""#), "{json}");
    assert!(json.contains(r#""driver":"plain","class":null,"instance":null,"outcome":"bound""#), "{json}");
}

// Linked into this binary's driver list, which `plan` reads.
registry::register_driver!(PLANNED_DISK = Driver {
    name: "planned-disk",
    matches: &[Match::Compatible("acme,planned-disk")],
    priority: 0,
    class: Some(Class::Block),
    probe: disk_probe,
    remove: None,
});

struct Planned;

impl Bus for Planned {
    fn name(&self) -> &str {
        "planned"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let mut off = dt("/off", "acme,planned-disk");
        off.enabled = false;
        let mut bus = dt("/bus", "simple-bus");
        bus.children.push(dt("/bus/b", "acme,planned-disk"));
        Ok(vec![off, bus, dt("/a", "acme,planned-disk")])
    }
}

#[test]
fn the_host_plan_predicts_the_names_probing_gives() {
    let planned = registry::plan(&[&Planned]);
    let probed = registry::probe_all(HostPlatform::leaked(), &[&Planned]);
    let names = |r: &registry::Registry| -> Vec<(String, Option<String>)> {
        r.walk().into_iter().map(|(_, n)| (n.path.clone(), n.instance.clone())).collect()
    };
    assert_eq!(names(&planned), names(&probed));
    assert_eq!(planned.find_by_path("/bus/b").unwrap().instance.as_deref(), Some("blk0"));
    assert_eq!(planned.find_by_path("/a").unwrap().instance.as_deref(), Some("blk1"));
    assert_eq!(planned.find_by_path("/off").unwrap().instance, None, "disabled: never bound");
}

struct Chatty;

impl Bus for Chatty {
    fn name(&self) -> &str {
        "chatty"
    }
    fn enumerate(&self) -> Result<Vec<DeviceSpec>, BusError> {
        let mut bus = dt("/bus", "simple-bus");
        bus.children.push(dt("/bus/disk@0", "acme,disk"));
        Ok(vec![bus])
    }
}

fn chatty_probe(ctx: &mut ProbeContext<'_>) -> Result<(), ProbeError> {
    for key in ["first fact", "second fact", "third fact", "fourth fact", "fifth fact"] {
        ctx.set_info(key, "a value of some twenty chars");
    }
    ram_disk(ctx, 1)
}

#[test]
fn long_details_wrap_within_100_columns_with_the_instance_first() {
    let driver = leak("chatty", "acme,disk", Some(Class::Block), chatty_probe);
    let registry = registry::probe_with(HostPlatform::leaked(), &[&Chatty], [driver]);
    let text = registry::lsdev::text(&registry);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().all(|l| l.chars().count() <= 100), "\n{text}");
    let details: Vec<&str> = lines.iter().skip_while(|l| !l.contains("disk@0")).skip(1).map(|l| l.trim()).collect();
    assert!(details.len() >= 2, "wrapped onto several lines:\n{text}");
    assert!(details[0].starts_with("blk0 (block), first fact: "), "\n{text}");
    let joined = details.join(" ");
    for key in ["first", "second", "third", "fourth", "fifth"] {
        assert!(joined.contains(&format!("{key} fact: a value of some twenty chars")), "{key}:\n{text}");
    }
}
