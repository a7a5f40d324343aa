//! Connecting to a port nothing listens on is a typed connect error, and publishing before a
//! successful connect is refused, for both protocol versions.

mod common;

use embedded_io_async::ErrorKind;
use sensorpub::{Broker, ConnectError, Mqtt311, MqttError, MqttOptions};
use sensorpub::{Message, Transport};
use std_embedded_nal_async::Stack;

const REFUSED: MqttError = MqttError::Connect(ConnectError::Tcp(ErrorKind::ConnectionRefused));

#[test]
fn mqtt311_to_a_closed_port_is_connection_refused() {
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let broker = Broker::new("127.0.0.1", common::free_port());
    let mut mqtt = Mqtt311::new(&stack, broker, MqttOptions::new("nobody"), &mut tx, &mut rx);
    async_io::block_on(async {
        assert_eq!(mqtt.connect().await, Err(REFUSED));
        assert!(!mqtt.is_connected());
        let message = Message::new("sensorpub/x", b"1");
        assert_eq!(mqtt.publish(&message).await, Err(MqttError::NotConnected));
        // Safe to call again after a failure.
        assert_eq!(mqtt.connect().await, Err(REFUSED));
    });
}

#[test]
fn mqtt5_to_a_closed_port_is_connection_refused() {
    let options = MqttOptions::new("nobody");
    common::with_mqtt5(common::free_port(), options, async |mqtt| {
        assert_eq!(mqtt.connect().await, Err(REFUSED));
        assert!(!mqtt.is_connected());
        let message = Message::new("sensorpub/x", b"1");
        assert_eq!(mqtt.publish(&message).await, Err(MqttError::NotConnected));
        assert_eq!(mqtt.poll().await, Err(MqttError::NotConnected));
        assert_eq!(mqtt.connect().await, Err(REFUSED));
    });
}
