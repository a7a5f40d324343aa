//! What the options put on the wire, for both protocol versions, read off a loopback
//! listener: the CONNECT flags for credentials, a retained QoS 1 will and a clean session,
//! and the birth message as the first PUBLISH, retained. A clean session on every
//! connection: MQTT 5 reconnects send Clean Start 1 and session expiry 0 again.

mod common;

use common::{RawListener, split_packets};
use sensorpub::{Broker, Credentials, Mqtt311, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std_embedded_nal_async::Stack;

/// User name, password, will retain, will QoS 1, will flag, clean session
/// (MQTT 3.1.1 §3.1.2.3, the same bits in MQTT 5 §3.1.2.3).
const EXPECTED_FLAGS: u8 = 0b1110_1110;
/// PUBLISH, QoS 0, retained.
const RETAINED_QOS0_PUBLISH: u8 = 0x31;

fn options() -> MqttOptions<'static> {
    MqttOptions::new("options-wire")
        .with_credentials(Credentials::new("user", b"pass"))
        .with_will(
            Message::new("dev/status", b"offline")
                .with_qos(QoS::AtLeastOnce)
                .with_retain(true),
        )
        .with_birth(Message::new("dev/status", b"online").with_retain(true))
}

/// The CONNECT flags byte (after the fixed header, "MQTT" and the level) and the first
/// PUBLISH's header byte and payload.
fn connect_flags_and_birth(packets: &[Vec<u8>]) -> (u8, u8, Vec<u8>) {
    let connect = &packets[0];
    assert_eq!(connect[0], 0x10, "CONNECT first");
    assert_eq!(&connect[2..8], b"\x00\x04MQTT");
    let birth = &packets[1];
    assert_eq!(birth[0] & 0xf0, 0x30, "then a PUBLISH");
    (connect[9], birth[0], birth[birth.len() - 6..].to_vec())
}

#[test]
fn mqtt311_sends_credentials_will_clean_session_and_a_retained_birth() {
    let listener = RawListener::start(&[0x20, 0x02, 0x00, 0x00]);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let broker = Broker::new("127.0.0.1", listener.port());
    let mut mqtt = Mqtt311::new(&stack, broker, options(), &mut tx, &mut rx);
    async_io::block_on(async {
        mqtt.connect().await.expect("connect");
        mqtt.disconnect().await;
    });
    let packets = split_packets(&listener.received());
    assert_eq!(packets[0][8], 4, "protocol level 4");
    let (flags, birth_header, birth_payload) = connect_flags_and_birth(&packets);
    assert_eq!(flags, EXPECTED_FLAGS);
    assert_eq!(birth_header, RETAINED_QOS0_PUBLISH);
    assert_eq!(birth_payload, b"online");
}

#[test]
fn mqtt5_sends_credentials_will_clean_start_and_a_retained_birth() {
    // CONNACK, flags 0, reason 0 success, no properties (MQTT 5 §3.2).
    let listener = RawListener::start(&[0x20, 0x03, 0x00, 0x00, 0x00]);
    common::with_mqtt5(listener.port(), options(), async |mqtt| {
        mqtt.connect().await.expect("connect");
        mqtt.disconnect().await;
    });
    let packets = split_packets(&listener.received());
    assert_eq!(packets[0][8], 5, "protocol level 5");
    let (flags, birth_header, birth_payload) = connect_flags_and_birth(&packets);
    assert_eq!(flags, EXPECTED_FLAGS);
    assert_eq!(birth_header, RETAINED_QOS0_PUBLISH);
    assert_eq!(birth_payload, b"online");
}

/// Clean Start (MQTT 5 §3.1.2.4), the bit CleanSession has in MQTT 3.1.1.
const CLEAN_START: u8 = 0b0000_0010;
/// The Session Expiry Interval property, 0: the session ends with the connection
/// (MQTT 5 §3.1.2.11.2).
const SESSION_EXPIRY_0: [u8; 5] = [0x11, 0, 0, 0, 0];

#[test]
fn mqtt5_every_connect_is_a_clean_start_with_session_expiry_0() {
    // CONNACK, session present 0, reason 0 success, no properties (MQTT 5 §3.2).
    let listener = RawListener::start_for(&[0x20, 0x03, 0x00, 0x00, 0x00], 3);
    common::with_mqtt5(
        listener.port(),
        MqttOptions::new("clean-start"),
        async |mqtt| {
            // minimq alone would ask the broker to resume the first session from the second on.
            mqtt.connect().await.expect("first connect");
            mqtt.disconnect().await;
            mqtt.connect().await.expect("second connect");
            mqtt.disconnect().await;
            mqtt.connect().await.expect("third connect");
            mqtt.disconnect().await;
        },
    );
    let packets = split_packets(&listener.received());
    let connects: Vec<&Vec<u8>> = packets.iter().filter(|p| p[0] == 0x10).collect();
    assert_eq!(connects.len(), 3, "{packets:02x?}");
    for connect in connects {
        assert_eq!(connect[8], 5, "protocol level 5");
        assert_eq!(connect[9] & CLEAN_START, CLEAN_START, "{connect:02x?}");
        // Properties: after the flags and the keep-alive, their length, then the list.
        let properties = &connect[13..13 + usize::from(connect[12])];
        assert!(
            properties.windows(5).any(|p| p == SESSION_EXPIRY_0),
            "{properties:02x?}"
        );
    }
}
