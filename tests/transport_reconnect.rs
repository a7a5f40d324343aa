//! When the broker goes away the transport reports a typed error and `is_connected()` turns
//! false; once the broker listens again, `connect()` works again on the same transport and
//! messages flow (the contract the publisher's reconnect builds on). Also shows the
//! `TestBroker::stop`/`restart` helpers the reconnect tests use.

mod common;

use common::{TestBroker, Version};
use sensorpub::{Broker, Mqtt311, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/reconnect/value";

/// Publishes until the broker's absence shows (the first write after a close may still be
/// accepted by the OS), then reconnects after the restart.
async fn survive_restart<T: Transport>(transport: &mut T, broker: &mut TestBroker)
where
    T::Error: core::fmt::Debug,
{
    let message = |payload: &'static [u8]| Message::new(TOPIC, payload).with_qos(QoS::AtLeastOnce);
    transport.connect().await.expect("connect");
    transport
        .publish(&message(b"before"))
        .await
        .expect("publish before the stop");
    broker.stop();
    let error = transport.publish(&message(b"lost")).await;
    assert!(error.is_err(), "QoS 1 cannot succeed without a broker");
    assert!(!transport.is_connected());
    assert!(
        transport.connect().await.is_err(),
        "nothing listens while stopped"
    );
    broker.restart();
    transport
        .connect()
        .await
        .expect("connect after the restart");
    assert!(transport.is_connected());
    transport
        .publish(&message(b"after"))
        .await
        .expect("publish after the restart");
}

#[test]
fn mqtt311_reconnects_after_the_broker_comes_back() {
    let mut broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let address = Broker::new("127.0.0.1", broker.port(Version::V311));
    let mut mqtt = Mqtt311::new(
        &stack,
        address,
        MqttOptions::new("reconnect-311"),
        &mut tx,
        &mut rx,
    );
    async_io::block_on(survive_restart(&mut mqtt, &mut broker));
    assert_eq!(
        subscriber.payloads(2),
        [b"before".to_vec(), b"after".to_vec()]
    );
}

#[test]
fn mqtt5_reconnects_after_the_broker_comes_back() {
    let mut broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let options = MqttOptions::new("reconnect-5");
    let port = broker.port(Version::V5);
    common::with_mqtt5(port, options, async |mqtt| {
        survive_restart(mqtt, &mut broker).await
    });
    assert_eq!(
        subscriber.payloads(2),
        [b"before".to_vec(), b"after".to_vec()]
    );
}
