//! `net up`, `net echo PORT`, `net send HOST PORT BYTES SEED`, `net ping HOST [COUNT]`: smoltcp
//! on the first NIC of the net class (`net0`), driven from the shell.

mod dhcp;
/// `net http PORT [REQUESTS]`: an HTTP server on the same interface.
mod http;
mod ping;
mod stack;
mod tcp;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use registry::Registry;
use smoltcp::wire::{IpAddress, Ipv4Address};
use spin::Mutex;
use registry::class::net_smoltcp::Phy;
use registry::class::NetDevice;

use super::{shell_command, Command};
use stack::Stack;

const USAGE: &str =
    "usage: net up | net link | net echo PORT | net send HOST PORT BYTES SEED | net ping HOST [COUNT] | net http PORT [REQUESTS]";
const PING_COUNT: u16 = 4;

shell_command!(NET = Command {
    name: "net",
    usage: "net up|link|echo|send|ping|http DHCP; the link; a TCP echo server; a TCP stream checked on its echo; ping; an HTTP server",
    run: net,
});

/// The interface `net up` configured; the other commands use it.
static STACK: Mutex<Option<Stack>> = Mutex::new(None);

fn net(registry: &mut Registry, args: &[&str]) {
    // The page names the devices: read the registry before the NIC is borrowed from it.
    let http_page = (args.first() == Some(&"http")).then(|| http::index_page(&registry::lsdev::text(registry)));
    if args == ["link"] {
        return link(registry);
    }
    let Some(nic) = registry.instances::<dyn NetDevice>().into_iter().next() else {
        println!("net: no NIC is bound");
        return;
    };
    let mut phy = Phy::new(nic.device);
    let mut configured = STACK.lock();
    match (args, configured.as_mut()) {
        (["up"], _) => up(&mut configured, &nic.path, &mut phy),
        (_, None) => println!("net: the interface is not up (net up)"),
        (["http", rest @ ..], Some(stack)) => serve_http(stack, &mut phy, http_page.as_deref().unwrap_or_default(), rest),
        (args, Some(stack)) => run(stack, &mut phy, args),
    }
}

fn run(stack: &mut Stack, nic: &mut Phy, args: &[&str]) {
    match args {
        ["echo", port] => match port.parse() {
            Ok(port) => echo(stack, nic, port),
            Err(_) => println!("{USAGE}"),
        },
        ["send", host, port, bytes, seed] => match (host.parse(), port.parse(), bytes.parse(), seed.parse()) {
            (Ok(host), Ok(port), Ok(bytes), Ok(seed)) => send(stack, nic, host, port, bytes, seed),
            _ => println!("{USAGE}"),
        },
        ["ping", host, count @ ..] if count.len() <= 1 => {
            match (host.parse(), count.first().map_or(Ok(PING_COUNT), |count| count.parse())) {
                (Ok(host), Ok(count)) => ping(stack, nic, host, count),
                _ => println!("{USAGE}"),
            }
        }
        _ => println!("{USAGE}"),
    }
}

fn up(configured: &mut Option<Stack>, path: &str, nic: &mut Phy) {
    let mut stack = Stack::new(nic);
    match dhcp::configure(&mut stack, nic) {
        Ok(lease) => {
            println!("net up: {path}, mac {}, link {}", nic.nic().mac(), nic.nic().link_label());
            let gateway = lease.router.map_or_else(|| String::from("none"), |router| format!("{router}"));
            let dns: Vec<String> = lease.dns_servers.iter().map(|server| format!("{server}")).collect();
            println!("net up: address {}, gateway {gateway}, dns {}", lease.address, dns.join(" "));
            *configured = Some(stack);
        }
        Err(failure) => println!("net up: {failure}"),
    }
}

/// The first NIC's link as the device reports it now, and whether its configuration interrupt
/// announced a change since the last look; `lsdev` follows.
fn link(registry: &mut Registry) {
    let Some(nic) = registry.instances::<dyn NetDevice>().into_iter().next() else {
        return println!("net: no NIC is bound");
    };
    let (path, signalled) = (nic.path, nic.device.take_link_change());
    let link = nic.device.link_label();
    if signalled {
        println!("net link: the device signalled a change");
    }
    println!("net link: {link}");
    registry.set_info(&path, "link", link);
}

fn echo(stack: &mut Stack, nic: &mut Phy, port: u16) {
    // The socket listens before the first poll, so a peer may connect as soon as it reads this.
    println!("net echo: listening on port {port}");
    match tcp::echo(stack, nic, port) {
        Ok(echoed) => println!("net echo: {echoed} bytes echoed"),
        Err(failure) => println!("net echo: {failure}"),
    }
}

fn send(stack: &mut Stack, nic: &mut Phy, host: Ipv4Address, port: u16, bytes: usize, seed: u64) {
    match tcp::send(stack, nic, IpAddress::Ipv4(host), port, bytes, seed) {
        Ok(report) => {
            println!("net send: {} bytes sent to {host}:{port}, {} echoed back and verified", report.sent, report.verified)
        }
        Err(failure) => println!("net send: {failure}"),
    }
}

fn ping(stack: &mut Stack, nic: &mut Phy, host: Ipv4Address, count: u16) {
    let on_reply = |seq_no, millis| println!("net ping: reply from {host}: seq {seq_no} time {millis} ms");
    match ping::ping(stack, nic, IpAddress::Ipv4(host), count, on_reply) {
        Ok(replies) => println!("net ping: {count} sent, {replies} replies"),
        Err(failure) => println!("net ping: {failure}"),
    }
}

fn serve_http(stack: &mut Stack, nic: &mut Phy, page: &str, args: &[&str]) {
    let (port, limit) = match args {
        [port] => (port.parse(), Ok(None)),
        [port, requests] => (port.parse(), requests.parse().map(Some)),
        _ => return println!("{USAGE}"),
    };
    let (Ok(port), Ok(limit)) = (port, limit) else { return println!("{USAGE}") };
    match http::serve(stack, nic, port, page, limit) {
        Ok(report) => println!("net http: stopped: {} responses sent, {} connections dropped", report.served, report.dropped),
        Err(failure) => println!("net http: {failure}"),
    }
}
