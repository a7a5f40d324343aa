//! Both MQTT transports deliver exactly the published payloads, in order, at QoS 0 and 1,
//! to a subscriber of a real broker (rumqttd in this process, 127.0.0.1), each sent at the
//! QoS and with the retain flag asked for.

mod common;

use common::{Subscriber, TestBroker, Version};
use sensorpub::{Broker, Mqtt311, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/delivery/value";
const COUNT: usize = 20;

fn payloads() -> Vec<Vec<u8>> {
    (0..COUNT)
        .map(|i| format!("{}", i * 37 % 1000).into_bytes())
        .collect()
}

async fn publish_all<T: Transport>(transport: &mut T, qos: QoS, retain: bool)
where
    T::Error: core::fmt::Debug,
{
    transport.connect().await.expect("connect");
    assert!(transport.is_connected());
    for payload in payloads() {
        let message = Message::new(TOPIC, &payload)
            .with_qos(qos)
            .with_retain(retain);
        transport.publish(&message).await.expect("publish");
    }
    transport.poll().await.expect("poll");
}

/// Checks that the subscriber got exactly [`payloads`], in order, each published at `qos`
/// and `retain`, and nothing more.
fn assert_delivered(subscriber: &mut Subscriber, qos: QoS, retain: bool) {
    let received = subscriber.take(COUNT);
    let payloads: Vec<Vec<u8>> = received.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(payloads, self::payloads());
    let wire_qos = match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
    };
    for message in &received {
        assert_eq!(
            (message.qos, message.retain),
            (wire_qos, retain),
            "{message:?}"
        );
    }
    assert_eq!(
        subscriber.next_within(std::time::Duration::from_millis(200)),
        None
    );
}

fn delivers_in_order_over_mqtt311(qos: QoS, retain: bool) {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let address = Broker::new("127.0.0.1", broker.port(Version::V311));
    let mut mqtt = Mqtt311::new(
        &stack,
        address,
        MqttOptions::new("delivery-311"),
        &mut tx,
        &mut rx,
    );
    async_io::block_on(async {
        publish_all(&mut mqtt, qos, retain).await;
        mqtt.disconnect().await;
    });
    assert_delivered(&mut subscriber, qos, retain);
}

fn delivers_in_order_over_mqtt5(qos: QoS, retain: bool) {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let options = MqttOptions::new("delivery-5");
    let connected = common::with_mqtt5(broker.port(Version::V5), options, async |mqtt| {
        publish_all(mqtt, qos, retain).await;
        mqtt.disconnect().await;
        mqtt.is_connected()
    });
    assert!(!connected);
    assert_delivered(&mut subscriber, qos, retain);
}

#[test]
fn mqtt311_qos0_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt311(QoS::AtMostOnce, false);
}

#[test]
fn mqtt311_qos1_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt311(QoS::AtLeastOnce, false);
}

#[test]
fn mqtt5_qos0_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt5(QoS::AtMostOnce, false);
}

#[test]
fn mqtt5_qos1_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt5(QoS::AtLeastOnce, false);
}

#[test]
fn mqtt311_retained_qos1_arrives_retained() {
    delivers_in_order_over_mqtt311(QoS::AtLeastOnce, true);
}

#[test]
fn mqtt5_retained_qos1_arrives_retained() {
    delivers_in_order_over_mqtt5(QoS::AtLeastOnce, true);
}
