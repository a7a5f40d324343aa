//! The acknowledgement timeout (`MqttOptions::with_ack_timeout_ms`) bounds the wait for a
//! PUBACK on both transports, apart from the connect timeout: a broker (a loopback listener)
//! that accepts the connection but never acknowledges costs a QoS 1 publish the ack timeout,
//! then `MqttError::Timeout` and a closed connection. The connect timeout here is longer than
//! the test's patience, so a transport that waited for it instead would not finish in time.

mod common;

use common::{PATIENCE, RawListener};
use embassy_futures::select::{Either, select};
use sensorpub::{Broker, Mqtt311, MqttError, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std_embedded_nal_async::Stack;

/// Longer than [`PATIENCE`]: not what the PUBACK wait may use.
const CONNECT_TIMEOUT_MS: u32 = 60_000;
const ACK_TIMEOUT_MS: u32 = 200;

fn options(client_id: &str) -> MqttOptions<'_> {
    MqttOptions::new(client_id)
        .with_timeout_ms(CONNECT_TIMEOUT_MS)
        .with_ack_timeout_ms(ACK_TIMEOUT_MS)
}

/// Connects, then publishes at QoS 1 to a broker that never answers it; `None` if the
/// publish did not end within [`PATIENCE`].
async fn unacknowledged_publish<T: Transport<Error = MqttError>>(
    transport: &mut T,
) -> Option<Result<(), MqttError>> {
    transport.connect().await.expect("connect");
    let message = Message::new("sensorpub/ack/value", b"1").with_qos(QoS::AtLeastOnce);
    let publish = transport.publish(&message);
    match select(publish, async_io::Timer::after(PATIENCE)).await {
        Either::First(result) => Some(result),
        Either::Second(_) => None,
    }
}

#[test]
fn mqtt311_puback_wait_ends_after_the_ack_timeout() {
    // CONNACK accepted (MQTT 3.1.1 §3.2), then silence.
    let listener = RawListener::start(&[0x20, 0x02, 0x00, 0x00]);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let broker = Broker::new("127.0.0.1", listener.port());
    let mut mqtt = Mqtt311::new(&stack, broker, options("ack-311"), &mut tx, &mut rx);
    let result = async_io::block_on(unacknowledged_publish(&mut mqtt));
    assert_eq!(result, Some(Err(MqttError::Timeout)));
    assert!(!mqtt.is_connected());
}

#[test]
fn mqtt5_puback_wait_ends_after_the_ack_timeout() {
    // CONNACK, reason 0 success, no properties (MQTT 5 §3.2), then silence.
    let listener = RawListener::start(&[0x20, 0x03, 0x00, 0x00, 0x00]);
    let (result, connected) = common::with_mqtt5(listener.port(), options("ack-5"), async |mqtt| {
        (unacknowledged_publish(mqtt).await, mqtt.is_connected())
    });
    assert_eq!(result, Some(Err(MqttError::Timeout)));
    assert!(!connected);
}

#[test]
fn the_ack_timeout_defaults_to_the_timeout() {
    let options = MqttOptions::new("defaults").with_timeout_ms(1_234);
    assert_eq!(options.ack_timeout_ms(), 1_234);
    assert_eq!(options.with_ack_timeout_ms(200).ack_timeout_ms(), 200);
}
