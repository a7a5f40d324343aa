//! QoS 0 "success" that wasn't: a broker (a loopback listener) accepts the connection, sends
//! CONNACK and closes it. A QoS 0 publish on that connection must not be reported `Ok`: the
//! MQTT 5 transport reads the connection before writing and finds the end of the stream.
//! And the resilient publisher, which counts what the transport reported `Ok`, must not
//! count such a message as published: it stays queued. An idle connection the broker closes
//! is noticed by the runner alone, and `poll` says why it ended.

mod common;

use common::PATIENCE;
use rand_core::SeedableRng;
use rand_xorshift::XorShiftRng;
use sensorpub::{
    Backoff, BackoffConfig, JsonSink, Message, MessageQueue, MockSensor, Publisher, Quantity,
    Reading, ResilientPublisher, Sample, SimulatedClock, Transport,
};
use sensorpub::{Mqtt5, MqttError, MqttOptions};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// CONNACK, session present 0, reason 0 success, no properties (MQTT 5 §3.2).
const CONNACK: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];
const TOPIC: &str = "sensorpub/closed/value";

/// A listener that answers each CONNECT with CONNACK and closes the connection at once.
struct ClosingBroker {
    port: u16,
    closed: mpsc::Receiver<()>,
}

impl ClosingBroker {
    /// Serves `connections` connections, one after the other.
    fn start(connections: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (tx, closed) = mpsc::channel();
        thread::spawn(move || {
            for _ in 0..connections {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let mut connect = [0u8; 256];
                let _ = stream.read(&mut connect);
                let _ = stream.write_all(&CONNACK);
                drop(stream);
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
        Self { port, closed }
    }

    /// Returns once the listener closed its latest connection and the end of the stream
    /// had time to cross loopback (a margin, not a measured time).
    fn wait_until_closed(&self) {
        self.closed
            .recv_timeout(PATIENCE)
            .expect("the listener closes the connection");
        thread::sleep(Duration::from_millis(20));
    }
}

/// The MQTT 5 transport, whose `connect` returns only once the listener closed the new
/// connection: the publish that follows always meets a closed connection.
struct ConnectThenClosed<'a, 'b> {
    mqtt: &'a mut Mqtt5<'b>,
    broker: &'a ClosingBroker,
}

impl Transport for ConnectThenClosed<'_, '_> {
    type Error = MqttError;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MqttError> {
        self.mqtt.publish(message).await
    }

    async fn connect(&mut self) -> Result<(), MqttError> {
        self.mqtt.connect().await?;
        self.broker.wait_until_closed();
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.mqtt.is_connected()
    }

    async fn poll(&mut self) -> Result<(), MqttError> {
        self.mqtt.poll().await
    }
}

#[test]
fn mqtt5_qos0_publish_on_a_connection_the_broker_closed_is_not_ok() {
    let broker = ClosingBroker::start(1);
    let options = MqttOptions::new("closed-qos0");
    let (result, connected) = common::with_mqtt5(broker.port, options, async |mqtt| {
        mqtt.connect()
            .await
            .expect("CONNACK arrives before the close");
        broker.wait_until_closed();
        let result = mqtt.publish(&Message::new(TOPIC, b"lost")).await;
        (result, mqtt.is_connected())
    });
    assert_eq!(result, Err(MqttError::Closed));
    assert!(!connected);
}

#[test]
fn mqtt5_qos0_message_into_a_closed_connection_is_not_counted_published() {
    const ATTEMPTS: u32 = 3;
    let broker = ClosingBroker::start(ATTEMPTS as usize);
    let sample = Sample::<1>::from_readings(&[Reading::new(Quantity::Value, 742.0)]);
    let script = [Ok(sample.expect("one reading fits"))];
    let options = MqttOptions::new("closed-stats");
    let stats = common::with_mqtt5(broker.port, options, async |mqtt| {
        let transport = ConnectThenClosed {
            mqtt,
            broker: &broker,
        };
        let mut buf = [0u8; 64];
        let publisher = Publisher::new(
            MockSensor::new(&script),
            JsonSink::value(TOPIC).unwrap(),
            transport,
            SimulatedClock::new(),
            &mut buf,
        );
        let backoff = BackoffConfig::new(10, 200)
            .and_then(|config| config.with_max_attempts(ATTEMPTS))
            .expect("valid backoff");
        let mut publisher = ResilientPublisher::new(
            publisher,
            Backoff::new(backoff, XorShiftRng::seed_from_u64(7)),
            MessageQueue::<4, 256>::new(),
        );
        publisher.publish_once().await.expect("read and queued");
        assert!(publisher.flush().await.is_err(), "every attempt fails");
        publisher.stats()
    });
    assert_eq!(stats.published, 0, "{stats:?}");
    assert_eq!(stats.queued, 1, "{stats:?}");
    assert_eq!(stats.reconnects, ATTEMPTS, "{stats:?}");
}

#[test]
fn mqtt5_runner_notices_an_idle_connection_the_broker_closed() {
    let broker = ClosingBroker::start(1);
    let options = MqttOptions::new("closed-idle");
    let polls = common::with_mqtt5(broker.port, options, async |mqtt| {
        mqtt.connect()
            .await
            .expect("CONNACK arrives before the close");
        // No request: only the runner, reading the idle connection, can notice.
        let deadline = Instant::now() + PATIENCE;
        while mqtt.is_connected() && Instant::now() < deadline {
            async_io::Timer::after(Duration::from_millis(5)).await;
        }
        assert!(!mqtt.is_connected(), "the close went unnoticed");
        (mqtt.poll().await, mqtt.poll().await)
    });
    assert_eq!(
        polls,
        (Err(MqttError::Closed), Err(MqttError::NotConnected))
    );
}
