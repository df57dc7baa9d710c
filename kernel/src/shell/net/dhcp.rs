//! `net up`: an address, gateway and DNS servers from DHCP.

use alloc::vec::Vec;

use smoltcp::socket::dhcpv4;
use smoltcp::wire::{IpCidr, Ipv4Address, Ipv4Cidr};
use registry::class::net_smoltcp::Phy;

use super::stack::{Failure, Stack, Step};

/// QEMU's user network answers at once; a real network may take a few seconds.
const DHCP_TIMEOUT_MS: u64 = 10_000;

pub struct Lease {
    pub address: Ipv4Cidr,
    pub router: Option<Ipv4Address>,
    pub dns_servers: Vec<Ipv4Address>,
}

/// Runs DHCP until the first lease and configures the interface with it. The DHCP socket goes
/// afterwards: nothing here runs long enough to renew a lease (QEMU's last a day).
pub fn configure(stack: &mut Stack, nic: &mut Phy) -> Result<Lease, Failure> {
    let handle = stack.sockets.add(dhcpv4::Socket::new());
    let lease = stack.run(nic, DHCP_TIMEOUT_MS, "a DHCP lease", |stack| {
        Ok(match stack.sockets.get_mut::<dhcpv4::Socket>(handle).poll() {
            Some(dhcpv4::Event::Configured(config)) => Step::Done(Lease {
                address: config.address,
                router: config.router,
                dns_servers: config.dns_servers.iter().copied().collect(),
            }),
            _ => Step::Waiting,
        })
    });
    stack.sockets.remove(handle);
    let lease = lease?;
    stack.iface.update_ip_addrs(|addresses| {
        addresses.clear();
        // One address was just cleared out of room for at least one.
        let _ = addresses.push(IpCidr::Ipv4(lease.address));
    });
    stack.iface.routes_mut().remove_default_ipv4_route();
    if let Some(router) = lease.router {
        // Fails only when the route table is full, and the one default route was just removed.
        let _ = stack.iface.routes_mut().add_default_ipv4_route(router);
    }
    Ok(lease)
}
