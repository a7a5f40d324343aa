//! The MQTT 3.1.1 client session fed arbitrary broker bytes: the real `Mqtt311` transport
//! (framing, the CONNACK, PUBACK and SUBACK checks, PINGRESP, inbound PUBLISH parsing and
//! the skipping of one longer than rx, skipped packets) over an in-memory
//! network whose connection returns the fuzzer's bytes, in the fuzzer's chunks, with "nothing
//! yet", reset and end of stream in between. Whatever the broker sends: no panic, no hang,
//! and a session that reports an error has closed its connection (the next `connect` starts
//! over); every message the inbox receives has a valid topic name and fits the inbox.
#![no_main]

use core::cell::RefCell;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use libfuzzer_sys::fuzz_target;
use sensorpub::{
    Broker, Inbox, Message, Mqtt311, MqttError, MqttOptions, QoS, Subscription, Transport,
    validate_topic_name,
};
use std::collections::VecDeque;

/// What the broker's side of the connection does at the client's next read.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone, Copy)]
enum Op {
    Connect,
    Publish { qos1: bool },
    Poll,
    Disconnect,
}

/// The fuzzer's bytes, in a format simple enough to write seeds by hand (fuzz/corpus):
/// `rx_extra flags op_count op…` then events to the end. Flags: bit 0 a will, bit 1 a birth
/// message, bit 2 a subscription (`fuzz/+`, QoS 1: connect then waits for a SUBACK `90 03 00
/// pid code`) and an inbox of 24 bytes. An op byte is `% 5`: connect, publish QoS 0, publish QoS 1, poll, disconnect. An
/// event is a tag byte `% 8` and its operands: 0 `len bytes…` raw bytes; 1 `code` a CONNACK
/// (`20 02 00 code`); 2 `pid` a PUBACK for a small packet id (`40 02 00 pid`); 3 a PINGRESP;
/// 4 pending once; 5 reset; 6 end of stream; 7 `flags code` a CONNACK with any flags. Well-formed
/// packets get the fuzzer to a live session quickly; raw bytes cover the malformed ones.
struct Input {
    rx_len: usize,
    will: bool,
    birth: bool,
    subscribe: bool,
    ops: Vec<Op>,
    events: Vec<Event>,
}

impl Input {
    fn parse(data: &[u8]) -> Self {
        let mut bytes = data.iter().copied();
        let mut next = || bytes.next().unwrap_or(0);
        let rx_len = 4 + usize::from(next() % 64);
        let flags = next();
        let ops = (0..next() % 32)
            .map(|_| match next() % 5 {
                0 => Op::Connect,
                1 => Op::Publish { qos1: false },
                2 => Op::Publish { qos1: true },
                3 => Op::Poll,
                _ => Op::Disconnect,
            })
            .collect();
        let mut rest = data.get(3 + ops_len(data)..).unwrap_or(&[]).iter().copied();
        let mut events = Vec::new();
        while let Some(tag) = rest.next() {
            let mut operand = || rest.next().unwrap_or(0);
            events.push(match tag % 8 {
                0 => {
                    let len = operand();
                    Event::Bytes((0..len).map(|_| operand()).collect())
                }
                1 => Event::Bytes(vec![0x20, 2, 0, operand()]),
                2 => Event::Bytes(vec![0x40, 2, 0, operand()]),
                3 => Event::Bytes(vec![0xd0, 0]),
                4 => Event::Pending,
                5 => Event::Reset,
                6 => Event::Close,
                _ => Event::Bytes(vec![0x20, 2, operand(), operand()]),
            });
        }
        Input {
            rx_len,
            will: flags & 1 != 0,
            birth: flags & 2 != 0,
            subscribe: flags & 4 != 0,
            ops,
            events,
        }
    }
}

/// How many op bytes follow the three header bytes.
fn ops_len(data: &[u8]) -> usize {
    usize::from(data.get(2).copied().unwrap_or(0) % 32)
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

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let net = Net {
        events: RefCell::new(input.events.into_iter().collect()),
    };
    let mut tx = [0u8; 256];
    let mut rx = vec![0u8; input.rx_len];
    let mut options = MqttOptions::new("fuzz").with_ack_timeout_ms(60_000);
    if input.will {
        options =
            options.with_will(Message::new("fuzz/status", b"offline").with_qos(QoS::AtLeastOnce));
    }
    if input.birth {
        options =
            options.with_birth(Message::new("fuzz/status", b"online").with_qos(QoS::AtLeastOnce));
    }
    const SUBSCRIPTIONS: [Subscription<'static>; 1] =
        [Subscription::new("fuzz/+", QoS::AtLeastOnce)];
    if input.subscribe {
        options = options.with_subscriptions(&SUBSCRIPTIONS);
    }
    let inbox = Inbox::<24>::new();
    let mut mqtt = Mqtt311::new(
        &net,
        Broker::new("127.0.0.1", 1883),
        options,
        &mut tx,
        &mut rx,
    )
    .with_inbox(&inbox);
    embassy_futures::block_on(async {
        for op in input.ops.iter().take(32) {
            let result = match *op {
                Op::Connect => mqtt.connect().await,
                Op::Publish { qos1 } => {
                    let qos = if qos1 {
                        QoS::AtLeastOnce
                    } else {
                        QoS::AtMostOnce
                    };
                    let message = Message::new("fuzz/value", b"742").with_qos(qos);
                    mqtt.publish(&message).await
                }
                Op::Poll => mqtt.poll().await,
                Op::Disconnect => {
                    mqtt.disconnect().await;
                    assert!(!mqtt.is_connected());
                    Ok(())
                }
            };
            inbox.take(|m| {
                assert_eq!(validate_topic_name(m.topic), Ok(()), "{m:?}");
                assert!(m.topic.len() + m.payload.len() <= 24, "{m:?}");
            });
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
