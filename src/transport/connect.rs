//! Opening the TCP connection to a broker through `embedded-nal-async`: [`Broker`] names the
//! endpoint, [`open`] resolves and connects.
//!
//! Both MQTT transports open their connections here, so firmware (embassy-net implements
//! `TcpConnect` and `Dns`) and a PC (`std-embedded-nal-async`) run the same code path.

use core::fmt;
use core::net::{IpAddr, SocketAddr};
use embedded_io_async::{Error as _, ErrorKind};
use embedded_nal_async::{AddrType, Dns, TcpConnect};

/// The port of unencrypted MQTT (IANA; MQTT 3.1.1 §4.2 and MQTT 5 §4.2).
pub const MQTT_PORT: u16 = 1883;

/// Where the broker listens: a host name or IP address, and a port.
///
/// ```
/// use sensorpub::Broker;
///
/// let broker = Broker::parse("test.mosquitto.org:1883")?;
/// assert_eq!(broker.host(), "test.mosquitto.org");
/// assert_eq!(broker.port(), 1883);
/// assert_eq!(Broker::parse("[::1]:1884")?.host(), "::1");
/// assert_eq!(Broker::parse("localhost")?.port(), 1883);
/// # Ok::<(), sensorpub::BrokerParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Broker<'a> {
    host: &'a str,
    port: u16,
}

impl<'a> Broker<'a> {
    /// The broker at `host` (a name to resolve, or an IPv4/IPv6 address) and `port`.
    pub const fn new(host: &'a str, port: u16) -> Self {
        Self { host, port }
    }

    /// Parses `HOST:PORT`, `HOST` (port 1883), `[IPV6]:PORT` or a bare IPv6 address.
    pub fn parse(text: &'a str) -> Result<Self, BrokerParseError> {
        if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or(BrokerParseError::Host)?;
            let port = match after {
                "" => MQTT_PORT,
                _ => parse_port(after.strip_prefix(':').ok_or(BrokerParseError::Port)?)?,
            };
            return Self::checked(host, port);
        }
        // More than one ':' and no brackets: a bare IPv6 address.
        if text.bytes().filter(|&b| b == b':').count() > 1 {
            return Self::checked(text, MQTT_PORT);
        }
        match text.split_once(':') {
            Some((host, port)) => Self::checked(host, parse_port(port)?),
            None => Self::checked(text, MQTT_PORT),
        }
    }

    fn checked(host: &'a str, port: u16) -> Result<Self, BrokerParseError> {
        // A bracket left in the host (`::]`, `[a`) is a typo, and the address would not print
        // (`Display`) as text that parses back to it.
        let malformed = |b: u8| b.is_ascii_whitespace() || b == b'[' || b == b']';
        if host.is_empty() || host.bytes().any(malformed) {
            return Err(BrokerParseError::Host);
        }
        Ok(Self::new(host, port))
    }

    /// The host name or address.
    pub const fn host(&self) -> &'a str {
        self.host
    }

    /// The TCP port.
    pub const fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Broker<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn parse_port(text: &str) -> Result<u16, BrokerParseError> {
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(BrokerParseError::Port),
    }
}

/// A broker address could not be parsed by [`Broker::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BrokerParseError {
    /// The host is empty, holds spaces, or an IPv6 bracket is not closed or stray.
    Host,
    /// The port is not a number in `1..=65535`.
    Port,
}

impl fmt::Display for BrokerParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokerParseError::Host => "broker host is empty or malformed: use HOST:PORT",
            BrokerParseError::Port => "broker port is not a number in 1..=65535: use HOST:PORT",
        })
    }
}

impl core::error::Error for BrokerParseError {}

/// The TCP connection to the broker could not be opened; no MQTT packet was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConnectError {
    /// The host name did not resolve: check the name and the device's DNS server.
    Dns,
    /// The TCP connection failed (`ConnectionRefused`: nothing listens on that port).
    Tcp(ErrorKind),
    /// Neither a connection nor a refusal came within the configured timeout.
    Timeout,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Dns => f.write_str("could not resolve the broker's host name"),
            ConnectError::Tcp(kind) => write!(f, "TCP connection to the broker failed: {kind}"),
            ConnectError::Timeout => f.write_str("the broker did not answer in time"),
        }
    }
}

impl core::error::Error for ConnectError {}

/// Resolves `broker` (unless it is an address already) and opens a TCP connection to it.
///
/// IPv4 is asked for first, IPv6 only if the name has no IPv4 address: most MCU network
/// stacks and lab brokers are IPv4-only, and `localhost` often resolves to `::1` first.
///
/// ```no_run
/// use sensorpub::{Broker, open_connection};
///
/// # async fn demo() -> Result<(), sensorpub::ConnectError> {
/// let stack = std_embedded_nal_async::Stack::default();
/// let connection = open_connection(&stack, &Broker::new("127.0.0.1", 1883)).await?;
/// # drop(connection);
/// # Ok(())
/// # }
/// ```
pub async fn open<'n, N>(net: &'n N, broker: &Broker<'_>) -> Result<N::Connection<'n>, ConnectError>
where
    N: TcpConnect + Dns,
{
    let ip = match ip_address(broker.host) {
        Some(ip) => ip,
        None => resolve(net, broker.host).await?,
    };
    net.connect(SocketAddr::new(ip, broker.port))
        .await
        .map_err(|e| ConnectError::Tcp(e.kind()))
}

/// `host` as an IP address, if it is one. Out of line: the parser's temporaries (about 100
/// bytes) would otherwise stay in the frame that polls the whole connection.
#[inline(never)]
fn ip_address(host: &str) -> Option<IpAddr> {
    host.parse().ok()
}

async fn resolve<N: Dns>(net: &N, host: &str) -> Result<IpAddr, ConnectError> {
    match net.get_host_by_name(host, AddrType::IPv4).await {
        Ok(ip) => Ok(ip),
        Err(_) => net
            .get_host_by_name(host, AddrType::IPv6)
            .await
            .map_err(|_| ConnectError::Dns),
    }
}
