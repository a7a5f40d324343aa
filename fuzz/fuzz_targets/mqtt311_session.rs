//! The MQTT 3.1.1 client session fed arbitrary broker bytes: the real `Mqtt311` transport
//! (framing, the CONNACK and PUBACK checks, PINGRESP, skipped packets) over an in-memory
//! network whose connection returns the fuzzer's bytes, in the fuzzer's chunks, with "nothing
//! yet", reset and end of stream in between. Whatever the broker sends: no panic, no hang,
//! and a session that reports an error has closed its connection (the next `connect` starts
//! over).
#![no_main]

use arbitrary::Arbitrary;
use core::cell::RefCell;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use libfuzzer_sys::fuzz_target;
use sensorpub::{Broker, Message, Mqtt311, MqttError, MqttOptions, QoS, Transport};
use std::collections::VecDeque;

/// What the broker's side of the connection does at the client's next read.
#[derive(Arbitrary, Debug, Clone)]
enum Event {
    /// These bytes arrive (a read returns as many as fit, the rest stays queued).
    Bytes(Vec<u8>),
    /// Nothing has arrived yet: the read is pending once, then goes on with the next event.
    Pending,
    /// The connection is reset.
    Reset,
    /// The broker closes the connection (end of stream); the next connection reads on.
    Close,
}

/// What the application does with the transport.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Connect,
    Publish { qos1: bool, retain: bool },
    Poll,
    Disconnect,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The receive buffer's size: 4 (`MIN_RX_BUFFER`) to 67 bytes.
    rx_extra: u8,
    will: bool,
    birth: bool,
    ops: Vec<Op>,
    events: Vec<Event>,
}

/// An in-memory network: every connection reads from the one script of events; writes are
/// accepted and dropped.
struct Net {
    events: RefCell<VecDeque<Event>>,
}

struct Connection<'a> {
    net: &'a Net,
    /// Closed by the broker (`Event::Close`): end of stream from now on.
    closed: bool,
}

impl TcpConnect for Net {
    type Error = ErrorKind;
    type Connection<'a> = Connection<'a>;

    async fn connect<'a>(&'a self, _remote: SocketAddr) -> Result<Connection<'a>, ErrorKind> {
        Ok(Connection {
            net: self,
            closed: false,
        })
    }
}

impl Dns for Net {
    type Error = ErrorKind;

    async fn get_host_by_name(&self, _host: &str, _kind: AddrType) -> Result<IpAddr, ErrorKind> {
        Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _out: &mut [u8],
    ) -> Result<usize, ErrorKind> {
        Err(ErrorKind::Unsupported)
    }
}

impl ErrorType for Connection<'_> {
    type Error = ErrorKind;
}

/// Pending once (waking itself), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Read for Connection<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        loop {
            if self.closed || buf.is_empty() {
                return Ok(0);
            }
            let event = self.net.events.borrow_mut().pop_front();
            match event {
                // The script is over: the broker has gone away.
                None => return Ok(0),
                Some(Event::Pending) => YieldOnce(false).await,
                Some(Event::Reset) => return Err(ErrorKind::ConnectionReset),
                Some(Event::Close) => {
                    self.closed = true;
                    return Ok(0);
                }
                Some(Event::Bytes(bytes)) => {
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        let rest = Event::Bytes(bytes[n..].to_vec());
                        self.net.events.borrow_mut().push_front(rest);
                    }
                    return Ok(n);
                }
            }
        }
    }
}

impl Write for Connection<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

fuzz_target!(|input: Input| {
    let net = Net {
        events: RefCell::new(input.events.into_iter().collect()),
    };
    let mut tx = [0u8; 256];
    let mut rx = vec![0u8; 4 + usize::from(input.rx_extra % 64)];
    let mut options = MqttOptions::new("fuzz").with_ack_timeout_ms(60_000);
    if input.will {
        options =
            options.with_will(Message::new("fuzz/status", b"offline").with_qos(QoS::AtLeastOnce));
    }
    if input.birth {
        options =
            options.with_birth(Message::new("fuzz/status", b"online").with_qos(QoS::AtLeastOnce));
    }
    let mut mqtt = Mqtt311::new(
        &net,
        Broker::new("127.0.0.1", 1883),
        options,
        &mut tx,
        &mut rx,
    );
    embassy_futures::block_on(async {
        for op in input.ops.iter().take(32) {
            let result = match *op {
                Op::Connect => mqtt.connect().await,
                Op::Publish { qos1, retain } => {
                    let qos = if qos1 {
                        QoS::AtLeastOnce
                    } else {
                        QoS::AtMostOnce
                    };
                    let message = Message::new("fuzz/value", b"742")
                        .with_qos(qos)
                        .with_retain(retain);
                    mqtt.publish(&message).await
                }
                Op::Poll => mqtt.poll().await,
                Op::Disconnect => {
                    mqtt.disconnect().await;
                    assert!(!mqtt.is_connected());
                    Ok(())
                }
            };
            match result {
                Ok(()) => {}
                // Refused before anything was sent: the connection (if any) stays.
                Err(MqttError::NotConnected | MqttError::QosNotAllowed | MqttError::TooLarge) => {}
                // Every other failure closed the connection: the next connect starts over.
                Err(e) => assert!(
                    !mqtt.is_connected(),
                    "{op:?} failed with {e:?} but stayed connected"
                ),
            }
        }
    });
});
