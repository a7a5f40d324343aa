//! embassy-net's TCP client and DNS socket as the one `TcpConnect + Dns` value that
//! sensorpub's transports take: embassy-net implements the two traits on separate types.

use core::net::{IpAddr, SocketAddr};
use embassy_net::dns::{DnsSocket, Error as DnsError};
use embassy_net::tcp::Error as TcpError;
use embassy_net::tcp::client::{TcpClient, TcpConnection};
use embedded_nal_async::{AddrType, Dns, TcpConnect};

/// TCP connections and name lookups over one embassy-net stack.
pub struct Network<'d, const N: usize, const TX: usize, const RX: usize> {
    tcp: TcpClient<'d, N, TX, RX>,
    dns: DnsSocket<'d>,
}

impl<'d, const N: usize, const TX: usize, const RX: usize> Network<'d, N, TX, RX> {
    /// Connections through `tcp`, names resolved by `dns`.
    pub fn new(tcp: TcpClient<'d, N, TX, RX>, dns: DnsSocket<'d>) -> Self {
        Self { tcp, dns }
    }
}

impl<'d, const N: usize, const TX: usize, const RX: usize> TcpConnect for Network<'d, N, TX, RX> {
    type Error = TcpError;
    type Connection<'a>
        = TcpConnection<'a, N, TX, RX>
    where
        Self: 'a;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Self::Connection<'a>, TcpError> {
        self.tcp.connect(remote).await
    }
}

impl<const N: usize, const TX: usize, const RX: usize> Dns for Network<'_, N, TX, RX> {
    type Error = DnsError;

    async fn get_host_by_name(&self, host: &str, addr_type: AddrType) -> Result<IpAddr, DnsError> {
        self.dns.get_host_by_name(host, addr_type).await
    }

    async fn get_host_by_address(
        &self,
        addr: IpAddr,
        result: &mut [u8],
    ) -> Result<usize, DnsError> {
        self.dns.get_host_by_address(addr, result).await
    }
}
