//! MQTT 3.1.1 inbound packets off the wire, from a raw TCP listener that replays bytes
//! written from the spec (§3.3 PUBLISH, §3.4 PUBACK, §3.8 SUBSCRIBE, §3.9 SUBACK): the
//! SUBSCRIBE the client sends, the PUBACK it owes a QoS 1 message, a PUBLISH longer than the
//! receive buffer skipped with the connection kept, and every malformed PUBLISH or SUBACK
//! a protocol error that closes the connection (never a panic).

mod common;

use common::{PATIENCE, RawListener, split_packets};
use sensorpub::{Broker, Inbox, Mqtt311, MqttError, MqttOptions, QoS, Subscription, Transport};
use std::time::Instant;
use std_embedded_nal_async::Stack;

/// CONNACK, accepted.
const CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
/// SUBACK for packet id 1, granted QoS 1.
const SUBACK_1: [u8; 5] = [0x90, 0x03, 0x00, 0x01, 0x01];

const SUBSCRIPTIONS: [Subscription<'static>; 1] = [Subscription::new("a/+", QoS::AtLeastOnce)];

fn concat(parts: &[&[u8]]) -> &'static [u8] {
    parts.concat().leak()
}

/// The connect result, the last poll result and the packets the client sent.
type Exchange = (Result<(), MqttError>, Result<(), MqttError>, Vec<Vec<u8>>);

/// Connects to a listener that answers CONNECT with `reply`, then polls until `done` or an
/// error; returns the connect result, the last poll result and the bytes the client sent.
fn exchange<const N: usize>(
    reply: &'static [u8],
    inbox: &Inbox<N>,
    rx_len: usize,
    done: impl Fn(&Inbox<N>) -> bool,
) -> Exchange {
    let listener = RawListener::start(reply);
    let stack = Stack::default();
    let mut tx = [0u8; 256];
    let mut rx = vec![0u8; rx_len];
    let options = MqttOptions::new("wire").with_subscriptions(&SUBSCRIPTIONS);
    let broker = Broker::new("127.0.0.1", listener.port());
    let mut mqtt = Mqtt311::new(&stack, broker, options, &mut tx, &mut rx).with_inbox(inbox);
    let (connected, polled) = async_io::block_on(async {
        let connected = mqtt.connect().await;
        let mut polled = Ok(());
        if connected.is_ok() {
            let deadline = Instant::now() + PATIENCE;
            while !done(inbox) && Instant::now() < deadline {
                polled = mqtt.poll().await;
                if polled.is_err() {
                    break;
                }
                embassy_time::Timer::after_millis(2).await;
            }
        }
        let was_connected = mqtt.is_connected();
        mqtt.disconnect().await;
        if connected.is_ok() && polled.is_ok() {
            assert!(was_connected, "a poll that was Ok left the connection open");
        }
        if polled.is_err() {
            assert!(!was_connected, "a protocol error closes the connection");
        }
        (connected, polled)
    });
    (connected, polled, split_packets(&listener.received()))
}

#[test]
fn subscribe_is_sent_and_a_qos1_publish_is_delivered_and_acknowledged() {
    // PUBLISH QoS 1, retain, topic "a/b", packet id 7, payload "hi".
    let publish: &[u8] = &[
        0x33, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, b'h', b'i',
    ];
    let inbox = Inbox::<64>::new();
    let (connected, polled, sent) = exchange(
        concat(&[&CONNACK, &SUBACK_1, publish]),
        &inbox,
        64,
        |inbox| !inbox.is_empty(),
    );
    assert_eq!(connected, Ok(()));
    assert_eq!(polled, Ok(()));
    // SUBSCRIBE, packet id 1, filter "a/+", requested QoS 1 (§3.8.1: flags 0010).
    assert_eq!(
        sent[1],
        [0x82, 0x08, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'+', 0x01]
    );
    assert_eq!(sent[2], [0x40, 0x02, 0x00, 0x07], "PUBACK for packet id 7");
    assert_eq!(sent[3], [0xe0, 0x00], "then DISCONNECT");
    let got = inbox.take(|m| (m.topic.to_owned(), m.payload.to_vec(), m.qos, m.retain));
    assert_eq!(
        got,
        Some(("a/b".into(), b"hi".to_vec(), QoS::AtLeastOnce, true))
    );
}

#[test]
fn a_publish_longer_than_rx_is_skipped_acknowledged_and_the_next_one_arrives() {
    // PUBLISH QoS 1, topic "a/b", packet id 9, 300 bytes of payload: remaining length 307.
    let mut big = vec![0x32, 0xb3, 0x02, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x09];
    big.extend([b'z'; 300]);
    let small: &[u8] = &[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'c', b'o', b'k'];
    let inbox = Inbox::<64>::new();
    let (connected, polled, sent) = exchange(
        concat(&[&CONNACK, &SUBACK_1, &big, small]),
        &inbox,
        32,
        |inbox| !inbox.is_empty(),
    );
    assert_eq!((connected, polled), (Ok(()), Ok(())));
    assert!(sent.contains(&vec![0x40, 0x02, 0x00, 0x09]), "{sent:02x?}");
    assert_eq!(inbox.stats().too_large, 1);
    assert_eq!(inbox.stats().last_too_large, Some((3, 300)));
    assert_eq!(inbox.take(|m| m.payload.to_vec()), Some(b"ok".to_vec()));
}

/// A malformed PUBLISH after the SUBACK: `poll` reports a protocol error, closes the
/// connection and delivers nothing.
fn malformed_publish(publish: &'static [u8]) {
    let inbox = Inbox::<64>::new();
    let (connected, polled, _) = exchange(
        concat(&[&CONNACK, &SUBACK_1, publish]),
        &inbox,
        64,
        |inbox| !inbox.is_empty(),
    );
    assert_eq!(connected, Ok(()), "{publish:02x?}");
    assert_eq!(polled, Err(MqttError::Protocol), "{publish:02x?}");
    assert!(inbox.is_empty());
}

#[test]
fn malformed_publishes_are_protocol_errors() {
    for publish in [
        // QoS 3 (§3.3.1.2: malformed).
        &[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01][..],
        // QoS 2: never granted, we subscribe at QoS 1 at most.
        &[0x34, 0x05, 0x00, 0x01, b'a', 0x00, 0x01],
        // Topic length past the end of the packet.
        &[0x30, 0x03, 0x00, 0x05, b'a'],
        // Remaining length too short for a topic length.
        &[0x30, 0x01, 0x00],
        &[0x30, 0x00],
        // Empty topic (§4.7.3).
        &[0x30, 0x03, 0x00, 0x00, b'x'],
        // A wildcard in a topic name (§3.3.2.1).
        &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#'],
        // Topic that is not UTF-8 (§1.5.3).
        &[0x30, 0x04, 0x00, 0x02, 0xff, 0xfe],
        // Topic with U+0000.
        &[0x30, 0x04, 0x00, 0x02, b'a', 0x00],
        // QoS 1 with packet id 0 (§2.3.1).
        &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00],
        // QoS 1 without a packet id.
        &[0x32, 0x03, 0x00, 0x01, b'a'],
    ] {
        malformed_publish(publish);
    }
    // Longer than rx (16,383 bytes), with a topic longer than rx too: it cannot be skipped.
    let mut long_topic = vec![0x30, 0xff, 0x7f, 0x00, 0xc8];
    long_topic.extend([b'a'; 80]);
    malformed_publish(long_topic.leak());
}

#[test]
fn a_refused_subscription_fails_connect_and_malformed_subacks_are_protocol_errors() {
    let inbox = Inbox::<64>::new();
    let cases: [(&[u8], MqttError); 5] = [
        (
            &[0x90, 0x03, 0x00, 0x01, 0x80],
            MqttError::SubscribeRejected(0x80),
        ),
        // Return code 3..0x7f, 0x81..: reserved (§3.9.3).
        (&[0x90, 0x03, 0x00, 0x01, 0x03], MqttError::Protocol),
        // No return code.
        (&[0x90, 0x02, 0x00, 0x01], MqttError::Protocol),
        // Two return codes for one filter.
        (&[0x90, 0x04, 0x00, 0x01, 0x00, 0x00], MqttError::Protocol),
        // Reserved header flags set (§2.2.2: SUBACK flags are 0000).
        (&[0x92, 0x03, 0x00, 0x01, 0x00], MqttError::Protocol),
    ];
    for (suback, error) in cases {
        let (connected, _, _) = exchange(concat(&[&CONNACK, suback]), &inbox, 64, |_| true);
        assert_eq!(connected, Err(error), "{suback:02x?}");
    }
}
