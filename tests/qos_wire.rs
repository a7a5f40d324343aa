//! QoS on the wire, for both protocol versions, against a loopback peer that speaks just
//! enough MQTT: it reads the CONNECT, answers with a CONNACK, reads the PUBLISH and sends
//! the PUBACKs a test scripts. A QoS 1 PUBLISH has header `0x32` (`0x33` retained) and a
//! non-zero packet id, and `publish()` returns only after a PUBACK with that id: not
//! before, and not on a PUBACK for another id. A QoS 0 PUBLISH (`0x30`) has no packet id
//! and waits for nothing.
//!
//! The packets are read with the MQTT 3.1.1 §2.2 / MQTT 5 §2.1 framing written out here,
//! independently of the crate.

mod common;

use common::{PATIENCE, Version};
use sensorpub::{Broker, Mqtt311, MqttError, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/qos/value";
const PAYLOAD: &[u8] = b"742";

/// How long the peer waits before each PUBACK: a client that returns without waiting for
/// it has returned by then.
const ACK_DELAY: Duration = Duration::from_millis(100);

/// Client timeout when a PUBACK is expected to arrive (a bound, not a measurement).
const PATIENT_MS: u32 = 5_000;

/// Client timeout when the right PUBACK never comes.
const IMPATIENT_MS: u32 = 500;

/// What happened, in order, on either side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The peer is about to write a PUBACK with this packet id.
    PubAckSent(u16),
    /// The client's `publish()` returned.
    PublishReturned,
}

type Events = Arc<Mutex<Vec<Event>>>;

/// A PUBLISH as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Publish {
    /// The first byte of the fixed header: type 3, DUP, QoS, RETAIN.
    header: u8,
    topic: Vec<u8>,
    /// Present for QoS 1 and 2.
    packet_id: Option<u16>,
    payload: Vec<u8>,
}

/// Reads one whole MQTT packet (fixed header included).
fn read_packet(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut packet = vec![0u8];
    stream.read_exact(&mut packet)?;
    let mut remaining = 0usize;
    for shift in (0..4).map(|i| 7 * i) {
        let mut byte = [0u8];
        stream.read_exact(&mut byte)?;
        packet.push(byte[0]);
        remaining |= usize::from(byte[0] & 0x7f) << shift;
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + remaining, 0);
    stream.read_exact(&mut packet[start..])?;
    Ok(packet)
}

/// A variable byte integer at the start of `bytes`: (value, its length).
fn variable_int(bytes: &[u8]) -> (usize, usize) {
    let mut value = 0usize;
    for (i, &byte) in bytes.iter().enumerate().take(4) {
        value |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    panic!("malformed variable byte integer in {bytes:02x?}");
}

/// Takes a PUBLISH apart: MQTT 3.1.1 §3.3, and MQTT 5 §3.3 with its properties.
fn parse_publish(packet: &[u8], version: Version) -> Publish {
    let header = packet[0];
    assert_eq!(header >> 4, 3, "a PUBLISH, got {packet:02x?}");
    let (remaining, length_bytes) = variable_int(&packet[1..]);
    let body = &packet[1 + length_bytes..];
    assert_eq!(body.len(), remaining);
    let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let topic = body[2..2 + topic_len].to_vec();
    let mut rest = &body[2 + topic_len..];
    let packet_id = ((header >> 1) & 0b11 > 0).then(|| {
        let id = u16::from_be_bytes([rest[0], rest[1]]);
        rest = &rest[2..];
        id
    });
    if version == Version::V5 {
        let (properties, length_bytes) = variable_int(rest);
        rest = &rest[length_bytes + properties..];
    }
    Publish {
        header,
        topic,
        packet_id,
        payload: rest.to_vec(),
    }
}

/// The loopback peer: one connection, one PUBLISH, then the PUBACKs `acks` picks for the
/// PUBLISH's packet id, each after [`ACK_DELAY`]; then it reads until the client closes.
struct Peer {
    port: u16,
    published: mpsc::Receiver<Publish>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    fn start(version: Version, events: Events, acks: fn(u16) -> Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, published) = mpsc::channel();
        let thread = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("a client connects");
            stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
            let connect = read_packet(&mut stream).expect("CONNECT");
            assert_eq!(connect[0], 0x10, "CONNECT first, got {connect:02x?}");
            // CONNACK accepted: MQTT 3.1.1 §3.2 (flags, code 0); MQTT 5 §3.2 (flags,
            // reason 0, no properties).
            let connack: &[u8] = match version {
                Version::V311 => &[0x20, 0x02, 0x00, 0x00],
                Version::V5 => &[0x20, 0x03, 0x00, 0x00, 0x00],
            };
            stream.write_all(connack).expect("CONNACK");
            let publish = parse_publish(&read_packet(&mut stream).expect("PUBLISH"), version);
            let packet_id = publish.packet_id.unwrap_or(0);
            let _ = tx.send(publish);
            for id in acks(packet_id) {
                thread::sleep(ACK_DELAY);
                events.lock().unwrap().push(Event::PubAckSent(id));
                // PUBACK (MQTT 3.1.1 §3.4; in MQTT 5 §3.4.2.1 a remaining length of 2
                // means reason 0, success).
                let [high, low] = id.to_be_bytes();
                if stream.write_all(&[0x40, 0x02, high, low]).is_err() {
                    return;
                }
            }
            // Whatever follows (DISCONNECT), until the client closes.
            while read_packet(&mut stream).is_ok() {}
        });
        Self {
            port,
            published,
            thread: Some(thread),
        }
    }

    /// The PUBLISH the peer read (after the client is done).
    fn publish(mut self) -> Publish {
        let publish = self
            .published
            .recv_timeout(PATIENCE)
            .expect("the peer read a PUBLISH");
        if let Some(thread) = self.thread.take() {
            thread.join().expect("peer thread");
        }
        publish
    }
}

/// Connects an [`Mqtt311`] to `port`, publishes `message` (recording when `publish()`
/// returned), disconnects; returns what `publish()` returned.
fn publish_over_mqtt311(
    port: u16,
    message: Message<'_>,
    timeout_ms: u32,
    events: &Events,
) -> Result<(), MqttError> {
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("qos-wire-311").with_timeout_ms(timeout_ms);
    let broker = Broker::new("127.0.0.1", port);
    let mut mqtt = Mqtt311::new(&stack, broker, options, &mut tx, &mut rx);
    async_io::block_on(async {
        mqtt.connect().await.expect("connect");
        let result = mqtt.publish(&message).await;
        events.lock().unwrap().push(Event::PublishReturned);
        mqtt.disconnect().await;
        result
    })
}

/// Connects an [`Mqtt5`] to `port`, publishes `message` (recording when `publish()`
/// returned), disconnects; returns what `publish()` returned.
fn publish_over_mqtt5(
    port: u16,
    message: Message<'_>,
    timeout_ms: u32,
    events: &Events,
) -> Result<(), MqttError> {
    let options = MqttOptions::new("qos-wire-5").with_timeout_ms(timeout_ms);
    common::with_mqtt5(port, options, async |mqtt| {
        mqtt.connect().await.expect("connect");
        let result = mqtt.publish(&message).await;
        events.lock().unwrap().push(Event::PublishReturned);
        mqtt.disconnect().await;
        result
    })
}

/// Runs one exchange: the peer answers with `acks`, the client publishes `message` with
/// `timeout_ms`. Returns what `publish()` returned, the PUBLISH the peer read and the
/// events in order.
fn exchange(
    version: Version,
    message: Message<'_>,
    timeout_ms: u32,
    acks: fn(u16) -> Vec<u16>,
) -> (Result<(), MqttError>, Publish, Vec<Event>) {
    let events = Events::default();
    let peer = Peer::start(version, Arc::clone(&events), acks);
    let result = match version {
        Version::V311 => publish_over_mqtt311(peer.port, message, timeout_ms, &events),
        Version::V5 => publish_over_mqtt5(peer.port, message, timeout_ms, &events),
    };
    let publish = peer.publish();
    let events = events.lock().unwrap().clone();
    (result, publish, events)
}

/// A packet id other than `id` (and not 0).
fn other_than(id: u16) -> u16 {
    id.wrapping_add(1).max(1)
}

/// A PUBACK for another id first, then one for the PUBLISH's id.
fn wrong_then_right(id: u16) -> Vec<u16> {
    vec![other_than(id), id]
}

/// Only a PUBACK for another id.
fn only_wrong(id: u16) -> Vec<u16> {
    vec![other_than(id)]
}

fn no_ack(_: u16) -> Vec<u16> {
    Vec::new()
}

/// A QoS 1 PUBLISH (retained or not) carries header `0x32`/`0x33` and a non-zero packet id,
/// and `publish()` returns Ok only after the PUBACK with that id, after ignoring one for
/// another id.
fn qos1_waits_for_its_own_puback(version: Version, retain: bool) {
    let message = Message::new(TOPIC, PAYLOAD)
        .with_qos(QoS::AtLeastOnce)
        .with_retain(retain);
    let (result, publish, events) = exchange(version, message, PATIENT_MS, wrong_then_right);
    assert_eq!(result, Ok(()));
    let expected_header = if retain { 0x33 } else { 0x32 };
    assert_eq!(publish.header, expected_header, "{publish:02x?}");
    let id = publish.packet_id.expect("a packet id");
    assert_ne!(id, 0, "packet id 0 is not allowed at QoS 1");
    assert_eq!(
        (publish.topic.as_slice(), publish.payload.as_slice()),
        (TOPIC.as_bytes(), PAYLOAD)
    );
    assert_eq!(
        events,
        [
            Event::PubAckSent(other_than(id)),
            Event::PubAckSent(id),
            Event::PublishReturned
        ]
    );
}

/// A PUBACK for another packet id does not complete a QoS 1 publish: without its own,
/// `publish()` ends in a timeout.
fn qos1_ignores_a_puback_for_another_id(version: Version) {
    let message = Message::new(TOPIC, PAYLOAD).with_qos(QoS::AtLeastOnce);
    let (result, publish, events) = exchange(version, message, IMPATIENT_MS, only_wrong);
    assert_eq!(result, Err(MqttError::Timeout));
    let id = publish.packet_id.expect("a packet id");
    assert_eq!(
        events,
        [Event::PubAckSent(other_than(id)), Event::PublishReturned]
    );
}

/// A QoS 0 PUBLISH carries header `0x30` and no packet id, and returns without a PUBACK.
fn qos0_has_no_packet_id_and_waits_for_nothing(version: Version) {
    let message = Message::new(TOPIC, PAYLOAD);
    let (result, publish, events) = exchange(version, message, PATIENT_MS, no_ack);
    assert_eq!(result, Ok(()));
    assert_eq!(
        publish,
        Publish {
            header: 0x30,
            topic: TOPIC.as_bytes().to_vec(),
            packet_id: None,
            payload: PAYLOAD.to_vec(),
        }
    );
    assert_eq!(events, [Event::PublishReturned]);
}

#[test]
fn mqtt311_qos1_publish_is_0x32_with_a_packet_id_and_waits_for_its_puback() {
    qos1_waits_for_its_own_puback(Version::V311, false);
}

#[test]
fn mqtt311_retained_qos1_publish_is_0x33() {
    qos1_waits_for_its_own_puback(Version::V311, true);
}

#[test]
fn mqtt311_qos1_publish_ignores_a_puback_for_another_id() {
    qos1_ignores_a_puback_for_another_id(Version::V311);
}

#[test]
fn mqtt311_qos0_publish_is_0x30_without_a_packet_id() {
    qos0_has_no_packet_id_and_waits_for_nothing(Version::V311);
}

#[test]
fn mqtt5_qos1_publish_is_0x32_with_a_packet_id_and_waits_for_its_puback() {
    qos1_waits_for_its_own_puback(Version::V5, false);
}

#[test]
fn mqtt5_retained_qos1_publish_is_0x33() {
    qos1_waits_for_its_own_puback(Version::V5, true);
}

#[test]
fn mqtt5_qos1_publish_ignores_a_puback_for_another_id() {
    qos1_ignores_a_puback_for_another_id(Version::V5);
}

#[test]
fn mqtt5_qos0_publish_is_0x30_without_a_packet_id() {
    qos0_has_no_packet_id_and_waits_for_nothing(Version::V5);
}
