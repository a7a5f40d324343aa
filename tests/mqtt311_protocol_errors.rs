//! MQTT 3.1.1 against brokers that misbehave on the wire: every protocol error closes the
//! connection so the next `connect` opens a new one; a CONNACK with reserved bits set is a
//! protocol error; a QoS 0 publish on a connection the broker already closed is not `Ok`;
//! topics that are not valid topic names never reach the wire.
//!
//! The broker is a loopback listener in this file that plays a script per connection with
//! the bytes of the specification (MQTT 3.1.1 §3.2 CONNACK, §3.4 PUBACK).

use sensorpub::{Broker, Mqtt311, MqttError, MqttOptions};
use sensorpub::{Message, QoS, TopicError, Transport};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;
use std_embedded_nal_async::Stack;

/// A bound against hanging, not a timed assertion.
const PATIENCE: Duration = Duration::from_secs(20);

/// CONNACK, session present 0, accepted (§3.2).
const CONNACK: &[u8] = &[0x20, 0x02, 0x00, 0x00];

/// What the scripted broker does on one connection once CONNECT arrived.
#[derive(Clone, Copy)]
enum Script {
    /// Sends these bytes (in one write), then behaves as a broker: PUBACK for every QoS 1
    /// PUBLISH, until the client closes.
    Reply(&'static [u8]),
    /// Sends these bytes, then closes the connection and reports that it did.
    ReplyAndClose(&'static [u8]),
}

/// What the scripted broker saw.
#[derive(Debug)]
enum Event {
    /// Connection `n` (from 0) sent these packets before it ended.
    Packets(usize, Vec<Vec<u8>>),
    /// Connection `n` was closed by the broker (after [`Script::ReplyAndClose`]).
    ClosedByBroker(usize),
}

struct ScriptedBroker {
    port: u16,
    events: mpsc::Receiver<Event>,
}

impl ScriptedBroker {
    /// Listens on a free port; connection `n` follows `scripts[n]`.
    fn start(scripts: &'static [Script]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, events) = mpsc::channel();
        thread::spawn(move || {
            for (n, script) in scripts.iter().enumerate() {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let tx = tx.clone();
                let script = *script;
                thread::spawn(move || serve(n, stream, script, &tx));
            }
        });
        Self { port, events }
    }

    fn broker(&self) -> Broker<'static> {
        Broker::new("127.0.0.1", self.port)
    }

    /// The next event; panics if none comes within [`PATIENCE`].
    fn next_event(&self) -> Event {
        self.events
            .recv_timeout(PATIENCE)
            .expect("an event from the scripted broker")
    }

    /// Waits until the broker has closed connection `n`.
    fn wait_closed(&self, n: usize) {
        match self.next_event() {
            Event::ClosedByBroker(m) if m == n => {}
            other => panic!("expected connection {n} closed by the broker, got {other:?}"),
        }
    }

    /// The packets connection `n` carried, once the client ended it.
    fn packets_of(&self, n: usize) -> Vec<Vec<u8>> {
        match self.next_event() {
            Event::Packets(m, packets) if m == n => packets,
            other => panic!("expected the packets of connection {n}, got {other:?}"),
        }
    }
}

fn serve(n: usize, mut stream: TcpStream, script: Script, events: &mpsc::Sender<Event>) {
    let mut received = Vec::new();
    let mut packets = Vec::new();
    let mut buf = [0u8; 4096];
    let mut replied = false;
    while let Ok(read) = stream.read(&mut buf) {
        if read == 0 {
            break;
        }
        received.extend_from_slice(&buf[..read]);
        while let Some(len) = whole_packet(&received) {
            let packet: Vec<u8> = received.drain(..len).collect();
            if !replied {
                replied = true;
                match script {
                    Script::Reply(bytes) => {
                        if stream.write_all(bytes).is_err() {
                            break;
                        }
                    }
                    Script::ReplyAndClose(bytes) => {
                        let _ = stream.write_all(bytes);
                        let _ = stream.shutdown(Shutdown::Both);
                        drop(stream);
                        packets.push(packet);
                        let _ = events.send(Event::Packets(n, packets));
                        let _ = events.send(Event::ClosedByBroker(n));
                        return;
                    }
                }
            } else if packet[0] & 0xf6 == 0x32 {
                // PUBLISH at QoS 1: PUBACK with its packet id, which follows the topic.
                let header = 1 + length_bytes(&packet);
                let topic_len =
                    usize::from(u16::from_be_bytes([packet[header], packet[header + 1]]));
                let pid = &packet[header + 2 + topic_len..header + 4 + topic_len];
                if stream.write_all(&[0x40, 0x02, pid[0], pid[1]]).is_err() {
                    break;
                }
            }
            packets.push(packet);
        }
    }
    let _ = events.send(Event::Packets(n, packets));
}

/// How many bytes the remaining length of `packet` takes (§2.2.3).
fn length_bytes(packet: &[u8]) -> usize {
    packet[1..].iter().take_while(|b| *b & 0x80 != 0).count() + 1
}

/// The length of the whole packet at the start of `bytes`, once it is all there.
fn whole_packet(bytes: &[u8]) -> Option<usize> {
    let mut remaining = 0usize;
    for i in 0..4 {
        let byte = *bytes.get(1 + i)?;
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let total = 2 + i + remaining;
            return (bytes.len() >= total).then_some(total);
        }
    }
    None
}

/// The type nibble of each packet (§2.2.1: 1 CONNECT, 3 PUBLISH, 14 DISCONNECT).
fn kinds(packets: &[Vec<u8>]) -> Vec<u8> {
    packets.iter().map(|p| p[0] >> 4).collect()
}

fn transport<'a>(
    stack: &'a Stack,
    broker: &ScriptedBroker,
    tx: &'a mut [u8],
    rx: &'a mut [u8],
) -> Mqtt311<'a, Stack> {
    Mqtt311::new(stack, broker.broker(), MqttOptions::new("hostile"), tx, rx)
}

/// CONNACK followed by bytes that do not frame: a remaining length with a fifth
/// continuation byte (§2.2.3 allows four).
const CONNACK_THEN_GARBAGE: &[u8] = &[0x20, 0x02, 0x00, 0x00, 0xd0, 0xff, 0xff, 0xff, 0xff, 0x01];

#[test]
fn garbage_after_connack_closes_the_connection_and_connect_opens_a_new_one() {
    static SCRIPTS: [Script; 2] = [Script::Reply(CONNACK_THEN_GARBAGE), Script::Reply(CONNACK)];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);
    let message = Message::new("hostile/value", b"1").with_qos(QoS::AtLeastOnce);

    async_io::block_on(mqtt.connect()).expect("first connect");
    assert_eq!(
        async_io::block_on(mqtt.publish(&message)),
        Err(MqttError::Protocol)
    );
    assert!(
        !mqtt.is_connected(),
        "a framing error must end the connection"
    );

    // The next connect opens connection 1, where the same message is acknowledged.
    async_io::block_on(mqtt.connect()).expect("second connect");
    async_io::block_on(mqtt.publish(&message)).expect("published on the new connection");
    async_io::block_on(mqtt.disconnect());

    assert!(kinds(&broker.packets_of(0)).starts_with(&[1]));
    assert_eq!(kinds(&broker.packets_of(1)), [1, 3, 14]);
}

#[test]
fn garbage_after_connack_seen_by_poll_closes_the_connection() {
    static SCRIPTS: [Script; 2] = [Script::Reply(CONNACK_THEN_GARBAGE), Script::Reply(CONNACK)];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);

    async_io::block_on(mqtt.connect()).expect("first connect");
    // The garbage came with the CONNACK, in one write: it is already in the receive buffer.
    assert_eq!(async_io::block_on(mqtt.poll()), Err(MqttError::Protocol));
    assert!(!mqtt.is_connected());
    async_io::block_on(mqtt.connect()).expect("second connect");
    assert!(mqtt.is_connected());
    async_io::block_on(mqtt.disconnect());
    assert_eq!(kinds(&broker.packets_of(0)), [1]);
    assert_eq!(kinds(&broker.packets_of(1)), [1, 14]);
}

#[test]
fn qos0_publish_after_garbage_is_not_ok_and_is_not_written() {
    static SCRIPTS: [Script; 1] = [Script::Reply(CONNACK_THEN_GARBAGE)];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);

    async_io::block_on(mqtt.connect()).expect("connect");
    let message = Message::new("hostile/value", b"1");
    assert_eq!(
        async_io::block_on(mqtt.publish(&message)),
        Err(MqttError::Protocol)
    );
    assert!(!mqtt.is_connected());
    // Only CONNECT reached the broker: the PUBLISH was never written.
    assert_eq!(kinds(&broker.packets_of(0)), [1]);
}

#[test]
fn connack_with_reserved_flag_bits_set_is_a_protocol_error() {
    // Connect Acknowledge Flags 0xfe: bits 7–1 are reserved and must be 0 (§3.2.2.1).
    static SCRIPTS: [Script; 1] = [Script::Reply(&[0x20, 0x02, 0xfe, 0x00])];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);

    assert_eq!(async_io::block_on(mqtt.connect()), Err(MqttError::Protocol));
    assert!(!mqtt.is_connected());
    // The transport closed the connection: the broker sees it end after CONNECT.
    assert_eq!(kinds(&broker.packets_of(0)), [1]);
}

#[test]
fn connack_with_header_flags_set_is_a_protocol_error() {
    // The CONNACK fixed header's flags (bits 3–0) are reserved, 0 (§2.2.2, table 2.2).
    static SCRIPTS: [Script; 1] = [Script::Reply(&[0x21, 0x02, 0x00, 0x00])];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);
    assert_eq!(async_io::block_on(mqtt.connect()), Err(MqttError::Protocol));
    assert!(!mqtt.is_connected());
}

#[test]
fn qos0_publish_on_a_connection_the_broker_closed_is_not_ok() {
    static SCRIPTS: [Script; 2] = [Script::ReplyAndClose(CONNACK), Script::Reply(CONNACK)];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);

    async_io::block_on(mqtt.connect()).expect("connect");
    assert_eq!(kinds(&broker.packets_of(0)), [1]);
    broker.wait_closed(0);
    // The broker's FIN is in this socket now; the publish must notice it, not report Ok.
    let message = Message::new("hostile/value", b"1");
    assert_eq!(
        async_io::block_on(mqtt.publish(&message)),
        Err(MqttError::Closed)
    );
    assert!(!mqtt.is_connected());

    // Reconnecting opens connection 1, where the message goes out.
    async_io::block_on(mqtt.connect()).expect("reconnect");
    async_io::block_on(mqtt.publish(&message)).expect("published");
    async_io::block_on(mqtt.disconnect());
    let packets = broker.packets_of(1);
    assert_eq!(kinds(&packets), [1, 3, 14]);
    assert!(packets[1].ends_with(b"hostile/value1"));
}

#[test]
fn invalid_topics_are_refused_before_anything_is_written() {
    static SCRIPTS: [Script; 1] = [Script::Reply(CONNACK)];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 80_000], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);
    async_io::block_on(mqtt.connect()).expect("connect");

    let long = "t".repeat(70_000);
    let cases = [
        ("", TopicError::Empty),
        ("a/#", TopicError::Wildcard { at: 2 }),
        ("a/+/b", TopicError::Wildcard { at: 2 }),
        ("#", TopicError::Wildcard { at: 0 }),
        ("a\0b", TopicError::Nul { at: 1 }),
        (long.as_str(), TopicError::TooLong { len: 70_000 }),
    ];
    for (topic, error) in cases {
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
            let message = Message::new(topic, b"1").with_qos(qos);
            assert_eq!(
                async_io::block_on(mqtt.publish(&message)),
                Err(MqttError::InvalidTopic(error))
            );
            // Nothing was sent, so the connection is fine.
            assert!(mqtt.is_connected());
        }
    }
    async_io::block_on(mqtt.publish(&Message::new("a/b", b"ok"))).expect("a valid topic");
    async_io::block_on(mqtt.disconnect());
    // CONNECT, the one valid PUBLISH, DISCONNECT: no invalid topic reached the wire.
    assert_eq!(kinds(&broker.packets_of(0)), [1, 3, 14]);
}

#[test]
fn a_will_or_birth_with_an_invalid_topic_is_refused_before_connecting() {
    // Nothing listens here: the error must come before any connection attempt.
    let stack = Stack::default();
    let broker = Broker::new("127.0.0.1", 9);
    let will = MqttOptions::new("hostile").with_will(Message::new("dev/+/status", b"offline"));
    let birth = MqttOptions::new("hostile").with_birth(Message::new("dev/#", b"online"));
    for options in [will, birth] {
        let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
        let mut mqtt = Mqtt311::new(&stack, broker, options, &mut tx, &mut rx);
        assert_eq!(
            async_io::block_on(mqtt.connect()),
            Err(MqttError::InvalidTopic(TopicError::Wildcard { at: 4 }))
        );
        assert!(!mqtt.is_connected());
    }
}

/// Found by the `mqtt311_session` fuzz target: a 4-byte CONNACK whose Remaining Length 1 is
/// written in two bytes (`81 00`, a non-minimal encoding) made mqttrs index past the frame
/// and panic. A CONNACK's Remaining Length must be the one byte `02` (§3.2.1).
#[test]
fn connack_with_a_stretched_remaining_length_is_a_protocol_error_not_a_panic() {
    static SCRIPTS: [Script; 1] = [Script::Reply(&[0x20, 0x81, 0x00, 0x00])];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);
    assert_eq!(async_io::block_on(mqtt.connect()), Err(MqttError::Protocol));
    assert!(!mqtt.is_connected());
}

/// The same for a PUBACK (`40 81 00 01`, §3.4.1): a protocol error that closes the
/// connection, not a panic.
#[test]
fn puback_with_a_stretched_remaining_length_is_a_protocol_error_not_a_panic() {
    static SCRIPTS: [Script; 1] = [Script::Reply(&[
        0x20, 0x02, 0x00, 0x00, 0x40, 0x81, 0x00, 0x01,
    ])];
    let broker = ScriptedBroker::start(&SCRIPTS);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let mut mqtt = transport(&stack, &broker, &mut tx, &mut rx);
    assert_eq!(async_io::block_on(mqtt.connect()), Ok(()));
    let message = Message::new("sensorpub/hostile", b"1").with_qos(QoS::AtLeastOnce);
    let mut result = Ok(());
    // The bad PUBACK may arrive after the first publish looked: the second one sees it.
    for _ in 0..2 {
        result = async_io::block_on(mqtt.publish(&message));
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(MqttError::Protocol));
    assert!(!mqtt.is_connected());
}
