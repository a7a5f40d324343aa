//! Home Assistant discovery and availability against the in-process broker, MQTT 3.1.1 and 5:
//! a subscriber that arrives after the device finds every config and the `online` status
//! retained, each config holds what Home Assistant needs for an MQTT sensor and its
//! `value_template` applied to a real state payload yields the reading; a reconnect
//! republishes `online` and the configs; a connection that dies without DISCONNECT leaves
//! the retained `offline` will.

mod common;

use common::{PATIENCE, Subscriber, TestBroker, Version};
use sensorpub::{
    Announcing, Backoff, BackoffConfig, Broker, HaDevice, HaDiscovery, JsonSink, MemoryTransport,
    Message, MessageQueue, MockError, MockSensor, Mqtt5Buffers, Mqtt311, MqttOptions, Publisher,
    QoS, Quantity, Reading, ResilientPublisher, Sample, SimulatedClock, Sink, Transport,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use std_embedded_nal_async::Stack;

const QUANTITIES: [Quantity; 5] = [
    Quantity::Temperature,
    Quantity::Humidity,
    Quantity::Pressure,
    Quantity::Altitude,
    Quantity::Value,
];

/// What each config must say: key, device class, unit.
const EXPECTED: [(&str, Option<&str>, Option<&str>); 5] = [
    ("temperature", Some("temperature"), Some("°C")),
    ("humidity", Some("humidity"), Some("%")),
    ("pressure", Some("pressure"), Some("Pa")),
    ("altitude", None, Some("m")),
    ("value", None, None),
];

/// How long to wait for something that must not come.
const QUIET: Duration = Duration::from_millis(300);

/// One device's topics: `sensorpub/<node>/value` (state), `sensorpub/<node>/status`.
struct Names {
    node: &'static str,
    state: &'static str,
    status: &'static str,
}

fn discovery(names: &Names) -> HaDiscovery<'static> {
    HaDiscovery::new(
        HaDevice::new(names.node, "HA test device")
            .with_model("Pysense 2.0")
            .with_sw_version("1.2.3"),
        names.state,
        names.status,
        &QUANTITIES,
    )
    .expect("valid discovery")
    .with_sample_period_ms(10_000)
}

fn sample() -> Sample<5> {
    Sample::from_readings(&[
        Reading::new(Quantity::Temperature, 21.5),
        Reading::new(Quantity::Humidity, 45.25),
        Reading::new(Quantity::Pressure, 101_325.0),
        Reading::new(Quantity::Altitude, 312.5),
        Reading::new(Quantity::Value, 742.0),
    ])
    .expect("five readings fit")
}

/// Applies the only template form the configs use, `{{ value_json.<key> }}`, to a JSON state
/// payload, as Home Assistant's Jinja would.
fn render(template: &str, state: &[u8]) -> Option<f64> {
    let inner = template.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let key = inner.strip_prefix("value_json.")?;
    let identifier = key.chars().next()?.is_ascii_alphabetic()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        return None;
    }
    let state: Value = serde_json::from_slice(state).ok()?;
    state.get(key)?.as_f64()
}

/// The configs a subscriber arriving now receives, by topic, checked retained.
fn retained_configs(broker: &TestBroker, node: &str) -> BTreeMap<String, Value> {
    let mut late = broker.subscribe(&format!("homeassistant/sensor/{node}/+/config"));
    let configs: BTreeMap<_, _> = (0..QUANTITIES.len())
        .map(|_| {
            let routed = late
                .next_routed_within(PATIENCE)
                .expect("a retained config");
            assert!(routed.retain, "{} was not held retained", routed.topic);
            let json = serde_json::from_slice(&routed.payload).expect("config is JSON");
            (routed.topic, json)
        })
        .collect();
    assert_eq!(
        late.next_routed_within(QUIET),
        None,
        "one config per quantity"
    );
    configs
}

/// The retained status a subscriber arriving now receives.
fn retained_status(broker: &TestBroker, names: &Names) -> Vec<u8> {
    let mut late = broker.subscribe(names.status);
    let routed = late
        .next_routed_within(PATIENCE)
        .expect("a retained status");
    assert!(routed.retain, "status not held retained");
    routed.payload
}

fn check_configs(configs: &BTreeMap<String, Value>, names: &Names, state: &[u8]) {
    let sample = sample();
    for ((key, class, unit), quantity) in EXPECTED.iter().zip(QUANTITIES) {
        let topic = format!("homeassistant/sensor/{}/{key}/config", names.node);
        let config = configs.get(&topic).unwrap_or_else(|| panic!("no {topic}"));
        assert!(config.is_object(), "{config}");
        // What Home Assistant needs to make an MQTT sensor of it, part of a device.
        assert_eq!(config["state_topic"], names.state, "{config}");
        assert_eq!(config["unique_id"], format!("{}_{key}", names.node));
        assert!(config["name"].is_string(), "{config}");
        assert_eq!(config["availability_topic"], names.status);
        assert_eq!(config["payload_available"], "online");
        assert_eq!(config["payload_not_available"], "offline");
        assert_eq!(config["state_class"], "measurement");
        assert_eq!(config["expire_after"], 30);
        let device = &config["device"];
        assert_eq!(
            device["identifiers"][0],
            format!("sensorpub_{}", names.node)
        );
        assert_eq!(device["name"], "HA test device");
        assert_eq!(device["model"], "Pysense 2.0");
        assert_eq!(device["sw_version"], "1.2.3");
        assert_eq!(config["device_class"].as_str(), *class, "{config}");
        assert_eq!(config["unit_of_measurement"].as_str(), *unit, "{config}");
        let template = config["value_template"].as_str().expect("a value_template");
        let reading = sample.get(quantity).expect("sampled");
        assert_eq!(
            render(template, state),
            Some(f64::from(reading)),
            "{template}"
        );
    }
}

/// Connects, publishes one state, checks what the broker holds, then rides a broker restart
/// and checks that `online` and the configs come again. Returns the still-connected device.
async fn announce_and_reconnect<'a, 'b, T: Transport>(
    mut device: Announcing<'a, 'b, T>,
    broker: &mut TestBroker,
    names: &Names,
) -> Announcing<'a, 'b, T>
where
    T::Error: core::fmt::Debug,
{
    let mut states = broker.subscribe(names.state);
    device.connect().await.expect("connect");
    let sink = JsonSink::object(names.state).expect("valid topic");
    let mut buf = [0u8; 256];
    let state = sink.encode(&sample(), 0, 0, &mut buf).expect("encode");
    let state = state.with_qos(QoS::AtLeastOnce);
    device.publish(&state).await.expect("publish the state");
    let state = states.take(1).remove(0).payload;

    check_configs(&retained_configs(broker, names.node), names, &state);
    assert_eq!(retained_status(broker, names), b"online");

    // Live subscribers see what the next connection sends.
    let mut configs = broker.subscribe(&format!("homeassistant/sensor/{}/+/config", names.node));
    let mut status = broker.subscribe(names.status);
    drain(&mut configs);
    drain(&mut status);
    broker.stop();
    let probe = Message::new(names.state, b"lost").with_qos(QoS::AtLeastOnce);
    while device.publish(&probe).await.is_ok() {}
    assert!(!device.is_connected());
    broker.restart();
    device.connect().await.expect("connect after the restart");
    let birth = status.take(1).remove(0);
    assert_eq!(
        (birth.payload.as_slice(), birth.retain),
        (&b"online"[..], true)
    );
    let again = configs.take(QUANTITIES.len());
    assert!(again.iter().all(|m| m.retain && m.qos == 1), "{again:?}");
    let mut topics: Vec<_> = again.iter().map(|m| m.topic.as_str()).collect();
    topics.sort();
    let mut expected: Vec<_> = EXPECTED
        .iter()
        .map(|(key, ..)| format!("homeassistant/sensor/{}/{key}/config", names.node))
        .collect();
    expected.sort();
    assert_eq!(topics, expected);
    device
}

/// Receives the retained messages a new subscription brings.
fn drain(subscriber: &mut Subscriber) {
    while subscriber.next_routed_within(QUIET).is_some() {}
}

/// After the device's connection died: the live subscriber gets the will, a late one finds it
/// retained.
fn assert_offline(status: &mut Subscriber, broker: &TestBroker, names: &Names) {
    let will = status.next_routed_within(PATIENCE).expect("the will");
    assert_eq!(will.payload, b"offline");
    assert_eq!(retained_status(broker, names), b"offline");
}

#[test]
fn mqtt311_configs_and_availability_are_retained_and_reannounced() {
    let mut broker = TestBroker::start();
    let names = Names {
        node: "ha-311",
        state: "sensorpub/ha-311/value",
        status: "sensorpub/ha-311/status",
    };
    let discovery = discovery(&names);
    let stack = Stack::default();
    let (mut tx, mut rx) = ([0u8; 1024], [0u8; 64]);
    let mut config_buf = [0u8; 768];
    let options = discovery.availability(MqttOptions::new("ha-311"));
    let address = Broker::new("127.0.0.1", broker.port(Version::V311));
    let mqtt = Mqtt311::new(&stack, address, options, &mut tx, &mut rx);
    let device = Announcing::new(mqtt, discovery, &mut config_buf).expect("buffer fits");
    let device = async_io::block_on(announce_and_reconnect(device, &mut broker, &names));
    let mut status = broker.subscribe(names.status);
    drain(&mut status);
    // The device dies: its TCP connection closes without DISCONNECT.
    drop(device);
    assert_offline(&mut status, &broker, &names);
}

#[test]
fn mqtt5_configs_and_availability_are_retained_and_reannounced() {
    let mut broker = TestBroker::start();
    let names = Names {
        node: "ha-5",
        state: "sensorpub/ha-5/value",
        status: "sensorpub/ha-5/status",
    };
    let discovery = discovery(&names);
    let options = discovery.availability(MqttOptions::new("ha-5"));
    let port = broker.port(Version::V5);
    let mut buffers = Mqtt5Buffers::<256, 1536, 768>::new();
    let mut status = common::with_mqtt5_in(&mut buffers, port, options, async |mqtt| {
        let mut config_buf = [0u8; 768];
        let device = Announcing::new(mqtt, discovery, &mut config_buf).expect("buffer fits");
        announce_and_reconnect(device, &mut broker, &names).await;
        let mut status = broker.subscribe(names.status);
        drain(&mut status);
        status
    });
    // Returning from the body dropped the runner: the connection closed without DISCONNECT.
    assert_offline(&mut status, &broker, &names);
}

#[test]
fn the_template_evaluator_rejects_other_forms() {
    let state = br#"{"temperature":21.5}"#;
    assert_eq!(render("{{ value_json.temperature }}", state), Some(21.5));
    assert_eq!(render("{{ value_json['temperature'] }}", state), None);
    assert_eq!(render("{{ value_json.humidity }}", state), None);
    assert_eq!(render("{{ value }}", state), None);
}

/// An RNG for the backoff's jitter: always 0.
struct Zero;

impl rand_core::TryRng for Zero {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

#[test]
fn a_resilient_publisher_reannounces_after_each_reconnect() {
    let names = Names {
        node: "ha-resilient",
        state: "sensorpub/ha-resilient/value",
        status: "sensorpub/ha-resilient/status",
    };
    let script: Vec<Result<Sample<5>, MockError>> = (0..4).map(|_| Ok(sample())).collect();
    let mut config_buf = [0u8; 768];
    let memory = MemoryTransport::<32, 768>::new();
    let mut transport = Announcing::new(memory, discovery(&names), &mut config_buf).expect("fits");
    embassy_futures::block_on(transport.connect()).expect("first connect");
    // The connection drops after the configs and two states, then refuses one connect.
    transport.inner_mut().disconnect_after(2);
    transport.inner_mut().fail_connects(1);
    let mut buf = [0u8; 256];
    let publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::object(names.state).expect("valid topic"),
        transport,
        SimulatedClock::new(),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let backoff = Backoff::new(BackoffConfig::new(500, 30_000).expect("valid"), Zero);
    let mut publisher = ResilientPublisher::new(publisher, backoff, MessageQueue::<8, 1024>::new());
    embassy_futures::block_on(publisher.run_for(1_000, 4)).expect("all delivered");
    let sent: Vec<&str> = publisher
        .transport()
        .inner()
        .messages()
        .iter()
        .map(|m| m.topic.as_str())
        .collect();
    let configs = |sent: &[&str]| sent.iter().filter(|t| t.ends_with("/config")).count();
    let states = sent.iter().filter(|t| **t == names.state).count();
    assert_eq!(
        (configs(&sent), states),
        (2 * QUANTITIES.len(), 4),
        "{sent:?}"
    );
    // The second round comes before the first state of the new connection.
    let second_round = QUANTITIES.len() + 2;
    assert_eq!(
        configs(&sent[second_round..][..QUANTITIES.len()]),
        QUANTITIES.len()
    );
    assert_eq!(publisher.stats().reconnects, 1);
}
