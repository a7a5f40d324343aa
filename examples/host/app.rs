//! The host example's program: command line, setup, the publishing run and what its exit
//! code means. `examples/host.rs` calls [`cli`]; `tests/host_example.rs` calls it too.

#[path = "broker.rs"]
mod broker;
#[path = "clock.rs"]
mod clock;
#[path = "delivery.rs"]
pub mod delivery;
#[path = "subscriber.rs"]
mod subscriber;

use clap::{Parser, ValueEnum};
use core::future::{Future, pending};
use core::pin::{Pin, pin};
use delivery::{
    DEFAULT_GIVE_UP_S, DEFAULT_INTERVAL_MS, DEFAULT_QUEUE, OutageWatch, QUEUE_CHOICES, Watched,
};
use embassy_futures::select::{Either, select};
use sensorpub::{
    Announcing, Backoff, EncodeError, HA_STATUS_TOPIC, HaDevice, HaDiscovery, Inbox, JsonSink,
    Message, MessageQueue, Publisher, QoS, Quantity, RandomSensor, ResilientPublisher, Sample,
    SenmlSink, Sink, Subscription, Transport,
};
use sensorpub::{
    Broker, Mqtt5, Mqtt5Buffers, Mqtt311, Mqtt311Tls, Mqtt311TlsBuffers, MqttOptions, ThingSpeak,
};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Display;
use std::time::{Duration, Instant};
use std_embedded_nal_async::Stack;

// ---------------------------------------------------------------- configuration

/// Publish random sensor values over MQTT (5 or 3.1.1) as JSON or to ThingSpeak.
///
/// Without --broker an MQTT broker starts inside this program on 127.0.0.1, and a subscriber
/// checks that every message arrived. Through broker outages messages wait in a queue and
/// the publisher reconnects.
#[derive(Parser, Debug)]
#[command(
    name = "host",
    version,
    after_help = "Exit status: 0 every message was delivered (QoS 1: acknowledged by the broker; \
                  QoS 0: written to an open connection); 1 a message was dropped, the run gave \
                  up, or the broker is unreachable or refused; 2 bad input; 3 delivered, but \
                  the verifying subscriber did not see every message."
)]
pub struct Args {
    /// Use the broker at HOST:PORT (e.g. test.mosquitto.org:1883) instead of the embedded one.
    /// Repeat it to name the nodes of a cluster: after a failed connect or a lost connection
    /// the publisher tries the next one, round robin (--verify subscribes to the first).
    #[arg(long, value_name = "HOST:PORT")]
    broker: Vec<String>,
    /// MQTT protocol version: 5, or 3 for 3.1.1 [default: 5; 3 with --format thingspeak].
    #[arg(long, value_parser = ["3", "5"])]
    mqtt: Option<String>,
    /// Payload format: the lab's bare JSON number (a JSON object with --ha-discovery), SenML
    /// (RFC 8428), or a ThingSpeak channel update.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// Announce the sensor to Home Assistant: retained discovery configs under
    /// homeassistant/sensor/<device>/ after every connect, retained online/offline on
    /// sensorpub/<device>/status (birth and will); the state becomes {"value":N}.
    #[arg(long)]
    ha_discovery: bool,
    /// Topic for JSON [default: sensorpub/<device>/value]; ThingSpeak's is channels/<ID>/publish.
    #[arg(long, value_name = "T")]
    topic: Option<String>,
    /// How many samples to publish (at least 1).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Milliseconds between samples (ThingSpeak also waits out its 15 s update limit).
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_INTERVAL_MS,
          value_parser = clap::value_parser!(u32).range(1..))]
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
    /// Check by subscribing that every message came back through the broker (always on with
    /// the embedded broker; never with ThingSpeak, which refuses subscribers without
    /// credentials).
    #[arg(long)]
    verify: bool,
    /// Give up when the broker has been away this many seconds (0: never).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_GIVE_UP_S)]
    give_up_after: u64,
    /// Messages kept while the broker is away (the oldest is dropped when full, and the run
    /// fails): 16, 64, 256, 1024, 4096 or 16384.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_QUEUE, value_parser = parse_queue)]
    queue: usize,
    /// MQTT over TLS 1.3 (MQTT 3.1.1 and 5, ThingSpeak too; needs --broker, whose port
    /// defaults to 8883 then).
    #[arg(long)]
    tls: bool,
    /// PEM (or DER) file of the CA that signed the broker's certificate (with --tls).
    #[arg(long, value_name = "FILE")]
    ca: Option<std::path::PathBuf>,
    /// PEM file of this device's certificate, for brokers that require one (with --tls).
    #[arg(long, value_name = "FILE")]
    client_cert: Option<std::path::PathBuf>,
    /// PEM file of the client certificate's ECDSA P-256 private key (with --client-cert).
    #[arg(long, value_name = "FILE")]
    client_key: Option<std::path::PathBuf>,
    /// INSECURE: with --tls, accept any certificate instead of verifying against --ca.
    #[arg(long)]
    danger_accept_any_certificate: bool,
}

/// The DER bytes of a PEM (or already DER) file, or one line saying why not.
fn read_der(path: &std::path::Path, what: &str) -> Result<Vec<u8>, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::bad_input(format!("cannot read {what} {}: {e}", path.display())))?;
    if bytes.first() == Some(&0x30) {
        return Ok(bytes);
    }
    let mut der = vec![0u8; bytes.len()];
    let len = sensorpub::pem_to_der(&bytes, &mut der)
        .map_err(|e| Failure::bad_input(format!("{what} {}: {e}", path.display())))?
        .len();
    der.truncate(len);
    Ok(der)
}

/// What `--tls` and its files ask for: the CA (`None`: any certificate) and the client's
/// certificate and key, as DER.
struct TlsFiles {
    ca: Option<Vec<u8>>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

/// Checks the TLS flags and reads their files, before anything connects.
fn tls_files(args: &Args) -> Result<Option<TlsFiles>, Failure> {
    if !args.tls {
        if args.ca.is_some()
            || args.client_cert.is_some()
            || args.client_key.is_some()
            || args.danger_accept_any_certificate
        {
            return Err(Failure::bad_input(
                "--ca, --client-cert, --client-key and --danger-accept-any-certificate need --tls",
            ));
        }
        return Ok(None);
    }
    if args.broker.is_empty() {
        return Err(Failure::bad_input(
            "--tls needs --broker HOST[:PORT] (the embedded broker speaks plaintext only)",
        ));
    }
    if args.verify {
        return Err(Failure::bad_input(
            "--verify subscribes in plaintext: check TLS deliveries with mosquitto_sub --cafile",
        ));
    }
    let ca = match (&args.ca, args.danger_accept_any_certificate) {
        (Some(_), true) => {
            return Err(Failure::bad_input(
                "--ca and --danger-accept-any-certificate contradict each other: choose one",
            ));
        }
        (Some(path), false) => Some(read_der(path, "CA file")?),
        (None, true) => None,
        (None, false) => {
            return Err(Failure::bad_input(
                "--tls needs --ca FILE (the broker's CA, PEM) to verify the broker",
            ));
        }
    };
    let client = match (&args.client_cert, &args.client_key) {
        (Some(cert), Some(key)) => Some((
            read_der(cert, "client certificate")?,
            read_der(key, "client key")?,
        )),
        (None, None) => None,
        _ => {
            return Err(Failure::bad_input(
                "--client-cert and --client-key go together: give both",
            ));
        }
    };
    Ok(Some(TlsFiles { ca, client }))
}

impl TlsFiles {
    /// The TLS options these files ask for; validity dates checked against the system clock.
    fn options(&self) -> sensorpub::TlsOptions<'_> {
        let mut options = match &self.ca {
            Some(ca) => sensorpub::TlsOptions::verified(ca).with_clock(unix_now),
            None => sensorpub::TlsOptions::danger_unverified(),
        };
        if let Some((certificate, key)) = &self.client {
            options = options.with_client_certificate(certificate, key);
        }
        options
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A bare JSON number, as the lab's `ujson.dumps(value)`.
    Json,
    /// SenML JSON (RFC 8428): `[{"bn":"<device>:","n":"value","v":N}]`.
    Senml,
    /// `field1=<value>` on channels/<ID>/publish (MQTT 3.1.1, QoS 0).
    Thingspeak,
}

fn parse_queue(text: &str) -> Result<usize, String> {
    let n: usize = text.parse().map_err(|e| format!("{e}"))?;
    if QUEUE_CHOICES.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "the queue holds 16, 64, 256, 1024, 4096 or 16384 messages (its capacity is a \
             compile-time constant, as on a microcontroller), not {n}"
        ))
    }
}

/// Environment variable with the ThingSpeak MQTT-device password (never a flag: flags show
/// in shell history and `ps`).
pub const PASSWORD_VAR: &str = "THINGSPEAK_MQTT_PASSWORD";
/// Bytes for one message: topic plus payload.
const MESSAGE_BUFFER: usize = 512;
/// Bytes for one Home Assistant discovery config: topic plus payload.
const CONFIG_BUFFER: usize = 768;
/// How long the verifying subscriber may take for the next message.
const DRAIN: Duration = Duration::from_secs(5);
/// How often the run checks whether an outage has lasted long enough to give up.
const WATCH_PERIOD: Duration = Duration::from_millis(200);
/// Stack for the publishing thread beyond the queue, which lives on it.
const STACK_BASE: usize = 8 << 20;

/// The exit status for a run that did not deliver everything.
pub const EXIT_FAILED: u8 = 1;
/// The exit status for bad input.
pub const EXIT_BAD_INPUT: u8 = 2;
/// The exit status for a run whose verifying subscriber missed messages.
pub const EXIT_UNVERIFIED: u8 = 3;

/// Why the run failed: the exit status, and one line for stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    /// Exit status.
    pub code: u8,
    /// What went wrong, one line.
    pub message: String,
}

impl Failure {
    fn new(code: u8, message: impl Display) -> Self {
        let text = message.to_string();
        let line = text.lines().next().unwrap_or_default();
        Self {
            code,
            message: line.strip_prefix("error: ").unwrap_or(line).to_owned(),
        }
    }

    fn bad_input(message: impl Display) -> Self {
        Self::new(EXIT_BAD_INPUT, message)
    }

    fn failed(message: impl Display) -> Self {
        Self::new(EXIT_FAILED, message)
    }
}

/// Parses `args` (the first is the program name) and runs; `password` is the value of
/// [`PASSWORD_VAR`]. `Ok` for a run that delivered every message (and for `--help`).
pub fn cli<I, T>(args: I, password: Option<String>) -> Result<(), Failure>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = match Args::try_parse_from(args) {
        Ok(args) => args,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            print!("{e}");
            return Ok(());
        }
        Err(e) => return Err(Failure::bad_input(e)),
    };
    // The queue lives on the publishing thread's stack (no heap in the library's types).
    let stack = STACK_BASE + 4 * args.queue * MESSAGE_BUFFER;
    std::thread::Builder::new()
        .name("publisher".to_owned())
        .stack_size(stack)
        .spawn(move || run(&args, password))
        .map_err(|e| Failure::failed(format!("cannot start the publishing thread: {e}")))?
        .join()
        .map_err(|_| Failure::failed("the publishing thread panicked"))?
}

// ---------------------------------------------------------------- commands

/// Bytes of the command inbox: topic plus payload of one command.
const COMMAND_INBOX: usize = 96;

/// The inbox every run subscribes into (README "Commands"): `sensorpub/<device>/set/interval`,
/// and `homeassistant/status` with --ha-discovery. One per publishing thread, leaked so it
/// outlives the transport and the publisher that read it.
fn commands() -> &'static Inbox<COMMAND_INBOX> {
    thread_local! {
        static INBOX: &'static Inbox<COMMAND_INBOX> = Box::leak(Box::new(Inbox::new()));
    }
    INBOX.with(|inbox| *inbox)
}

/// The topic of the `set/interval` command.
fn command_topic(args: &Args) -> String {
    format!("sensorpub/{}/set/interval", args.device)
}

// ---------------------------------------------------------------- setup

fn run(args: &Args, password: Option<String>) -> Result<(), Failure> {
    let thingspeak = args.format == Format::Thingspeak;
    let mqtt5 = match args.mqtt.as_deref() {
        Some("5") if thingspeak => {
            return Err(Failure::bad_input(
                "ThingSpeak speaks MQTT 3.1.1 only: use --mqtt 3",
            ));
        }
        Some("5") => true,
        Some(_) => false,
        None => !thingspeak,
    };
    if thingspeak && args.ha_discovery {
        return Err(Failure::bad_input(
            "--ha-discovery does not work with ThingSpeak: it refuses the will that marks \
             the device offline",
        ));
    }
    if args.format == Format::Senml && args.ha_discovery {
        return Err(Failure::bad_input(
            "--ha-discovery needs --format json: Home Assistant reads the JSON object",
        ));
    }
    if thingspeak && args.verify {
        return Err(Failure::bad_input(
            "--verify does not work with ThingSpeak: it refuses subscribers without \
             credentials; check the channel's page instead",
        ));
    }
    let qos = if args.qos == "1" {
        QoS::AtLeastOnce
    } else {
        QoS::AtMostOnce
    };

    // Everything the user typed is checked before anything starts or connects.
    let client_id = format!("sensorpub-{}", args.device);
    let topic = match (thingspeak, &args.topic) {
        (false, Some(topic)) => topic.clone(),
        (false, None) => format!("sensorpub/{}/value", args.device),
        (true, _) => String::new(),
    };
    let status = format!("sensorpub/{}/status", args.device);
    let quantities = [Quantity::Value];
    let discovery = if args.ha_discovery {
        let device = HaDevice::new(&args.device, &args.device)
            .with_model("sensorpub host example")
            .with_sw_version(env!("CARGO_PKG_VERSION"));
        let discovery = HaDiscovery::new(device, &topic, &status, &quantities)
            .map_err(Failure::bad_input)?
            .with_sample_period_ms(u64::from(args.interval_ms));
        Some(discovery)
    } else {
        None
    };
    let sink = match args.format {
        Format::Json if args.ha_discovery => Some(StateSink::Json(
            JsonSink::object(&topic).map_err(Failure::bad_input)?,
        )),
        Format::Json => Some(StateSink::Json(
            JsonSink::value(&topic).map_err(Failure::bad_input)?,
        )),
        Format::Senml => Some(StateSink::Senml(
            SenmlSink::new(&topic, &args.device).map_err(Failure::bad_input)?,
        )),
        Format::Thingspeak => None,
    };
    let credentials = if thingspeak {
        Some(thingspeak_credentials(args, password)?)
    } else {
        None
    };
    for address in &args.broker {
        Broker::parse(address).map_err(Failure::bad_input)?;
    }
    let tls = tls_files(args)?;

    let (broker_address, subscriber_address) = match args.broker.first() {
        Some(address) => (address.clone(), address.clone()),
        None => {
            let embedded = broker::start().map_err(Failure::failed)?;
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
    let verify = !thingspeak && (args.verify || args.broker.is_empty());
    let with_tls = tls.is_some();
    let broker = parse_broker(&broker_address, with_tls)?;
    // The other --broker nodes, tried in turn after the first (MqttOptions::with_fallbacks).
    let fallbacks = args
        .broker
        .iter()
        .skip(1)
        .map(|address| parse_broker(address, with_tls))
        .collect::<Result<Vec<_>, _>>()?;
    if !fallbacks.is_empty() {
        println!(
            "failover: {} more broker(s) after {broker}: {}",
            fallbacks.len(),
            fallbacks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let stack = Stack::default();

    if let Some((channel, device_id, username, password)) = &credentials {
        let profile = ThingSpeak::new(*channel, device_id, username, password)
            .with_broker(broker)
            .with_fallbacks(&fallbacks)
            .with_qos(qos)
            .map_err(Failure::bad_input)?;
        let sink = profile
            .sink(&[(1, Quantity::Value)])
            .map_err(Failure::bad_input)?;
        println!(
            "publishing {} samples to channels/{channel}/publish at {broker} over MQTT 3.1.1{}, \
             QoS 0",
            args.count,
            if tls.is_some() { " and TLS 1.3" } else { "" }
        );
        if let Some(files) = &tls {
            let mut buffers = Mqtt311TlsBuffers::<MESSAGE_BUFFER, 64, MESSAGE_BUFFER>::new();
            let mut tls_buffers = sensorpub::TlsBuffers::<16_640, { 2 * MESSAGE_BUFFER }>::new();
            let mut rng = rand::rng();
            let (transport, mut runner) = Mqtt311Tls::new(
                &stack,
                broker,
                profile.options(),
                &mut buffers,
                files.options(),
                &mut tls_buffers,
                &mut rng,
            );
            return publish(args, sink, transport, runner.run(), profile.qos(), None);
        }
        let (mut tx, mut rx) = ([0u8; MESSAGE_BUFFER], [0u8; 64]);
        let transport = profile.transport(&stack, &mut tx, &mut rx);
        // MQTT 3.1.1 has no runner: the transport does its I/O inside its own calls.
        return publish(args, sink, transport, pending::<()>(), profile.qos(), None);
    }

    let Some(sink) = sink else {
        return Err(Failure::bad_input("no sink for this format"));
    };
    let subscriber = verify.then(|| Subscriber {
        address: subscriber_address,
        client_id: format!("{client_id}-subscriber"),
        topic: topic.clone(),
    });
    let interval_topic: &'static str = command_topic(args).leak();
    let subscriptions: &'static [Subscription<'static>] = if args.ha_discovery {
        Box::leak(Box::new([
            Subscription::new(interval_topic, QoS::AtLeastOnce),
            Subscription::new(HA_STATUS_TOPIC, QoS::AtLeastOnce),
        ]))
    } else {
        Box::leak(Box::new([Subscription::new(
            interval_topic,
            QoS::AtLeastOnce,
        )]))
    };
    println!("listening for commands on {interval_topic} (seconds between samples)");
    let mut options = MqttOptions::new(&client_id)
        .with_fallbacks(&fallbacks)
        .with_subscriptions(subscriptions);
    if let Some(discovery) = &discovery {
        options = discovery.availability(options);
        let node = discovery.device().id();
        println!(
            "announcing to Home Assistant: {} retained config(s) under \
             homeassistant/sensor/{node}/, availability on {status}",
            discovery.len()
        );
    }
    let version = if mqtt5 { "5" } else { "3.1.1" };
    let over = match &tls {
        Some(TlsFiles { ca: Some(_), .. }) => " and TLS 1.3",
        Some(TlsFiles { ca: None, .. }) => " and TLS 1.3 (UNVERIFIED)",
        None => "",
    };
    println!(
        "publishing {} samples to {topic} at {broker} over MQTT {version}{over}, QoS {}",
        args.count, args.qos
    );
    if let Some(files) = &tls
        && !mqtt5
    {
        let mut buffers = Mqtt311TlsBuffers::<CONFIG_BUFFER, 64, CONFIG_BUFFER>::new();
        let mut tls_buffers = sensorpub::TlsBuffers::<16_640, { 2 * CONFIG_BUFFER }>::new();
        let mut rng = rand::rng();
        let (transport, runner) = Mqtt311Tls::new(
            &stack,
            broker,
            options,
            &mut buffers,
            files.options(),
            &mut tls_buffers,
            &mut rng,
        );
        let mut runner = runner.with_inbox(commands());
        let runner = runner.run();
        return announced(args, sink, transport, runner, qos, subscriber, discovery);
    }
    if let Some(files) = &tls {
        let tls_options = files.options();
        let mut buffers = Mqtt5Buffers::<256, { 2 * MESSAGE_BUFFER - 256 }, MESSAGE_BUFFER>::new();
        let mut tls_buffers = sensorpub::TlsBuffers::<16_640, { 2 * MESSAGE_BUFFER }>::new();
        let mut rng = rand::rng();
        let (transport, runner) = Mqtt5::new_tls(
            &stack,
            broker,
            options,
            &mut buffers,
            tls_options,
            &mut tls_buffers,
            &mut rng,
        )
        .map_err(Failure::bad_input)?;
        let mut runner = runner.with_inbox(commands());
        return publish(args, sink, transport, runner.run(), qos, subscriber);
    }
    if mqtt5 {
        let mut buffers = Mqtt5Buffers::<256, { 2 * CONFIG_BUFFER - 256 }, CONFIG_BUFFER>::new();
        let (transport, runner) =
            Mqtt5::new(&stack, broker, options, &mut buffers).map_err(Failure::bad_input)?;
        let mut runner = runner.with_inbox(commands());
        let runner = runner.run();
        announced(args, sink, transport, runner, qos, subscriber, discovery)
    } else {
        let (mut tx, mut rx) = ([0u8; CONFIG_BUFFER], [0u8; 64]);
        let transport =
            Mqtt311::new(&stack, broker, options, &mut tx, &mut rx).with_inbox(commands());
        let runner = pending::<()>();
        announced(args, sink, transport, runner, qos, subscriber, discovery)
    }
}

/// `address` as a broker; with TLS, port 8883 when the address names none (Broker::parse's
/// default is 1883).
fn parse_broker(address: &str, tls: bool) -> Result<Broker<'_>, Failure> {
    let broker = Broker::parse(address).map_err(Failure::bad_input)?;
    if tls && broker.port() == 1883 && !address.ends_with(":1883") {
        return Ok(Broker::new(broker.host(), sensorpub::MQTT_TLS_PORT));
    }
    Ok(broker)
}

/// The state sinks of the MQTT formats.
enum StateSink<'a> {
    Json(JsonSink<'a>),
    Senml(SenmlSink<'a>),
}

impl Sink for StateSink<'_> {
    type Error = EncodeError;

    fn message_count<const N: usize>(&self, sample: &Sample<N>) -> usize {
        match self {
            StateSink::Json(sink) => sink.message_count(sample),
            StateSink::Senml(sink) => sink.message_count(sample),
        }
    }

    fn encode<'m, const N: usize>(
        &'m self,
        sample: &Sample<N>,
        index: usize,
        now_ms: u64,
        buf: &'m mut [u8],
    ) -> Result<Message<'m>, EncodeError> {
        match self {
            StateSink::Json(sink) => sink.encode(sample, index, now_ms, buf),
            StateSink::Senml(sink) => sink.encode(sample, index, now_ms, buf),
        }
    }
}

/// [`publish`] through a transport that announces `discovery` after every connect, if given.
#[allow(clippy::too_many_arguments)]
fn announced<K, T, R>(
    args: &Args,
    sink: K,
    transport: T,
    runner: R,
    qos: QoS,
    subscriber: Option<Subscriber>,
    discovery: Option<HaDiscovery<'_>>,
) -> Result<(), Failure>
where
    K: Sink,
    K::Error: Display,
    T: Transport + Disconnect,
    T::Error: Display,
    R: Future,
{
    let Some(discovery) = discovery else {
        return publish(args, sink, transport, runner, qos, subscriber);
    };
    let mut buf = [0u8; CONFIG_BUFFER];
    let transport = Announcing::new(transport, discovery, &mut buf)
        .map_err(Failure::bad_input)?
        .with_ha_status(commands());
    publish(args, sink, transport, runner, qos, subscriber)
}

/// Channel, client id, user name and password for ThingSpeak, each checked.
fn thingspeak_credentials(
    args: &Args,
    password: Option<String>,
) -> Result<(u32, String, String, String), Failure> {
    let channel = args
        .channel
        .ok_or_else(|| Failure::bad_input("--format thingspeak needs --channel ID"))?;
    // The sink refuses channel 0 (and any other bad channel) with its own words.
    sensorpub::ThingSpeakSink::new(channel, &[(1, Quantity::Value)]).map_err(Failure::bad_input)?;
    let client_id = args
        .client_id
        .clone()
        .ok_or_else(|| Failure::bad_input("--format thingspeak needs --client-id ID"))?;
    let username = args
        .username
        .clone()
        .ok_or_else(|| Failure::bad_input("--format thingspeak needs --username U"))?;
    let password = password.ok_or_else(|| {
        Failure::bad_input(format!(
            "--format thingspeak needs the MQTT device's password in {PASSWORD_VAR}"
        ))
    })?;
    if password.is_empty() {
        return Err(Failure::bad_input(format!(
            "{PASSWORD_VAR} is empty: set it to the MQTT device's password"
        )));
    }
    Ok((channel, client_id, username, password))
}

/// The wall clock for certificate dates: the host's, as Unix seconds.
fn unix_now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

// ---------------------------------------------------------------- the run

/// Who watches the topic when delivery is verified: the subscriber connects after the
/// publisher, so a broker that is unreachable or refuses is reported by the transport.
struct Subscriber {
    address: String,
    client_id: String,
    topic: String,
}

/// Runs [`deliver`] with the queue capacity `args.queue` (a type parameter). `runner` is the
/// transport's connection runner (MQTT 5's), polled beside everything the transport does.
fn publish<K, T, R>(
    args: &Args,
    sink: K,
    transport: T,
    runner: R,
    qos: QoS,
    subscriber: Option<Subscriber>,
) -> Result<(), Failure>
where
    K: Sink,
    K::Error: Display,
    T: Transport + Disconnect,
    T::Error: Display,
    R: Future,
{
    const B: usize = MESSAGE_BUFFER;
    let r = runner;
    match args.queue {
        16 => deliver::<K, T, R, 16, { 16 * B }>(args, sink, transport, r, qos, subscriber),
        64 => deliver::<K, T, R, 64, { 64 * B }>(args, sink, transport, r, qos, subscriber),
        256 => deliver::<K, T, R, 256, { 256 * B }>(args, sink, transport, r, qos, subscriber),
        1024 => deliver::<K, T, R, 1024, { 1024 * B }>(args, sink, transport, r, qos, subscriber),
        4096 => deliver::<K, T, R, 4096, { 4096 * B }>(args, sink, transport, r, qos, subscriber),
        16384 => {
            deliver::<K, T, R, 16384, { 16384 * B }>(args, sink, transport, r, qos, subscriber)
        }
        n => Err(Failure::bad_input(
            parse_queue(&n.to_string()).err().unwrap_or_default(),
        )),
    }
}

/// Connects, publishes `args.count` samples one `args.interval_ms` apart through a
/// `ResilientPublisher` (queue of `MSGS` messages, reconnection with backoff), gives up when
/// an outage lasts `args.give_up_after` seconds, then checks what the publisher knows and,
/// when verifying, what the subscriber saw.
fn deliver<K, T, R, const MSGS: usize, const BYTES: usize>(
    args: &Args,
    sink: K,
    transport: T,
    runner: R,
    qos: QoS,
    subscriber: Option<Subscriber>,
) -> Result<(), Failure>
where
    K: Sink,
    K::Error: Display,
    T: Transport + Disconnect,
    T::Error: Display,
    R: Future,
{
    let mut runner = pin!(runner);
    let start = Instant::now();
    let now_ms = move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let watch = OutageWatch::new(args.give_up_after);
    let kept = RefCell::new(Vec::new());
    let mut transport = Watched::new(transport, &watch, now_ms).echo();
    if subscriber.is_some() {
        transport = transport.keep(&kept);
    }
    // The first connection decides whether the broker is there at all (unreachable, refused:
    // one line, exit 1); later losses are outages the publisher rides out. With several
    // --broker nodes each gets one try (a failed connect moves the transport to the next).
    let mut first = Ok(());
    for _ in 0..args.broker.len().max(1) {
        first = beside(&mut runner, transport.connect())?;
        if first.is_ok() {
            break;
        }
    }
    first.map_err(Failure::failed)?;
    let arrivals = match &subscriber {
        Some(s) => Some(
            subscriber::start(s.address.clone(), s.client_id.clone(), s.topic.clone())
                .map_err(Failure::failed)?,
        ),
        None => None,
    };

    let mut buf = [0u8; MESSAGE_BUFFER];
    let interval_topic = command_topic(args);
    let publisher = Publisher::new(
        RandomSensor::new(rand::rng()),
        sink,
        &mut transport,
        clock::HostClock::new(),
        &mut buf,
    )
    .with_qos(qos)
    .with_interval_command(commands(), &interval_topic);
    let backoff = Backoff::new(
        delivery::backoff_config().map_err(Failure::bad_input)?,
        rand::rng(),
    );
    let mut publisher =
        ResilientPublisher::new(publisher, backoff, MessageQueue::<MSGS, BYTES>::new());
    let outcome = beside(
        &mut runner,
        select(
            publisher.run_for(args.interval_ms, args.count),
            give_up_watch(&watch, now_ms),
        ),
    )?;
    let stats = publisher.stats();
    match publisher.publisher().interval_status() {
        Some(Ok(ms)) => println!("command: {interval_topic} set the period to {ms} ms"),
        Some(Err(e)) => println!("command refused: {e} (the period did not change)"),
        None => {}
    }
    drop(publisher);
    let delivered = stats.published;
    match outcome {
        Either::First(Ok(())) => {}
        Either::First(Err(e)) => return Err(Failure::failed(e)),
        Either::Second(()) => {
            return Err(Failure::failed(format!(
                "gave up: the broker was away for {} s (--give-up-after; last error: {}); \
                 {delivered} of {} messages delivered",
                args.give_up_after,
                watch.last_error().unwrap_or_default(),
                args.count,
            )));
        }
    }
    if stats.dropped > 0 {
        return Err(Failure::failed(format!(
            "{} of {} messages dropped: the queue of {MSGS} filled during an outage (raise \
             --queue); reconnected {} times",
            stats.dropped, args.count, stats.reconnects
        )));
    }
    if stats.unsendable > 0 {
        return Err(Failure::failed(format!(
            "{} of {} messages dropped: larger than the transport can send (raise its buffers)",
            stats.unsendable, args.count
        )));
    }
    let meaning = match qos {
        QoS::AtLeastOnce => "acknowledged by the broker",
        QoS::AtMostOnce => "QoS 0: written to an open connection, not acknowledged",
    };
    println!(
        "done: {delivered} of {} messages delivered ({meaning}); reconnected {} times, \
         longest outage {:.1} s",
        args.count,
        stats.reconnects,
        Duration::from_millis(watch.longest_outage_ms()).as_secs_f64()
    );
    if args.broker.len() > 1 {
        let last = args.broker.get(stats.broker).map_or("?", String::as_str);
        println!(
            "failover: switched brokers {} times; last connected to {last} (--broker #{})",
            stats.switches,
            stats.broker + 1
        );
    }
    if let Some(arrivals) = arrivals {
        check_arrivals(&kept.borrow(), &arrivals)?;
    }
    beside(&mut runner, transport.inner_mut().disconnect())?;
    Ok(())
}

/// Runs `work` to completion with the transport's `runner` polled beside it; the runner
/// stays pinned between calls and resumes where it was.
fn beside<R: Future, F: Future>(runner: &mut Pin<&mut R>, work: F) -> Result<F::Output, Failure> {
    match async_io::block_on(select(runner.as_mut(), work)) {
        Either::First(_) => Err(Failure::failed("the MQTT 5 connection runner stopped")),
        Either::Second(output) => Ok(output),
    }
}

/// Completes when the outage has lasted the give-up time; never with `--give-up-after 0`.
async fn give_up_watch(watch: &OutageWatch, mut now_ms: impl FnMut() -> u64) {
    loop {
        async_io::Timer::after(WATCH_PERIOD).await;
        if watch.should_give_up(now_ms()) {
            return;
        }
    }
}

/// Waits until the subscriber has seen every delivered payload (as often as it was
/// delivered; duplicates from QoS 1 resends do no harm).
fn check_arrivals(delivered: &[Vec<u8>], arrivals: &subscriber::Arrivals) -> Result<(), Failure> {
    let mut missing: HashMap<&[u8], usize> = HashMap::new();
    for payload in delivered {
        *missing.entry(payload).or_default() += 1;
    }
    let mut outstanding = delivered.len();
    while outstanding > 0 {
        let Some(payload) = arrivals.next_within(DRAIN) else {
            let why = match arrivals.reconnects() {
                0 => "the broker did not route the rest back".to_owned(),
                n => format!(
                    "it lost its connection and subscribed again {n} times; messages routed \
                     while it was away are lost to it"
                ),
            };
            return Err(Failure::new(
                EXIT_UNVERIFIED,
                format!(
                    "{} messages delivered, but the verifying subscriber saw only {} of them: \
                     {why}",
                    delivered.len(),
                    delivered.len() - outstanding
                ),
            ));
        };
        if let Some(count) = missing.get_mut(payload.as_slice())
            && *count > 0
        {
            *count -= 1;
            outstanding -= 1;
        }
    }
    println!(
        "verified: the subscriber received all {} messages",
        delivered.len()
    );
    Ok(())
}

/// A clean end: DISCONNECT, so the broker logs a disconnect rather than a lost client.
trait Disconnect {
    /// Sends DISCONNECT and closes the connection.
    async fn disconnect(&mut self);
}

/// Home Assistant shows the device offline at once: the will only fires on a lost connection.
impl<T: Transport + Disconnect> Disconnect for Announcing<'_, '_, T> {
    async fn disconnect(&mut self) {
        let offline = self.discovery().offline();
        let _ = self.publish(&offline).await;
        self.inner_mut().disconnect().await;
    }
}

impl Disconnect for Mqtt5<'_> {
    async fn disconnect(&mut self) {
        Mqtt5::disconnect(self).await;
    }
}

impl Disconnect for Mqtt311Tls<'_> {
    async fn disconnect(&mut self) {
        Mqtt311Tls::disconnect(self).await;
    }
}

impl<N: embedded_nal_async::TcpConnect + embedded_nal_async::Dns> Disconnect for Mqtt311<'_, N> {
    async fn disconnect(&mut self) {
        Mqtt311::disconnect(self).await;
    }
}
