//! The ThingSpeak MQTT profile on the wire: the CONNECT and PUBLISH bytes that arrive on a
//! loopback listener are what ThingSpeak's MQTT API requires (MQTT 3.1.1, CleanSession 1, no
//! Will, user name and password, QoS 0 on `channels/<id>/publish`).

mod common;

use common::{RawListener, split_packets};
use sensorpub::{Broker, ThingSpeak};
use sensorpub::{MockSensor, Publisher, Quantity, Reading, Sample, SimulatedClock};
use std_embedded_nal_async::Stack;

const CHANNEL: u32 = 1_234_567;
const CLIENT_ID: &str = "MjAxNTEwMDkxNTIwMzQ";
const USERNAME: &str = "MjAxNTEwMDkxNTIwMzQ";
const PASSWORD: &str = "pa55w0rd-from-the-device-page";
/// CONNACK, session present 0, return code 0 (MQTT 3.1.1 §3.2).
const CONNACK_ACCEPTED: &[u8] = &[0x20, 0x02, 0x00, 0x00];

/// Reads an MQTT UTF-8 string (2-byte big-endian length, then the bytes) at `at`.
fn string_at(bytes: &[u8], at: &mut usize) -> Vec<u8> {
    let len = usize::from(u16::from_be_bytes([bytes[*at], bytes[*at + 1]]));
    let s = bytes[*at + 2..*at + 2 + len].to_vec();
    *at += 2 + len;
    s
}

fn samples() -> Vec<Result<Sample<2>, sensorpub::MockError>> {
    [21.5_f32, 22.25]
        .iter()
        .map(|&t| {
            Ok(Sample::from_readings(&[
                Reading::new(Quantity::Temperature, t),
                Reading::new(Quantity::Humidity, 40.0),
            ])
            .expect("sample"))
        })
        .collect()
}

#[test]
fn thingspeak_profile_sends_a_3_1_1_clean_session_connect_with_credentials_and_qos0_publishes() {
    let listener = RawListener::start(CONNACK_ACCEPTED);
    let thingspeak = ThingSpeak::new(CHANNEL, CLIENT_ID, USERNAME, PASSWORD)
        .with_broker(Broker::new("127.0.0.1", listener.port()));
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 512], [0u8; 64]);
    let mut transport = thingspeak.transport(&stack, &mut tx, &mut rx);
    let sink = thingspeak
        .sink(&[(1, Quantity::Temperature), (2, Quantity::Humidity)])
        .expect("sink");
    let script = samples();
    let mut buf = [0u8; 256];
    async_io::block_on(async {
        use sensorpub::Transport;
        transport.connect().await.expect("connect");
        Publisher::new(
            MockSensor::new(&script),
            sink,
            &mut transport,
            SimulatedClock::new(),
            &mut buf,
        )
        .with_qos(thingspeak.qos())
        .run_for(20_000, 2)
        .await
        .expect("publish");
        transport.disconnect().await;
    });

    let packets = split_packets(&listener.received());
    assert_eq!(
        packets.len(),
        4,
        "CONNECT, 2 PUBLISH, DISCONNECT: {packets:02x?}"
    );

    let connect = &packets[0];
    assert_eq!(connect[0], 0x10, "CONNECT packet type");
    let mut at = 2;
    assert_eq!(string_at(connect, &mut at), b"MQTT", "protocol name");
    assert_eq!(connect[at], 4, "protocol level 4 = MQTT 3.1.1");
    let flags = connect[at + 1];
    assert_eq!(flags & 0b0000_0010, 0b10, "CleanSession 1");
    assert_eq!(
        flags & 0b0011_1100,
        0,
        "no Will flag, Will QoS or Will Retain"
    );
    assert_eq!(
        flags & 0b1100_0000,
        0b1100_0000,
        "user name and password flags"
    );
    at += 4; // flags, keep-alive
    assert_eq!(string_at(connect, &mut at), CLIENT_ID.as_bytes());
    assert_eq!(string_at(connect, &mut at), USERNAME.as_bytes());
    assert_eq!(string_at(connect, &mut at), PASSWORD.as_bytes());
    assert_eq!(at, connect.len(), "nothing after the password");

    let topic = format!("channels/{CHANNEL}/publish");
    for (publish, expected) in packets[1..3]
        .iter()
        .zip(["field1=21.5&field2=40", "field1=22.25&field2=40"])
    {
        assert_eq!(publish[0], 0x30, "PUBLISH at QoS 0, not DUP, not retained");
        let mut at = 2;
        assert_eq!(string_at(publish, &mut at), topic.as_bytes());
        assert_eq!(
            &publish[at..],
            expected.as_bytes(),
            "QoS 0: no packet id, then the payload"
        );
    }
    assert_eq!(packets[3], [0xe0, 0x00], "DISCONNECT");
}

#[test]
fn thingspeak_profile_debug_output_shows_no_credentials() {
    let thingspeak = ThingSpeak::new(CHANNEL, CLIENT_ID, USERNAME, PASSWORD);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 64], [0u8; 8]);
    let shown = [
        format!("{thingspeak:?}"),
        format!("{thingspeak:#?}"),
        format!("{:?}", thingspeak.options()),
        format!("{:?}", thingspeak.transport(&stack, &mut tx, &mut rx)),
    ];
    for text in &shown {
        for secret in [CLIENT_ID, USERNAME, PASSWORD] {
            assert!(!text.contains(secret), "{secret} shown in {text}");
        }
    }
    assert!(
        shown[0].contains("1234567"),
        "the channel id is not secret: {}",
        shown[0]
    );
}
