//! Publish sensor readings to an MQTT broker from a PC: the lab's first exercise, one command.
//!
//! ```text
//! cargo run --example host                        # embedded broker, 5 random values as JSON
//! cargo run --example host -- --broker test.mosquitto.org:1883 --device apricot
//! cargo run --example host -- --mqtt 3 --qos 1 --count 10 --interval-ms 200
//! THINGSPEAK_MQTT_PASSWORD=... cargo run --example host -- --format thingspeak \
//!     --broker mqtt3.thingspeak.com:1883 --channel 1234567 --client-id ID --username ID
//! ```
//!
//! Without `--broker` it starts an MQTT broker (rumqttd) inside this process on free
//! 127.0.0.1 ports. A subscriber to the topic prints each message as it arrives; the
//! publisher is the crate's `ResilientPublisher` (a `Publisher` with an outage queue and
//! reconnection) with `RandomSensor` and the MQTT 5 (minimq) or MQTT 3.1.1 (mqttrs) transport
//! over `std-embedded-nal-async`, the same code path as firmware.

#[path = "host/broker.rs"]
mod broker;
#[path = "host/clock.rs"]
mod clock;
#[path = "host/subscriber.rs"]
mod subscriber;

use clap::{Parser, ValueEnum};
use core::future::{Future, pending};
use embassy_futures::select::{Either, select};
use sensorpub::transport::{Broker, Mqtt5, Mqtt5Buffers, Mqtt311, MqttOptions, ThingSpeak};
use sensorpub::{
    Backoff, BackoffConfig, JsonSink, MessageQueue, Publisher, QoS, Quantity, RandomSensor,
    ResilientPublisher, Sink, Transport,
};
use std::process::ExitCode;
use std::time::Duration;
use std_embedded_nal_async::Stack;

// ---------------------------------------------------------------- configuration

/// Publish random sensor values over MQTT (5 or 3.1.1) as JSON or to ThingSpeak.
///
/// Without --broker an MQTT broker starts inside this program on 127.0.0.1.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Use the broker at HOST:PORT (e.g. test.mosquitto.org:1883) instead of the embedded one.
    #[arg(long, value_name = "HOST:PORT")]
    broker: Option<String>,
    /// MQTT protocol version: 5, or 3 for 3.1.1 [default: 5; 3 with --format thingspeak].
    #[arg(long, value_parser = ["3", "5"])]
    mqtt: Option<String>,
    /// Payload format: the lab's bare JSON number, or a ThingSpeak channel update.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Topic for JSON [default: sensorpub/<device>/value]; ThingSpeak's is channels/<ID>/publish.
    #[arg(long, value_name = "T")]
    topic: Option<String>,
    /// How many samples to publish.
    #[arg(long, value_name = "N", default_value_t = 5)]
    count: u32,
    /// Milliseconds between samples (ThingSpeak also waits out its 15 s update limit).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    interval_ms: u32,
    /// Quality of service: 0, or 1 (acknowledged; not allowed by ThingSpeak).
    #[arg(long, value_parser = ["0", "1"], default_value = "0")]
    qos: String,
    /// Device name: in the topic and the MQTT client id.
    #[arg(long, value_name = "NAME", default_value = "apricot")]
    device: String,
    /// ThingSpeak channel id (with --format thingspeak).
    #[arg(long, value_name = "ID")]
    channel: Option<u32>,
    /// ThingSpeak MQTT-device client id (the password comes from THINGSPEAK_MQTT_PASSWORD).
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// ThingSpeak MQTT-device user name.
    #[arg(long, value_name = "U")]
    username: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A bare JSON number, as the lab's `ujson.dumps(value)`.
    Json,
    /// `field1=<value>` on channels/<ID>/publish (MQTT 3.1.1, QoS 0).
    Thingspeak,
}

/// Environment variable with the ThingSpeak MQTT-device password (never a flag: flags show
/// in shell history and `ps`).
const PASSWORD_VAR: &str = "THINGSPEAK_MQTT_PASSWORD";
/// Bytes for one message: topic plus payload.
const MESSAGE_BUFFER: usize = 512;
/// How long to wait for the subscriber to see the last message.
const DRAIN: Duration = Duration::from_secs(10);
/// Messages kept while the broker is away; the oldest goes first when full.
const OUTAGE_MESSAGES: usize = 16;
/// First reconnection wait; it doubles (with jitter) up to the cap.
const RECONNECT_BASE_MS: u32 = 250;
/// Longest wait between two reconnection attempts.
const RECONNECT_CAP_MS: u32 = 5_000;
/// Attempts before the example gives up on a broker that went away.
const RECONNECT_ATTEMPTS: u32 = 8;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            print!("{e}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("error: bad arguments"));
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- setup

type Failure = Box<dyn std::error::Error>;

fn run(args: &Args) -> Result<(), Failure> {
    let thingspeak = args.format == Format::Thingspeak;
    let mqtt5 = match args.mqtt.as_deref() {
        Some("5") if thingspeak => {
            return Err("ThingSpeak speaks MQTT 3.1.1 only: use --mqtt 3".into());
        }
        Some("5") => true,
        Some(_) => false,
        None => !thingspeak,
    };
    let qos = if args.qos == "1" {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };

    let (broker_address, subscriber_address) = match &args.broker {
        Some(address) => (address.clone(), address.clone()),
        None => {
            let embedded = broker::start()?;
            let port = if mqtt5 {
                embedded.v5_port
            } else {
                embedded.v311_port
            };
            println!(
                "embedded MQTT broker on 127.0.0.1:{} (MQTT 5) and 127.0.0.1:{} (MQTT 3.1.1)",
                embedded.v5_port, embedded.v311_port
            );
            (
                format!("127.0.0.1:{port}"),
                format!("127.0.0.1:{}", embedded.v5_port),
            )
        }
    };
    let broker = Broker::parse(&broker_address)?;
    let stack = Stack::default();
    let sensor = RandomSensor::new(rand::rng());
    let client_id = format!("sensorpub-{}", args.device);

    if thingspeak {
        let channel = args
            .channel
            .ok_or("--format thingspeak needs --channel ID")?;
        let device_id = args
            .client_id
            .as_deref()
            .ok_or("--format thingspeak needs --client-id ID")?;
        let username = args
            .username
            .as_deref()
            .ok_or("--format thingspeak needs --username U")?;
        let password = std::env::var(PASSWORD_VAR)
            .map_err(|_| format!("--format thingspeak needs the password in {PASSWORD_VAR}"))?;
        let profile = ThingSpeak::new(channel, device_id, username, &password)
            .with_broker(broker)
            .with_qos(qos)?;
        let sink = profile.sink(&[(1, Quantity::Value)])?;
        let topic = format!("channels/{channel}/publish");
        let subscriber = Subscriber {
            address: subscriber_address,
            client_id: format!("{client_id}-subscriber"),
            topic: topic.clone(),
        };
        let (mut tx, mut rx) = ([0u8; MESSAGE_BUFFER], [0u8; 64]);
        let transport = profile.transport(&stack, &mut tx, &mut rx);
        println!(
            "publishing {} samples to {topic} at {broker} over MQTT 3.1.1, QoS 0",
            args.count
        );
        // MQTT 3.1.1 has no runner: the transport does its I/O inside its own calls.
        let runner = pending::<()>();
        return publish(
            args,
            sensor,
            sink,
            transport,
            runner,
            profile.qos(),
            subscriber,
        );
    }

    let topic = args
        .topic
        .clone()
        .unwrap_or_else(|| format!("sensorpub/{}/value", args.device));
    let sink = JsonSink::value(&topic);
    let subscriber = Subscriber {
        address: subscriber_address,
        client_id: format!("{client_id}-subscriber"),
        topic: topic.clone(),
    };
    let options = MqttOptions::new(&client_id);
    let version = if mqtt5 { "5" } else { "3.1.1" };
    println!(
        "publishing {} samples to {topic} at {broker} over MQTT {version}, QoS {}",
        args.count, args.qos
    );
    if mqtt5 {
        let mut buffers = Mqtt5Buffers::<256, { 2 * MESSAGE_BUFFER - 256 }, MESSAGE_BUFFER>::new();
        let (transport, mut runner) = Mqtt5::new(&stack, broker, options, &mut buffers)?;
        publish(args, sensor, sink, transport, runner.run(), qos, subscriber)
    } else {
        let (mut tx, mut rx) = ([0u8; MESSAGE_BUFFER], [0u8; 64]);
        let transport = Mqtt311::new(&stack, broker, options, &mut tx, &mut rx);
        publish(
            args,
            sensor,
            sink,
            transport,
            pending::<()>(),
            qos,
            subscriber,
        )
    }
}

// ---------------------------------------------------------------- the loop

/// Who watches the topic: the subscriber connects after the publisher, so a broker that is
/// unreachable or refuses is reported by the transport under test.
struct Subscriber {
    address: String,
    client_id: String,
    topic: String,
}

/// Connects, subscribes, publishes `args.count` samples one `args.interval_ms` apart, waits
/// until the subscriber saw them all. `runner` (MQTT 5's) runs beside it all.
#[allow(clippy::too_many_arguments)]
fn publish<K, T, R>(
    args: &Args,
    sensor: RandomSensor<rand::rngs::ThreadRng>,
    sink: K,
    mut transport: T,
    runner: R,
    qos: QoS,
    subscriber: Subscriber,
) -> Result<(), Failure>
where
    K: Sink,
    K::Error: std::error::Error + 'static,
    T: Transport + Disconnect,
    T::Error: std::error::Error + 'static,
    R: Future,
{
    let work = async {
        transport.connect().await?;
        let arrivals =
            subscriber::start(subscriber.address, subscriber.client_id, subscriber.topic)?;
        async {
            let mut buf = [0u8; MESSAGE_BUFFER];
            let publisher = Publisher::new(
                sensor,
                sink,
                &mut transport,
                clock::HostClock::new(),
                &mut buf,
            )
            .with_qos(qos);
            // Rides out a broker that goes away: samples wait in the queue (oldest dropped and
            // counted when it is full) while the transport reconnects with jittered backoff.
            let backoff = Backoff::new(
                BackoffConfig::new(RECONNECT_BASE_MS, RECONNECT_CAP_MS)?
                    .with_max_attempts(RECONNECT_ATTEMPTS)?,
                rand::rng(),
            );
            let queue =
                MessageQueue::<OUTAGE_MESSAGES, { OUTAGE_MESSAGES * MESSAGE_BUFFER }>::new();
            let mut publisher = ResilientPublisher::new(publisher, backoff, queue);
            for sample in 1..=args.count {
                publisher.publish_once().await?;
                println!("published sample {sample}/{}", args.count);
                if sample < args.count {
                    async_io::Timer::after(Duration::from_millis(u64::from(args.interval_ms)))
                        .await;
                }
            }
            // Anything still queued (the broker was away at the end) goes out before we leave.
            publisher.flush().await?;
            let stats = publisher.stats();
            if stats.reconnects > 0 || stats.dropped > 0 {
                println!(
                    "reconnected {} times, dropped {} messages",
                    stats.reconnects, stats.dropped
                );
            }
            Ok::<(), Failure>(())
        }
        .await?;
        for received in 0..args.count {
            if arrivals.recv_timeout(DRAIN).is_err() {
                return Err(format!(
                    "only {received} of {} messages reached the subscriber",
                    args.count
                )
                .into());
            }
        }
        transport.disconnect().await;
        Ok(())
    };
    match async_io::block_on(select(runner, work)) {
        Either::First(_) => Err("the MQTT 5 runner stopped".into()),
        Either::Second(result) => result,
    }
}

/// A clean end: DISCONNECT, so the broker logs a disconnect rather than a lost client.
trait Disconnect {
    async fn disconnect(&mut self);
}

impl Disconnect for Mqtt5<'_> {
    async fn disconnect(&mut self) {
        Mqtt5::disconnect(self).await;
    }
}

impl<N: embedded_nal_async::TcpConnect + embedded_nal_async::Dns> Disconnect for Mqtt311<'_, N> {
    async fn disconnect(&mut self) {
        Mqtt311::disconnect(self).await;
    }
}
