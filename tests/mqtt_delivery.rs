//! Both MQTT transports deliver exactly the published payloads, in order, at QoS 0 and 1,
//! to a subscriber of a real broker (rumqttd in this process, 127.0.0.1).

mod common;

use common::{TestBroker, Version};
use sensorpub::transport::{Broker, Mqtt311, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/delivery/value";
const COUNT: usize = 20;

fn payloads() -> Vec<Vec<u8>> {
    (0..COUNT)
        .map(|i| format!("{}", i * 37 % 1000).into_bytes())
        .collect()
}

async fn publish_all<T: Transport>(transport: &mut T, qos: QoS)
where
    T::Error: core::fmt::Debug,
{
    transport.connect().await.expect("connect");
    assert!(transport.is_connected());
    for payload in payloads() {
        let message = Message::new(TOPIC, &payload).with_qos(qos);
        transport.publish(&message).await.expect("publish");
    }
    transport.poll().await.expect("poll");
}

fn delivers_in_order_over_mqtt311(qos: QoS) {
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
        publish_all(&mut mqtt, qos).await;
        mqtt.disconnect().await;
    });
    assert_eq!(subscriber.payloads(COUNT), payloads());
    assert_eq!(
        subscriber.next_within(std::time::Duration::from_millis(200)),
        None
    );
}

fn delivers_in_order_over_mqtt5(qos: QoS) {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let options = MqttOptions::new("delivery-5");
    let connected = common::with_mqtt5(broker.port(Version::V5), options, async |mqtt| {
        publish_all(mqtt, qos).await;
        mqtt.disconnect().await;
        mqtt.is_connected()
    });
    assert!(!connected);
    assert_eq!(subscriber.payloads(COUNT), payloads());
    assert_eq!(
        subscriber.next_within(std::time::Duration::from_millis(200)),
        None
    );
}

#[test]
fn mqtt311_qos0_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt311(QoS::AtMostOnce);
}

#[test]
fn mqtt311_qos1_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt311(QoS::AtLeastOnce);
}

#[test]
fn mqtt5_qos0_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt5(QoS::AtMostOnce);
}

#[test]
fn mqtt5_qos1_arrives_exactly_and_in_order() {
    delivers_in_order_over_mqtt5(QoS::AtLeastOnce);
}
