//! The network and clock the MQTT size binaries link against: stand-ins whose reads and
//! writes the optimiser cannot see through (`black_box`), so minimq's CONNECT, CONNACK,
//! PUBLISH and PUBACK paths are all linked. Each binary installs [`Ticks`] as embassy-time's
//! driver itself (`time_driver_impl!` may stand once per binary).

use crate::consume;
use core::hint::black_box;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};

/// What the stand-in broker "sends": opaque bytes, so every parsing path stays linked.
static INCOMING: [u8; 16] = [
    0x20, 0x03, 0x00, 0x00, 0x00, 0x40, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0,
];

/// A network stack that connects to anything and resolves every name to 127.0.0.1.
pub struct Net;

/// A connection that reads [`INCOMING`] and swallows what is written.
pub struct Connection;

impl ErrorType for Connection {
    type Error = ErrorKind;
}

impl Read for Connection {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let incoming = black_box(&INCOMING);
        let len = black_box(buf.len().min(incoming.len()));
        buf[..len].copy_from_slice(&incoming[..len]);
        Ok(len)
    }
}

impl Write for Connection {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        consume(buf);
        Ok(black_box(buf.len()))
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl TcpConnect for Net {
    type Error = ErrorKind;
    type Connection<'a> = Connection;

    async fn connect(&self, remote: SocketAddr) -> Result<Connection, ErrorKind> {
        black_box(remote);
        Ok(Connection)
    }
}

impl Dns for Net {
    type Error = ErrorKind;

    async fn get_host_by_name(&self, host: &str, _: AddrType) -> Result<IpAddr, ErrorKind> {
        black_box(host);
        Ok(IpAddr::V4(Ipv4Addr::new(127, 0, 0, black_box(1))))
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::Unsupported)
    }
}

/// embassy-time needs a driver; minimq's keep-alive and our timeouts read it.
pub struct Ticks;

impl embassy_time_driver::Driver for Ticks {
    fn now(&self) -> u64 {
        black_box(0)
    }

    fn schedule_wake(&self, at: u64, waker: &core::task::Waker) {
        black_box(at);
        waker.wake_by_ref();
    }
}
