//! `poll` keeps an idle connection alive: with a 1 s keep-alive the broker drops a client
//! that sends nothing for 1.5 s (MQTT §3.1.2.10); polling every 0.7 s for 2.8 s sends the
//! PINGREQs that prevent it, and a QoS 1 message afterwards still arrives. Real time is
//! involved, but nothing asserts a duration: only that the connection survived.

mod common;

use common::{TestBroker, Version};
use sensorpub::{Broker, Mqtt311, MqttOptions};
use sensorpub::{Message, QoS, Transport};
use std::time::Duration;
use std_embedded_nal_async::Stack;

const TOPIC: &str = "sensorpub/keepalive/value";
const IDLE_ROUNDS: u32 = 4;
const IDLE: Duration = Duration::from_millis(700);

async fn idle_then_publish<T: Transport>(transport: &mut T)
where
    T::Error: core::fmt::Debug,
{
    transport.connect().await.expect("connect");
    for _ in 0..IDLE_ROUNDS {
        async_io::Timer::after(IDLE).await;
        transport.poll().await.expect("poll");
        assert!(transport.is_connected());
    }
    let message = Message::new(TOPIC, b"still here").with_qos(QoS::AtLeastOnce);
    transport
        .publish(&message)
        .await
        .expect("publish after idling");
}

#[test]
fn mqtt311_poll_keeps_an_idle_connection_alive() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let address = Broker::new("127.0.0.1", broker.port(Version::V311));
    let options = MqttOptions::new("keepalive-311").with_keep_alive_s(1);
    let mut mqtt = Mqtt311::new(&stack, address, options, &mut tx, &mut rx);
    async_io::block_on(idle_then_publish(&mut mqtt));
    assert_eq!(subscriber.payloads(1), [b"still here".to_vec()]);
}

#[test]
fn mqtt5_poll_keeps_an_idle_connection_alive() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe(TOPIC);
    let options = MqttOptions::new("keepalive-5").with_keep_alive_s(1);
    common::with_mqtt5(broker.port(Version::V5), options, async |mqtt| {
        idle_then_publish(mqtt).await
    });
    assert_eq!(subscriber.payloads(1), [b"still here".to_vec()]);
}
