//! Shared test helpers: an in-process MQTT broker (rumqttd) on free 127.0.0.1 ports, which
//! can be stopped and started again on the same ports, and a subscriber that sees what the
//! broker routes.
//!
//! ```ignore
//! mod common;
//! let mut broker = common::TestBroker::start();
//! let subscriber = broker.subscribe("sensorpub/#");
//! // connect a transport to 127.0.0.1:broker.port(common::Version::V5) ...
//! broker.stop();    // listeners and every client connection close; the router and
//!                   // subscribers stay, as if the broker's network went away
//! broker.restart(); // listening again on the same ports
//! let payloads = subscriber.payloads(5);
//! ```
//!
//! Each received message also says at which QoS and with which retain flag the publisher
//! sent it: the broker records the fixed header of every PUBLISH it reads off a client
//! connection (rumqttd itself forwards at the subscription's QoS, so the forward cannot say).
//!
//! The broker's router runs for the whole test process (rumqttd cannot stop it); each
//! `TestBroker` has its own.
//!
//! [`with_mqtt5`] is the one place tests build an MQTT 5 transport.

#![allow(dead_code)] // every test file uses a different part of this module

pub mod host;
pub mod thingspeak_like;

use bytes::BytesMut;
use embassy_futures::select::{Either, select};
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::v5::V5;
use rumqttd::protocol::{self, Packet, Protocol};
use rumqttd::{
    ConnectionSettings, LinkType, Notification, Router, RouterConfig, Server, ServerSettings,
};
use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttOptions};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use std_embedded_nal_async::Stack;

/// How long helpers wait for the broker before giving up (a bound against hanging, not a
/// timed assertion).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The MQTT protocol version of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.
    V5,
}

/// A port on 127.0.0.1 that nothing listens on right now, for a listener to bind next.
///
/// Taken below the range the OS hands out for port 0: a port from that range is free again
/// once the check's socket closes, and a listener bound to port 0 elsewhere in the tests (a
/// TLS front, a raw listener) could take it before the broker binds it (seen: a TLS front
/// forwarding to itself). A counter (and the process id, for test binaries running side by
/// side) keeps the ports of one run apart.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    const FIRST: usize = 10_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<usize>().ok())
        .unwrap_or(32_768);
    if ephemeral > FIRST + 1_000 {
        let span = ephemeral - FIRST;
        let start = std::process::id() as usize * 997;
        for _ in 0..span {
            let port = FIRST + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
            let port = u16::try_from(port).expect("a port number");
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// A PUBLISH as the broker read it off a client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WirePublish {
    topic: Vec<u8>,
    payload: Vec<u8>,
    /// The fixed header's first byte: packet type 3, then DUP, QoS (2 bits), RETAIN.
    header: u8,
}

/// Every PUBLISH the broker read, in the order read.
type PublishLog = Arc<Mutex<Vec<WirePublish>>>;

/// rumqttd's codec for one protocol version, recording each PUBLISH it decodes.
#[derive(Debug, Clone)]
struct Recording<P> {
    codec: P,
    log: PublishLog,
}

impl<P: Protocol> Protocol for Recording<P> {
    fn read_mut(
        &mut self,
        stream: &mut BytesMut,
        max_size: usize,
    ) -> Result<Packet, protocol::Error> {
        // The packet decoded (if any) starts at the first byte now in the stream.
        let header = stream.first().copied();
        let packet = self.codec.read_mut(stream, max_size)?;
        if let (Packet::Publish(publish, _), Some(header)) = (&packet, header) {
            self.log.lock().expect("publish log").push(WirePublish {
                topic: publish.topic.to_vec(),
                payload: publish.payload.to_vec(),
                header,
            });
        }
        Ok(packet)
    }

    fn write(&self, packet: Packet, write: &mut BytesMut) -> Result<usize, protocol::Error> {
        self.codec.write(packet, write)
    }
}

type StartListener = Box<dyn Fn(Version, SocketAddr) -> Listener + Send>;
type MakeLink = Box<dyn Fn(&str) -> Result<(LinkTx, LinkRx), String> + Send>;

/// One running listener: its thread owns a tokio runtime; dropping the runtime closes the
/// listening socket and every connection accepted on it.
struct Listener {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("listener thread");
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop();
    }
}

/// rumqttd in this process, with an MQTT 3.1.1 and an MQTT 5 listener on 127.0.0.1.
pub struct TestBroker {
    v311_port: u16,
    v5_port: u16,
    start_listener: StartListener,
    make_link: MakeLink,
    listeners: Vec<Listener>,
    published: PublishLog,
}

impl TestBroker {
    /// A broker listening on two free ports.
    pub fn start() -> Self {
        Self::start_on(free_port(), free_port())
    }

    /// A broker listening on `v311_port` (MQTT 3.1.1) and `v5_port` (MQTT 5).
    pub fn start_on(v311_port: u16, v5_port: u16) -> Self {
        let router_config = RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 1_000,
            max_segment_size: 1 << 20,
            max_segment_count: 10,
            ..RouterConfig::default()
        };
        let router_tx = Router::new(0, router_config).spawn();
        let published = PublishLog::default();
        let log = Arc::clone(&published);
        let link_tx = router_tx.clone();
        let make_link: MakeLink = Box::new(move |client_id| {
            let (tx, rx, _connack) = rumqttd::local::LinkBuilder::new(client_id, link_tx.clone())
                .build()
                .map_err(|e| format!("{e:?}"))?;
            Ok((tx, rx))
        });
        let start_listener: StartListener = Box::new(move |version, addr| {
            let settings = ServerSettings {
                name: format!("{version:?}-{}", addr.port()),
                listen: addr,
                tls: None,
                next_connection_delay_ms: 0,
                connections: ConnectionSettings {
                    connection_timeout_ms: 10_000,
                    max_payload_size: 1 << 16,
                    max_inflight_count: 100,
                    auth: None,
                    external_auth: None,
                    dynamic_filters: true,
                },
            };
            let router_tx = router_tx.clone();
            let log = Arc::clone(&log);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let thread = thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(async move {
                    match version {
                        Version::V311 => {
                            let codec = Recording { codec: V4, log };
                            let mut server = Server::new(settings, router_tx, codec);
                            tokio::select! {
                                _ = server.start(LinkType::Remote) => {}
                                _ = stopped => {}
                            }
                        }
                        Version::V5 => {
                            let codec = Recording { codec: V5, log };
                            let mut server = Server::new(settings, router_tx, codec);
                            tokio::select! {
                                _ = server.start(LinkType::Remote) => {}
                                _ = stopped => {}
                            }
                        }
                    }
                });
                // Dropping the runtime drops every connection task: their sockets close.
                drop(runtime);
            });
            Listener {
                stop: Some(stop),
                thread: Some(thread),
            }
        });
        let mut broker = Self {
            v311_port,
            v5_port,
            start_listener,
            make_link,
            listeners: Vec::new(),
            published,
        };
        broker.restart();
        broker
    }

    /// The port of the listener for `version`.
    pub fn port(&self, version: Version) -> u16 {
        match version {
            Version::V311 => self.v311_port,
            Version::V5 => self.v5_port,
        }
    }

    /// Stops listening and closes every client connection. The router (and with it every
    /// [`Subscriber`]) keeps running, as when a broker's network goes away.
    pub fn stop(&mut self) {
        for mut listener in self.listeners.drain(..) {
            listener.stop();
        }
    }

    /// Listens again on the same ports (after [`stop`](Self::stop)); returns once both
    /// accept connections.
    pub fn restart(&mut self) {
        self.stop();
        for version in [Version::V311, Version::V5] {
            let addr = SocketAddr::from(([127, 0, 0, 1], self.port(version)));
            self.listeners.push((self.start_listener)(version, addr));
            wait_until_listening(addr);
        }
    }

    /// A subscriber to `filter` inside the broker, subscribed once this returns.
    pub fn subscribe(&self, filter: &str) -> Subscriber {
        // A counter, not a free port: the OS hands the same ephemeral port out again, and a
        // second link with the same client id makes the broker drop the first.
        static NEXT_SUBSCRIBER: AtomicUsize = AtomicUsize::new(0);
        let link = |role: &str| {
            let mut failure = String::new();
            for _ in 0..3 {
                let n = NEXT_SUBSCRIBER.fetch_add(1, Ordering::Relaxed);
                match (self.make_link)(&format!("test-{role}-{n}")) {
                    Ok(link) => return link,
                    // The late disconnection below can also hit a link while it connects.
                    Err(e) => failure = e,
                }
            }
            panic!("local link to the router: {failure}");
        };
        // rumqttd 0.20 handles a client's DISCONNECT packet and then its socket's close as
        // two disconnections of one connection id, and its slab hands the most recently freed
        // id to the next connection: a subscriber made right after a client ended cleanly
        // could take that id and be dropped by the late second disconnection. A guard link
        // takes the freed id first and lives as long as the subscriber; should an older
        // freed id still be hit, the subscriber is made again (at most twice).
        let mut guard = link("guard");
        for _ in 0..3 {
            let (mut tx, rx) = link("subscriber");
            tx.subscribe(filter).expect("subscribe");
            let mut subscriber = Subscriber {
                _tx: tx,
                rx,
                _guard: guard,
                published: Arc::clone(&self.published),
                matched: Vec::new(),
            };
            match subscriber.wait_for_suback() {
                Ok(()) => return subscriber,
                Err(e) => {
                    eprintln!("subscriber link dropped before its SUBACK ({e}); making another");
                    guard = subscriber._guard;
                }
            }
        }
        panic!("no SUBACK from the broker for {filter}: three links dropped");
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_until_listening(addr: SocketAddr) {
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "broker never listened on {addr}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// A message as a subscriber received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// The QoS (0, 1 or 2) of the PUBLISH the publisher sent it in, as the broker read it.
    pub qos: u8,
    /// The retain flag of the PUBLISH the publisher sent it in.
    pub retain: bool,
}

/// A message as the broker routed it (see [`Subscriber::next_routed_within`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// Whether the broker delivered it as a retained message.
    pub retain: bool,
}

/// Receives what the broker routes to one subscription (in-process, so it survives
/// [`TestBroker::stop`]).
pub struct Subscriber {
    _tx: LinkTx,
    rx: LinkRx,
    /// Holds the connection id a client's late second disconnection would hit (see
    /// [`TestBroker::subscribe`]).
    _guard: (LinkTx, LinkRx),
    /// The broker's record of every PUBLISH it read.
    published: PublishLog,
    /// Which of those this subscriber has already received (`matched[i]`: entry `i`).
    matched: Vec<bool>,
}

impl Subscriber {
    /// Waits for the SUBACK; `Err` if the broker dropped the link first, panics if none
    /// comes in time.
    fn wait_for_suback(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            match self.rx.recv_deadline(deadline) {
                Ok(Some(Notification::DeviceAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) if format!("{e:?}").contains("Disconnected") => {
                    return Err(format!("{e:?}"));
                }
                Err(e) => panic!("no SUBACK from the broker: {e:?}"),
            }
        }
    }

    /// The next message, or `None` if none comes within `wait`.
    pub fn next_within(&mut self, wait: Duration) -> Option<Received> {
        let deadline = Instant::now() + wait;
        loop {
            match self.rx.recv_deadline(deadline) {
                Ok(Some(Notification::Forward(forward))) => {
                    let (topic, payload) = (&forward.publish.topic, &forward.publish.payload);
                    let header = self.sent_header(topic, payload);
                    return Some(Received {
                        topic: String::from_utf8_lossy(topic).into_owned(),
                        payload: payload.to_vec(),
                        qos: (header >> 1) & 0b11,
                        retain: header & 1 == 1,
                    });
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// The fixed header of the earliest PUBLISH of `topic` and `payload` the broker read that
    /// this subscriber has not received yet (the broker records it before routing it).
    fn sent_header(&mut self, topic: &[u8], payload: &[u8]) -> u8 {
        let published = self.published.lock().expect("publish log");
        self.matched.resize(published.len(), false);
        let found = published
            .iter()
            .zip(&mut self.matched)
            .find(|(sent, matched)| !**matched && sent.topic == topic && sent.payload == payload);
        let Some((sent, matched)) = found else {
            panic!("the broker forwarded a PUBLISH it never read off a connection");
        };
        *matched = true;
        sent.header
    }

    /// The next message as the broker routed it, including one no client published (a will):
    /// `retain` is the flag of the forward itself, set only for a message the broker held
    /// retained and delivered because of this subscription.
    pub fn next_routed_within(&mut self, wait: Duration) -> Option<Routed> {
        let deadline = Instant::now() + wait;
        loop {
            match self.rx.recv_deadline(deadline) {
                Ok(Some(Notification::Forward(forward))) => {
                    return Some(Routed {
                        topic: String::from_utf8_lossy(&forward.publish.topic).into_owned(),
                        payload: forward.publish.payload.to_vec(),
                        retain: forward.publish.retain,
                    });
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// The next `count` messages; panics if they do not all come within [`PATIENCE`].
    pub fn take(&mut self, count: usize) -> Vec<Received> {
        (0..count)
            .map(|i| {
                self.next_within(PATIENCE)
                    .unwrap_or_else(|| panic!("message {i} of {count} never arrived"))
            })
            .collect()
    }

    /// The payloads of the next `count` messages (see [`take`](Self::take)).
    pub fn payloads(&mut self, count: usize) -> Vec<Vec<u8>> {
        self.take(count).into_iter().map(|m| m.payload).collect()
    }
}

/// Accepts one TCP connection on a loopback listener and records every byte the client
/// sends, answering with `reply` once the first bytes arrived (e.g. a CONNACK). For tests
/// that read a client's packets off the wire.
pub struct RawListener {
    port: u16,
    bytes: mpsc::Receiver<Vec<u8>>,
}

impl RawListener {
    /// Listens on a free port; the first connection gets `reply` after its first read.
    pub fn start(reply: &'static [u8]) -> Self {
        Self::start_for(reply, 1)
    }

    /// Listens on a free port for `connections` connections, one after the other; each gets
    /// `reply` after its first read. [`received`](Self::received) holds the bytes of all.
    pub fn start_for(reply: &'static [u8], connections: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, bytes) = mpsc::channel();
        thread::spawn(move || {
            for _ in 0..connections {
                if !Self::serve(&listener, reply, &tx) {
                    return;
                }
            }
        });
        Self { port, bytes }
    }

    /// Serves one connection until the client closes it; `false` if the test went away.
    fn serve(listener: &TcpListener, reply: &[u8], tx: &mpsc::Sender<Vec<u8>>) -> bool {
        use std::io::{Read, Write};
        let Ok((mut stream, _)) = listener.accept() else {
            return false;
        };
        let mut replied = false;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            if tx.send(buf[..n].to_vec()).is_err() {
                return false;
            }
            if !replied {
                replied = true;
                if stream.write_all(reply).is_err() {
                    break;
                }
            }
        }
        true
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything received until the client closed the connection (or [`PATIENCE`] passed).
    pub fn received(&self) -> Vec<u8> {
        let deadline = Instant::now() + PATIENCE;
        let mut all = Vec::new();
        while let Ok(chunk) = self
            .bytes
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            all.extend(chunk);
        }
        all
    }
}

/// Splits a byte stream of MQTT packets into packets (fixed header included), using the
/// remaining-length encoding of MQTT 3.1.1 §2.2.3, written here independently of the crate.
pub fn split_packets(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    while !bytes.is_empty() {
        let mut remaining = 0usize;
        let mut i = 1;
        loop {
            let byte = bytes[i];
            remaining |= usize::from(byte & 0x7f) << (7 * (i - 1));
            i += 1;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let total = i + remaining;
        packets.push(bytes[..total].to_vec());
        bytes = &bytes[total..];
    }
    packets
}

/// The MQTT 5 buffers of [`with_mqtt5`]: 256 bytes for one incoming packet, 768 for minimq's
/// transmit arena, 256 for the longest topic plus payload.
pub type TestMqtt5Buffers = Mqtt5Buffers<256, 768, 256>;

/// Builds the MQTT 5 transport for 127.0.0.1:`port` with `options` and runs `body` with its
/// handle while its runner runs beside it, as firmware joins the two; returns what `body`
/// returns. Only `body` decides whether and when to connect.
pub fn with_mqtt5<R>(
    port: u16,
    options: MqttOptions<'_>,
    body: impl AsyncFnOnce(&mut Mqtt5<'_>) -> R,
) -> R {
    with_mqtt5_in(&mut TestMqtt5Buffers::new(), port, options, body)
}

/// [`with_mqtt5`] over `buffers` of the caller's size (messages longer than 256 bytes).
pub fn with_mqtt5_in<const RX: usize, const TX: usize, const MESSAGE: usize, R>(
    buffers: &mut Mqtt5Buffers<RX, TX, MESSAGE>,
    port: u16,
    options: MqttOptions<'_>,
    body: impl AsyncFnOnce(&mut Mqtt5<'_>) -> R,
) -> R {
    let stack = Stack::default();
    let broker = Broker::new("127.0.0.1", port);
    let (mut mqtt, mut runner) =
        Mqtt5::new(&stack, broker, options, buffers).expect("valid MQTT 5 options");
    async_io::block_on(async {
        match select(runner.run(), body(&mut mqtt)).await {
            Either::First(never) => never,
            Either::Second(result) => result,
        }
    })
}
