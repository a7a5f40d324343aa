//! The host example (examples/host.rs), run in this process through its `cli` function: what
//! its exit status and its one stderr line say, against the embedded broker, a broker that
//! plays ThingSpeak (refuses anyone without the device's credentials), brokers that go away
//! and come back or never come back, and bad input. Plus its defaults riding out a 5-minute
//! outage in simulated time.

mod common;

#[path = "../examples/host/app.rs"]
#[allow(dead_code)] // the example's main uses what this file does not
mod app;

use app::delivery::{
    self, DEFAULT_GIVE_UP_S, DEFAULT_INTERVAL_MS, DEFAULT_QUEUE, OutageWatch, Watched,
};
use app::{EXIT_BAD_INPUT, EXIT_FAILED, Failure};
use common::thingspeak_like::ThingSpeakLike;
use common::{TestBroker, Version};
use embedded_hal_async::delay::DelayNs;
use sensorpub::{
    Backoff, Clock, JsonSink, Message, MessageQueue, MockSensor, Publisher, QoS, Quantity, Reading,
    ResilientPublisher, Sample, Transport,
};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A bound against hanging, not a timed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn host(args: &[&str]) -> Result<(), Failure> {
    host_with_password(args, None)
}

fn host_with_password(args: &[&str], password: Option<&str>) -> Result<(), Failure> {
    let argv = std::iter::once("host").chain(args.iter().copied());
    app::cli(argv, password.map(str::to_owned))
}

/// Runs the example in its own thread; its result comes on the returned channel.
fn host_in_background(args: Vec<String>) -> mpsc::Receiver<Result<(), Failure>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = tx.send(host(&argv));
    });
    rx
}

fn assert_one_line(failure: &Failure, code: u8, needle: &str) {
    assert_eq!(failure.code, code, "{failure:?}");
    assert!(!failure.message.contains('\n'), "{failure:?}");
    assert!(
        failure.message.contains(needle),
        "{needle:?} not in {failure:?}"
    );
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_input_is_refused_in_one_line_with_exit_status_2() {
    let long_topic = "t".repeat(70_000);
    let cases: [(&[&str], &str); 9] = [
        (&["--count", "0"], "--count"),
        (&["--interval-ms", "0"], "--interval-ms"),
        (&["--device", "#"], "wildcard"),
        (&["--topic", "a/+/b"], "wildcard"),
        (&["--topic", ""], "empty"),
        (&["--topic", &long_topic], "65535"),
        (&["--queue", "100"], "16, 64, 256, 1024, 4096 or 16384"),
        (&["--format", "thingspeak", "--verify"], "--verify"),
        (&["--format", "thingspeak", "--mqtt", "5"], "3.1.1"),
    ];
    for (args, needle) in cases {
        let failure = host(args).expect_err("bad input must fail");
        assert_one_line(&failure, EXIT_BAD_INPUT, needle);
    }
}

#[test]
fn thingspeak_channel_0_and_an_empty_password_are_bad_input() {
    let ts = [
        "--format",
        "thingspeak",
        "--client-id",
        "id",
        "--username",
        "user",
    ];
    let channel_0: Vec<&str> = ts.iter().copied().chain(["--channel", "0"]).collect();
    let failure = host_with_password(&channel_0, Some("secret")).expect_err("channel 0");
    assert_one_line(&failure, EXIT_BAD_INPUT, "channel 0");

    let channel_5: Vec<&str> = ts.iter().copied().chain(["--channel", "5"]).collect();
    let failure = host_with_password(&channel_5, Some("")).expect_err("empty password");
    assert_one_line(
        &failure,
        EXIT_BAD_INPUT,
        "THINGSPEAK_MQTT_PASSWORD is empty",
    );
    let failure = host_with_password(&channel_5, None).expect_err("no password");
    assert_one_line(&failure, EXIT_BAD_INPUT, "THINGSPEAK_MQTT_PASSWORD");
}

#[test]
fn an_unreachable_broker_is_one_line_with_exit_status_1() {
    let port = common::free_port().to_string();
    let broker = format!("127.0.0.1:{port}");
    let failure = host(&["--broker", &broker, "--count", "1"]).expect_err("nobody listens");
    assert_one_line(&failure, EXIT_FAILED, "cannot reach the broker");
}

#[test]
fn tls_flags_are_checked_before_connecting() {
    let dir = std::env::temp_dir().join(format!("sensorpub-host-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
    )
    .expect("write CA");
    let ca = ca.to_str().expect("UTF-8 path");
    let missing = dir.join("missing.pem");
    let missing = missing.to_str().expect("UTF-8 path");
    let cases: [(&[&str], &str); 5] = [
        (&["--ca", ca], "need --tls"),
        (&["--tls", "--ca", ca], "--tls needs --broker"),
        (&["--tls", "--broker", "localhost"], "--tls needs --ca"),
        (
            &["--tls", "--broker", "localhost", "--ca", missing],
            "cannot read CA file",
        ),
        (
            &[
                "--tls",
                "--broker",
                "localhost",
                "--ca",
                ca,
                "--client-cert",
                ca,
            ],
            "go together",
        ),
    ];
    for (args, needle) in cases {
        let failure = host(args).expect_err("bad TLS input must fail");
        assert_one_line(&failure, EXIT_BAD_INPUT, needle);
    }
}

#[test]
fn tls_to_a_plaintext_port_is_one_line_with_exit_status_1() {
    let broker = TestBroker::start();
    let dir = std::env::temp_dir().join(format!("sensorpub-host-tls1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca = dir.join("ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
    )
    .expect("write CA");
    let ca = ca.to_str().expect("UTF-8 path");
    // Both versions go over TLS (MQTT 3.1.1 through Mqtt311Tls).
    for (version, mqtt) in [(Version::V5, "5"), (Version::V311, "3")] {
        let address = format!("127.0.0.1:{}", broker.port(version));
        let args = [
            "--tls", "--broker", &address, "--ca", ca, "--mqtt", mqtt, "--count", "1",
        ];
        let failure = host(&args).expect_err("no TLS on a plaintext port");
        assert_one_line(&failure, EXIT_FAILED, "does not speak TLS on this port");
    }
}

// ---------------------------------------------------------------- the embedded broker

#[test]
fn embedded_broker_runs_are_verified_and_exit_0() {
    for mqtt in ["3", "5"] {
        for qos in ["0", "1"] {
            let args = [
                "--mqtt",
                mqtt,
                "--qos",
                qos,
                "--count",
                "3",
                "--interval-ms",
                "10",
            ];
            assert_eq!(host(&args), Ok(()), "MQTT {mqtt}, QoS {qos}");
        }
    }
}

#[test]
fn senml_runs_are_verified_and_senml_with_ha_discovery_is_bad_input() {
    let args = ["--format", "senml", "--count", "2", "--interval-ms", "10"];
    assert_eq!(host(&args), Ok(()));
    let failure = host(&["--format", "senml", "--ha-discovery"]).expect_err("refused");
    assert_one_line(
        &failure,
        EXIT_BAD_INPUT,
        "--ha-discovery needs --format json",
    );
}

#[test]
fn ha_discovery_leaves_its_config_and_offline_retained() {
    let broker = TestBroker::start();
    for (mqtt, version) in [("3", Version::V311), ("5", Version::V5)] {
        let device = format!("ha-host-{mqtt}");
        let address = format!("127.0.0.1:{}", broker.port(version));
        let args = [
            "--broker",
            &address,
            "--mqtt",
            mqtt,
            "--qos",
            "1",
            "--ha-discovery",
            "--device",
            &device,
            "--count",
            "2",
            "--interval-ms",
            "10",
        ];
        assert_eq!(host(&args), Ok(()), "MQTT {mqtt}");
        let mut late = broker.subscribe(&format!("homeassistant/sensor/{device}/value/config"));
        let config = late.next_routed_within(PATIENCE).expect("retained config");
        assert!(config.retain);
        let config: serde_json::Value = serde_json::from_slice(&config.payload).expect("JSON");
        assert_eq!(config["state_topic"], format!("sensorpub/{device}/value"));
        assert_eq!(config["value_template"], "{{ value_json.value }}");
        assert_eq!(
            config["availability_topic"],
            format!("sensorpub/{device}/status")
        );
        let mut status = broker.subscribe(&format!("sensorpub/{device}/status"));
        let status = status
            .next_routed_within(PATIENCE)
            .expect("retained status");
        // A clean end publishes `offline` itself: the broker drops the will on DISCONNECT.
        assert_eq!(
            (status.payload.as_slice(), status.retain),
            (&b"offline"[..], true)
        );
    }
}

// ---------------------------------------------------------------- a broker that plays ThingSpeak

#[test]
fn thingspeak_runs_without_a_verifying_subscriber_and_exit_0() {
    // The old example subscribed anonymously to the same broker; ThingSpeak refuses that,
    // so it failed before publishing anything.
    let thingspeak = ThingSpeakLike::start(b"device-password");
    let broker = format!("127.0.0.1:{}", thingspeak.port());
    let args = [
        "--format",
        "thingspeak",
        "--broker",
        &broker,
        "--channel",
        "1234567",
        "--client-id",
        "device-id",
        "--username",
        "device-user",
        "--count",
        "1",
    ];
    assert_eq!(host_with_password(&args, Some("device-password")), Ok(()));
    let published = thingspeak.published(Duration::from_millis(300));
    let [(topic, payload)] = published.as_slice() else {
        panic!("one update expected: {published:?}");
    };
    assert_eq!(topic, "channels/1234567/publish");
    assert!(payload.starts_with(b"field1="), "{payload:?}");
}

#[test]
fn thingspeak_with_the_wrong_password_is_refused_in_one_line() {
    let thingspeak = ThingSpeakLike::start(b"device-password");
    let broker = format!("127.0.0.1:{}", thingspeak.port());
    let args = [
        "--format",
        "thingspeak",
        "--broker",
        &broker,
        "--channel",
        "1234567",
        "--client-id",
        "device-id",
        "--username",
        "device-user",
        "--count",
        "1",
    ];
    let failure = host_with_password(&args, Some("wrong")).expect_err("refused");
    assert_one_line(&failure, EXIT_FAILED, "not authorized");
}

// ---------------------------------------------------------------- outages (scripted, real time)

fn outage_args(broker: &TestBroker, extra: &[&str]) -> Vec<String> {
    let address = format!("127.0.0.1:{}", broker.port(Version::V311));
    [
        "--broker",
        address.as_str(),
        "--mqtt",
        "3",
        "--qos",
        "1",
        "--device",
        "outage",
    ]
    .iter()
    .chain(extra)
    .map(|s| (*s).to_owned())
    .collect()
}

#[test]
fn a_broker_that_comes_back_is_ridden_out_and_the_run_exits_0() {
    let mut broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/outage/value");
    let count = 40;
    let result = host_in_background(outage_args(
        &broker,
        &[
            "--count",
            &count.to_string(),
            "--interval-ms",
            "25",
            "--give-up-after",
            "0",
        ],
    ));
    subscriber.take(5);
    broker.stop();
    thread::sleep(Duration::from_secs(1)); // the outage: samples queue meanwhile
    broker.restart();
    let outcome = result.recv_timeout(PATIENCE).expect("the run ends");
    assert_eq!(outcome, Ok(()));
    // Every message reached the broker (QoS 1 may repeat one whose PUBACK was lost).
    let mut received = 5;
    while subscriber.next_within(Duration::from_secs(2)).is_some() {
        received += 1;
    }
    assert!(received >= count, "only {received} of {count} arrived");
}

/// `--broker` twice: the first serves the first messages, then goes away, and the run goes on
/// on the second; the first comes back and the second goes away for good, and the run
/// finishes on the first. Every message reaches one of the two, nothing is dropped, exit 0.
#[test]
fn repeated_broker_flags_fail_over_between_the_nodes_and_the_run_exits_0() {
    let mut first = TestBroker::start();
    let mut second = TestBroker::start();
    let mut on_first = first.subscribe("sensorpub/failover/value");
    let mut on_second = second.subscribe("sensorpub/failover/value");
    let count = 40;
    let args = [
        "--broker".to_owned(),
        format!("127.0.0.1:{}", first.port(Version::V5)),
        "--broker".to_owned(),
        format!("127.0.0.1:{}", second.port(Version::V5)),
        "--qos".to_owned(),
        "1".to_owned(),
        "--device".to_owned(),
        "failover".to_owned(),
        "--count".to_owned(),
        count.to_string(),
        "--interval-ms".to_owned(),
        "25".to_owned(),
        "--give-up-after".to_owned(),
        "0".to_owned(),
    ];
    let result = host_in_background(args.to_vec());
    on_first.take(5);
    first.stop();
    on_second.take(5);
    first.restart();
    second.stop();
    let outcome = result.recv_timeout(PATIENCE).expect("the run ends");
    assert_eq!(outcome, Ok(()));
    let mut received = 10;
    for subscriber in [&mut on_first, &mut on_second] {
        while subscriber.next_within(Duration::from_secs(2)).is_some() {
            received += 1;
        }
    }
    assert!(received >= count, "only {received} of {count} arrived");
}

/// `--broker` twice with nothing listening at the first: the first connection tries each
/// node once before giving up, so the run starts on the second and exits 0.
#[test]
fn an_unreachable_first_broker_is_skipped_at_the_start() {
    let second = TestBroker::start();
    let mut subscriber = second.subscribe("sensorpub/skip-first/value");
    let first = format!("127.0.0.1:{}", common::free_port());
    let second_address = format!("127.0.0.1:{}", second.port(Version::V311));
    let args = [
        "--broker",
        &first,
        "--broker",
        &second_address,
        "--mqtt",
        "3",
        "--qos",
        "1",
        "--device",
        "skip-first",
        "--count",
        "3",
        "--interval-ms",
        "10",
    ];
    assert_eq!(host(&args), Ok(()));
    assert_eq!(subscriber.take(3).len(), 3);
    // One node only: the same unreachable address fails the run at once.
    let failure = host(&["--broker", &first, "--count", "1"]).expect_err("nobody listens");
    assert_one_line(&failure, EXIT_FAILED, "cannot reach the broker");
}

#[test]
fn a_broker_that_stays_away_ends_the_run_after_give_up_after_seconds() {
    let mut broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/outage/value");
    let result = host_in_background(outage_args(
        &broker,
        &[
            "--count",
            "100000",
            "--interval-ms",
            "20",
            "--give-up-after",
            "1",
        ],
    ));
    subscriber.take(3);
    broker.stop();
    let failure = result
        .recv_timeout(PATIENCE)
        .expect("the run gives up")
        .expect_err("it must not succeed");
    assert_one_line(&failure, EXIT_FAILED, "gave up");
    assert!(failure.message.contains("away for 1 s"), "{failure:?}");
}

#[test]
fn a_queue_that_overflows_fails_the_run() {
    // The old example printed "dropped 14 messages" and exited 0.
    let mut broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/outage/value");
    let result = host_in_background(outage_args(
        &broker,
        &[
            "--count",
            "200",
            "--interval-ms",
            "10",
            "--queue",
            "16",
            "--give-up-after",
            "0",
        ],
    ));
    subscriber.take(3);
    broker.stop();
    thread::sleep(Duration::from_secs(1)); // ~100 samples for a queue of 16
    broker.restart();
    let failure = result
        .recv_timeout(PATIENCE)
        .expect("the run ends")
        .expect_err("messages were dropped");
    assert_one_line(&failure, EXIT_FAILED, "dropped");
    assert!(failure.message.contains("queue of 16"), "{failure:?}");
}

// ---------------------------------------------------------------- the defaults, simulated time

/// Simulated milliseconds shared by the clock and the broker model.
#[derive(Clone, Default)]
struct Time(Rc<Cell<u64>>);

impl Clock for Time {
    fn now_ms(&mut self) -> u64 {
        self.0.get()
    }
}

impl DelayNs for Time {
    async fn delay_ns(&mut self, ns: u32) {
        // Round up, so that waiting always moves time.
        self.0.set(self.0.get() + u64::from(ns).div_ceil(1_000_000));
    }

    async fn delay_ms(&mut self, ms: u32) {
        self.0.set(self.0.get() + u64::from(ms));
    }
}

/// Why the modelled broker did not take a message.
#[derive(Debug)]
struct Away;

impl std::fmt::Display for Away {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the broker is away")
    }
}

/// A QoS 1 broker that is away from `down_ms` to `up_ms`: connects fail, the connection
/// drops, publishes fail. Records what it acknowledged.
struct Broker {
    time: Time,
    down_ms: u64,
    up_ms: u64,
    connected: bool,
    acknowledged: Vec<Vec<u8>>,
}

impl Broker {
    fn away(&self) -> bool {
        (self.down_ms..self.up_ms).contains(&self.time.0.get())
    }
}

impl Transport for Broker {
    type Error = Away;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), Away> {
        if self.away() || !self.connected {
            self.connected = false;
            return Err(Away);
        }
        self.acknowledged.push(message.payload.to_vec());
        Ok(())
    }

    async fn connect(&mut self) -> Result<(), Away> {
        self.connected = !self.away();
        if self.connected { Ok(()) } else { Err(Away) }
    }

    fn is_connected(&self) -> bool {
        self.connected
    }

    async fn poll(&mut self) -> Result<(), Away> {
        if self.away() {
            self.connected = false;
            return Err(Away);
        }
        Ok(())
    }
}

/// The example's defaults (queue, backoff, give-up time, interval) through a 5-minute
/// outage: every sample delivered in order, nothing dropped, no give-up.
fn ride_out_five_minutes() {
    const SAMPLES: u32 = 420; // 7 minutes at the default interval
    const DOWN_MS: u64 = 60_000;
    const UP_MS: u64 = DOWN_MS + 5 * 60_000;
    let script: Vec<Result<Sample<1>, sensorpub::MockError>> = (1..=SAMPLES)
        .map(|n| Ok(Sample::from_readings(&[Reading::new(Quantity::Value, n as f32)]).unwrap()))
        .collect();
    let time = Time::default();
    let watch = OutageWatch::new(DEFAULT_GIVE_UP_S);
    let model = Broker {
        time: time.clone(),
        down_ms: DOWN_MS,
        up_ms: UP_MS,
        connected: true,
        acknowledged: Vec::new(),
    };
    let clock = time.clone();
    let mut transport = Watched::new(model, &watch, move || clock.0.get());
    let mut buf = [0u8; 64];
    let publisher = Publisher::new(
        MockSensor::new(&script),
        JsonSink::value("sensorpub/apricot/value").unwrap(),
        &mut transport,
        time.clone(),
        &mut buf,
    )
    .with_qos(QoS::AtLeastOnce);
    let backoff = Backoff::new(delivery::backoff_config().unwrap(), rand::rng());
    let queue = MessageQueue::<DEFAULT_QUEUE, { DEFAULT_QUEUE * 64 }>::new();
    let mut publisher = ResilientPublisher::new(publisher, backoff, queue);

    let result = embassy_futures::block_on(publisher.run_for(DEFAULT_INTERVAL_MS, SAMPLES));
    assert!(
        result.is_ok(),
        "the run failed: {:?}",
        result.err().map(|e| e.to_string())
    );
    let stats = publisher.stats();
    drop(publisher);
    assert_eq!(stats.dropped, 0);
    assert!(stats.reconnects >= 1);
    // The outage really happened, and never reached the give-up time.
    assert!(
        watch.longest_outage_ms() >= UP_MS - DOWN_MS,
        "{}",
        watch.longest_outage_ms()
    );
    assert!(watch.longest_outage_ms() < DEFAULT_GIVE_UP_S * 1000);
    assert!(!watch.should_give_up(time.0.get()));
    let expected: Vec<Vec<u8>> = (1..=SAMPLES).map(|n| n.to_string().into_bytes()).collect();
    let acknowledged = &transport.inner_mut().acknowledged;
    assert_eq!(acknowledged, &expected, "every sample, once each, in order");
}

#[test]
fn defaults_ride_out_a_five_minute_outage_with_nothing_dropped() {
    // The queue lives on the stack, as in the example's publishing thread.
    thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(ride_out_five_minutes)
        .expect("thread")
        .join()
        .expect("the 5-minute outage was not ridden out");
}

#[test]
fn the_outage_watch_gives_up_only_when_the_broker_is_away_long_enough() {
    let watch = OutageWatch::new(30);
    assert!(!watch.should_give_up(1_000_000), "no failure, no outage");
    watch.failed(10_000, false, "closed".to_owned());
    assert!(!watch.should_give_up(39_999));
    assert!(watch.should_give_up(40_000));
    // Reconnected but nothing delivered yet: the publisher gets its chance.
    watch.connected();
    assert!(!watch.should_give_up(50_000));
    // A broker that accepts connections but drops every message is still away.
    watch.failed(51_000, false, "closed".to_owned());
    assert!(watch.should_give_up(51_000));
    watch.delivered(52_000);
    assert!(!watch.should_give_up(1_000_000));
    assert_eq!(watch.last_error().as_deref(), Some("closed"));

    let never = OutageWatch::new(0);
    never.failed(0, false, "closed".to_owned());
    assert!(!never.should_give_up(u64::MAX));
}

#[test]
fn the_verifying_subscriber_reconnects_after_an_outage() {
    // The old subscriber did not reconnect: every outage ended in exit 1. Now it subscribes
    // again and sees what is published after; what the broker routed while it was away (the
    // publisher's replayed backlog may be) is lost to it, which exit status 3 reports.
    let mut broker = TestBroker::start();
    let mut watcher = broker.subscribe("sensorpub/verified/value");
    let address = format!("127.0.0.1:{}", broker.port(Version::V5));
    let args = [
        "--broker",
        &address,
        "--mqtt",
        "5",
        "--qos",
        "1",
        "--device",
        "verified",
        "--verify",
        "--count",
        "80",
        "--interval-ms",
        "40",
        "--give-up-after",
        "0",
    ];
    let result = host_in_background(args.iter().map(|s| (*s).to_owned()).collect());
    let before = 5;
    watcher.take(before);
    broker.stop();
    thread::sleep(Duration::from_secs(1)); // the outage
    broker.restart();
    match result.recv_timeout(PATIENCE).expect("the run ends") {
        Ok(()) => {}
        Err(failure) => {
            assert_one_line(&failure, app::EXIT_UNVERIFIED, "subscribed again");
            // "80 messages delivered, but the verifying subscriber saw only K of them: …"
            let seen: usize = failure
                .message
                .split("saw only ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next()?.parse().ok())
                .expect("the count seen");
            // Samples kept coming for a second after it was back: it received some of them.
            assert!(seen >= before + 10, "{failure:?}");
        }
    }
}
