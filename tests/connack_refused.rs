//! A CONNACK that refuses the connection becomes a typed error and leaves the transport
//! disconnected, for both protocol versions. The refusing peer is a loopback listener that
//! answers with the CONNACK bytes of the specification (rumqttd closes the connection
//! without a CONNACK instead of refusing, so it cannot show this; .ci/run also checks the
//! host example against a mosquitto that refuses anonymous clients).

mod common;

use common::RawListener;
use sensorpub::Transport;
use sensorpub::{Broker, Mqtt311, MqttError, MqttOptions, Refusal};
use std_embedded_nal_async::Stack;

fn mqtt311_refusal(connack: &'static [u8]) -> Result<(), MqttError> {
    let listener = RawListener::start(connack);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let broker = Broker::new("127.0.0.1", listener.port());
    let mut mqtt = Mqtt311::new(
        &stack,
        broker,
        MqttOptions::new("refused"),
        &mut tx,
        &mut rx,
    );
    let result = async_io::block_on(mqtt.connect());
    assert!(!mqtt.is_connected());
    result
}

#[test]
fn mqtt311_connack_code_5_is_not_authorized() {
    // CONNACK, session present 0, return code 5 (MQTT 3.1.1 §3.2.2.3).
    let refused = mqtt311_refusal(&[0x20, 0x02, 0x00, 0x05]);
    assert_eq!(refused, Err(MqttError::Refused(Refusal::NotAuthorized)));
}

#[test]
fn mqtt311_connack_codes_1_to_4_map_to_their_refusals() {
    let cases: [(&'static [u8], Refusal); 4] = [
        (&[0x20, 0x02, 0x00, 0x01], Refusal::ProtocolVersion),
        (&[0x20, 0x02, 0x00, 0x02], Refusal::IdentifierRejected),
        (&[0x20, 0x02, 0x00, 0x03], Refusal::ServerUnavailable),
        (&[0x20, 0x02, 0x00, 0x04], Refusal::BadUsernameOrPassword),
    ];
    for (connack, refusal) in cases {
        assert_eq!(mqtt311_refusal(connack), Err(MqttError::Refused(refusal)));
    }
}

#[test]
fn mqtt311_malformed_connack_is_a_protocol_error() {
    // A CONNACK whose remaining length is 1 instead of 2.
    assert_eq!(
        mqtt311_refusal(&[0x20, 0x01, 0x00]),
        Err(MqttError::Protocol)
    );
}

#[test]
fn mqtt5_connack_reason_0x87_is_refused_with_that_code() {
    // CONNACK, flags 0, reason code 0x87 not authorized, no properties (MQTT 5 §3.2).
    let listener = RawListener::start(&[0x20, 0x03, 0x00, 0x87, 0x00]);
    let options = MqttOptions::new("refused");
    let (result, connected) = common::with_mqtt5(listener.port(), options, async |mqtt| {
        (mqtt.connect().await, mqtt.is_connected())
    });
    assert_eq!(result, Err(MqttError::Refused(Refusal::Reason(0x87))));
    assert!(!connected);
}

#[test]
fn mqtt5_refusals_say_what_the_code_means() {
    assert_eq!(
        Refusal::Reason(0x87).to_string(),
        "not authorized (MQTT 5 reason code 0x87)"
    );
    assert_eq!(
        Refusal::Reason(0x86).to_string(),
        "bad user name or password (MQTT 5 reason code 0x86)"
    );
    // A code the crate does not know still names itself.
    assert_eq!(Refusal::Reason(0xA2).to_string(), "MQTT 5 reason code 0xa2");
}
