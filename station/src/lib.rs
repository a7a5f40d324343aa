//! The PySense node: what the example firmware (`examples/esp32`) does, as one function,
//! [`run`], generic over the network stack (`embedded-nal-async`), the I2C bus
//! (`embedded-hal-async`), the clock and the RNG. The firmware runs it on embassy-net and
//! esp-hal; `tests/firmware_publish.rs` runs the same function on std's network stack against
//! an MQTT broker on 127.0.0.1 with a simulated PySense, so what the device does is tested on
//! every `cargo test`, not only compiled.
//!
//! It is an application of [sensorpub], not part of it: one board, four ThingSpeak fields,
//! its topic format, QoS 1 and two decimals are this node's choices.
//!
//! Every period the node reads the four PySense sensors once and publishes that one sample
//! ([`Publisher::publish`](sensorpub::Publisher::publish)) as a JSON object over MQTT 5
//! (QoS 1) and, when a ThingSpeak channel is configured, as a bulk update over MQTT 3.1.1 at
//! the channel's 15 s interval (samples in between go to the broker only). Each destination
//! is a [`ResilientPublisher`]: while its broker is away the messages wait in a bounded queue
//! and the connection is retried on a jittered exponential backoff, so an outage shorter than
//! the queue loses nothing, and a dead ThingSpeak never stops the JSON feed. The sensors are
//! the whole board ([`PySenseAsync`]): a chip that does not answer is left out of the samples
//! and looked for again every period; one that fails mid-read costs that period's sample,
//! then the board is initialised again. What happens is reported as [`Event`]s to a
//! callback: the firmware logs them.
//!
//! A battery node that deep-sleeps between samples runs [`wake`] on each wake-up instead:
//! read, store on flash, connect only every few wakes, sleep (see [`SleepConfig`]).
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
pub use tls::{NodeTls, run_tls};

use core::convert::Infallible;
use core::fmt::{self, Write as _};
use embassy_futures::select::{Either, select};
use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;
use embedded_nal_async::{Dns, TcpConnect};
use rand_core::Rng;
use sensorpub::pysense::{Presence, PySenseAsync};
use sensorpub::{
    Backoff, BackoffConfig, BackoffError, Clock, JsonSink, MessageQueue, Publisher, QoS, Quantity,
    ResilientPublisher, Sample, Sensor, SinkConfigError, Stats,
};
use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttConfigError, MqttOptions, ThingSpeak};

mod sleep;
pub use sleep::{Nowhere, Outbox, SleepConfig, Wake, WakeState, wake};

/// Readings in one sample: every reading of a whole [`PySenseAsync`] (temperature, humidity,
/// pressure, the pressure sensor's temperature, illuminance, acceleration x/y/z, pitch, roll).
pub const SAMPLE_CAPACITY: usize = 10;
/// Longest topic plus payload of one message: a full JSON sample with the device name is
/// about 300 bytes.
pub const MESSAGE_BUFFER: usize = 384;
/// Longest JSON topic (`sensorpub/<device>/value`).
pub const TOPIC_CAPACITY: usize = 96;
/// minimq's transmit arena: CONNECT and PUBLISH are encoded there.
pub const MQTT5_TX: usize = 768;
/// Received packets the node sees are CONNACK and PUBACK: small.
pub const MQTT5_RX: usize = 256;
/// MQTT 3.1.1 (ThingSpeak) send buffer: one PUBLISH of a bulk update.
pub const MQTT311_TX: usize = 512;
/// MQTT 3.1.1 receive buffer: CONNACK, PINGRESP (4 and 2 bytes).
pub const MQTT311_RX: usize = 64;
/// JSON messages kept through a broker outage: at a 10 s period, over 5 minutes.
pub const BROKER_QUEUE_MESSAGES: usize = 32;
/// Bytes for them: a queued message is its topic and payload, under 320 bytes.
pub const BROKER_QUEUE_BYTES: usize = 32 * 320;
/// ThingSpeak updates kept through an outage: 2 minutes at the 15 s interval.
pub const THINGSPEAK_QUEUE_MESSAGES: usize = 8;
/// Bytes for them: a bulk update with its topic is under 128 bytes.
pub const THINGSPEAK_QUEUE_BYTES: usize = 8 * 128;
/// First retry after a failure; doubles up to [`BACKOFF_CAP_MS`].
pub const BACKOFF_BASE_MS: u32 = 1_000;
/// Longest wait between two connection attempts: a returning broker is found within a
/// minute, a dead one is not hammered.
pub const BACKOFF_CAP_MS: u32 = 60_000;
/// The largest record a [`FlashQueue`](sensorpub::FlashQueue) of the node holds: a message of
/// [`MESSAGE_BUFFER`] bytes and the record's 8-byte header.
pub const FLASH_RECORD: usize = MESSAGE_BUFFER + 8;
/// Which reading goes to which ThingSpeak field.
pub const THINGSPEAK_FIELDS: [(u8, Quantity); 4] = [
    (1, Quantity::Temperature),
    (2, Quantity::Humidity),
    (3, Quantity::Pressure),
    (4, Quantity::Illuminance),
];

/// What the node publishes, where. (Not esp-radio's `StationConfig`, the Wi-Fi settings.)
#[derive(Debug, Clone, Copy)]
pub struct NodeConfig<'a> {
    /// The device's name: the MQTT client id, the `"device"` member of the JSON, and part of
    /// the default topic.
    pub device: &'a str,
    /// The MQTT 5 broker for the JSON feed.
    pub broker: Broker<'a>,
    /// The JSON topic; `None` means `sensorpub/<device>/value`.
    pub topic: Option<&'a str>,
    /// Time between samples, in milliseconds.
    pub period_ms: u32,
    /// The ThingSpeak channel to update as well, if any.
    pub thingspeak: Option<ThingSpeak<'a>>,
}

/// Every buffer the node needs, in one caller-owned place so its size is visible
/// (`size_of::<Buffers>()`); the outage queues live in the future of [`run`].
pub struct Buffers {
    mqtt5: Mqtt5Buffers<MQTT5_RX, MQTT5_TX, MESSAGE_BUFFER>,
    node: NodeBuffers,
}

/// The buffers besides the MQTT 5 connection's, which [`serve`] takes.
struct NodeBuffers {
    topic: heapless::String<TOPIC_CAPACITY>,
    json: [u8; MESSAGE_BUFFER],
    mqtt311_tx: [u8; MQTT311_TX],
    mqtt311_rx: [u8; MQTT311_RX],
    thingspeak: [u8; MESSAGE_BUFFER],
}

impl Buffers {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            mqtt5: Mqtt5Buffers::new(),
            node: NodeBuffers {
                topic: heapless::String::new(),
                json: [0; MESSAGE_BUFFER],
                mqtt311_tx: [0; MQTT311_TX],
                mqtt311_rx: [0; MQTT311_RX],
                thingspeak: [0; MESSAGE_BUFFER],
            },
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// The node's configuration cannot work; [`run`] returns it before any I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NodeError {
    /// `sensorpub/<device>/value` is longer than [`TOPIC_CAPACITY`]: use a shorter device
    /// name or set the topic.
    TopicTooLong,
    /// The MQTT 5 connection options do not fit minimq (client id too long, ...).
    Broker(MqttConfigError),
    /// A sink refused its configuration.
    Sink(SinkConfigError),
    /// The backoff configuration is invalid.
    Backoff(BackoffError),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::TopicTooLong => write!(
                f,
                "topic longer than {TOPIC_CAPACITY} bytes: use a shorter device name or set the topic"
            ),
            NodeError::Broker(e) => write!(f, "MQTT 5 options: {e}"),
            NodeError::Sink(e) => write!(f, "sink: {e}"),
            NodeError::Backoff(e) => write!(f, "backoff: {e}"),
        }
    }
}

impl core::error::Error for NodeError {}

/// Where a message goes, in [`Event`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Destination {
    /// The MQTT 5 broker receiving the JSON feed.
    Broker,
    /// The ThingSpeak channel.
    ThingSpeak,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Destination::Broker => "broker",
            Destination::ThingSpeak => "ThingSpeak",
        })
    }
}

/// What the node did, reported as it happens. Errors are borrowed as `dyn Display`, so
/// one callback serves every driver and transport.
#[derive(Clone, Copy)]
pub enum Event<'a> {
    /// The co-processor switched the sensors' supply on (PySense 2).
    SensorsPowered,
    /// The co-processor did not switch the sensors on. On a PySense 1 that is expected (its
    /// sensors are always powered); on a PySense 2 the sensors will not answer.
    PowerOnFailed {
        /// Why.
        error: &'a dyn fmt::Display,
    },
    /// Which chips answered when the board was (re)initialised. An absent chip is left out
    /// of samples; the node looks for it again every period until all four answer.
    SensorsFound {
        /// The chips that answered.
        presence: Presence,
    },
    /// Reading the board failed (a present chip stopped answering, bad CRC, timeout): no
    /// sample this period, and the board is initialised again before the next.
    SensorFailed {
        /// Why, naming the chip.
        error: &'a dyn fmt::Display,
    },
    /// A sample was read.
    Sampled {
        /// What it holds.
        sample: &'a Sample<SAMPLE_CAPACITY>,
    },
    /// A sample was handed to a destination: sent, or queued while the broker is away.
    Delivered {
        /// Where.
        to: Destination,
        /// The destination's counters after this sample: published, queued, dropped,
        /// reconnects.
        stats: Stats,
    },
    /// A sample could not be handed to a destination (it could not be encoded or queued).
    Failed {
        /// Where.
        to: Destination,
        /// Why.
        error: &'a dyn fmt::Display,
    },
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::SensorsPowered => f.write_str("PySense: sensors powered on"),
            Event::PowerOnFailed { error } => write!(
                f,
                "PySense: co-processor did not power the sensors ({error}); fine on a PySense 1"
            ),
            Event::SensorsFound { presence } => {
                let mark = |present: bool| if present { "found" } else { "absent" };
                write!(
                    f,
                    "PySense: SI7006 {}, MPL3115A2 {}, LTR-329 {}, LIS2HH12 {}",
                    mark(presence.si7006),
                    mark(presence.mpl3115a2),
                    mark(presence.ltr329),
                    mark(presence.lis2hh12)
                )
            }
            Event::SensorFailed { error } => write!(f, "PySense: {error}"),
            Event::Sampled { sample } => {
                f.write_str("sample:")?;
                for reading in sample.readings() {
                    write!(
                        f,
                        " {}={}{}",
                        reading.quantity,
                        reading.value,
                        reading.quantity.unit()
                    )?;
                }
                Ok(())
            }
            Event::Delivered { to, stats } => write!(
                f,
                "{to}: {} published, {} queued, {} dropped, {} reconnects",
                stats.published, stats.queued, stats.dropped, stats.reconnects
            ),
            Event::Failed { to, error } => write!(f, "{to}: {error}"),
        }
    }
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl defmt::Format for Event<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self));
    }
}

/// Runs the node forever: powers the PySense 2 sensors, then every `period_ms` reads
/// them and publishes the sample (see the [module docs](self)).
///
/// - `net`: the network stack (embassy-net's TCP client and DNS socket on a device,
///   `std-embedded-nal-async` on a PC).
/// - `bus`: makes a handle on the PySense's I2C bus for each of the five chips, e.g.
///   `|| I2cDevice::new(&mutex)` with embassy-embedded-hal's shared bus.
/// - `clock`: time and waiting; cloned for each driver's delays and each publisher.
/// - `rng`: the backoff jitter; cloned for each destination.
/// - `report`: called with every [`Event`].
///
/// Returns only if the configuration cannot work ([`NodeError`]), before any I/O.
///
/// ```no_run
/// use rand_core::SeedableRng;
/// use sensorpub::EmbassyClock;
/// use sensorpub_station::{self as station, Buffers, NodeConfig};
/// use sensorpub::Broker;
///
/// # async fn demo() {
/// // On a device: embassy-net, embassy-embedded-hal's shared I2C bus, esp-hal's `Rng`.
/// let net = std_embedded_nal_async::Stack::default();
/// let bus = embedded_hal_mock::eh1::i2c::Mock::new(&[]);
/// let rng = rand_xorshift::XorShiftRng::seed_from_u64(1);
/// let config = NodeConfig {
///     device: "apricot",
///     broker: Broker::new("127.0.0.1", 1883),
///     topic: None, // sensorpub/apricot/value
///     period_ms: 10_000,
///     thingspeak: None,
/// };
/// let mut buffers = Buffers::new();
/// let report = |event: station::Event<'_>| println!("{event}");
/// let Err(error) =
///     station::run(&net, || bus.clone(), EmbassyClock, rng, &config, &mut buffers, report).await;
/// eprintln!("configuration: {error}");
/// # }
/// ```
#[allow(clippy::too_many_arguments)] // each is a different piece of hardware or setting
pub async fn run<N, B, I, C, R, F>(
    net: &N,
    bus: B,
    clock: C,
    rng: R,
    config: &NodeConfig<'_>,
    buffers: &mut Buffers,
    report: F,
) -> Result<Infallible, NodeError>
where
    N: TcpConnect + Dns,
    B: FnMut() -> I,
    I: I2c,
    C: Clock + DelayNs + Clone,
    R: Rng + Clone,
    F: FnMut(Event<'_>),
{
    let Buffers { mqtt5, node } = buffers;
    let (mqtt5, mut runner) =
        Mqtt5::new(net, config.broker, mqtt_options(config), mqtt5).map_err(NodeError::Broker)?;
    let runner = async move { runner.run().await };
    serve(net, bus, clock, rng, config, node, mqtt5, runner, report).await
}

/// The MQTT 5 connection's options: the device's name as the client id.
fn mqtt_options<'a>(config: &NodeConfig<'a>) -> MqttOptions<'a> {
    MqttOptions::new(config.device)
}

/// The node, once its MQTT 5 handle is built: `runner` (the handle's runner) runs beside it.
#[allow(clippy::too_many_arguments)] // as `run`, with the MQTT 5 handle and runner
async fn serve<N, B, I, C, R, F>(
    net: &N,
    bus: B,
    clock: C,
    rng: R,
    config: &NodeConfig<'_>,
    buffers: &mut NodeBuffers,
    mqtt5: Mqtt5<'_>,
    runner: impl Future<Output = Infallible>,
    mut report: F,
) -> Result<Infallible, NodeError>
where
    N: TcpConnect + Dns,
    B: FnMut() -> I,
    I: I2c,
    C: Clock + DelayNs + Clone,
    R: Rng + Clone,
    F: FnMut(Event<'_>),
{
    let NodeBuffers {
        topic,
        json,
        mqtt311_tx,
        mqtt311_rx,
        thingspeak: thingspeak_buf,
    } = buffers;
    let topic = match config.topic {
        Some(topic) => topic,
        None => {
            topic.clear();
            write!(topic, "sensorpub/{}/value", config.device)
                .map_err(|_| NodeError::TopicTooLong)?;
            topic.as_str()
        }
    };
    let backoff = BackoffConfig::new(BACKOFF_BASE_MS, BACKOFF_CAP_MS)
        .map_err(NodeError::Backoff)?
        .with_unlimited_attempts();

    let json_sink = JsonSink::object(topic)
        .map_err(NodeError::Sink)?
        .with_device(config.device)
        .with_decimals(2)
        .map_err(NodeError::Sink)?;
    // No sensor in either publisher: the board is read once a period, here, and that one
    // sample is handed to both.
    let mut broker = ResilientPublisher::new(
        Publisher::new((), json_sink, mqtt5, clock.clone(), json).with_qos(QoS::AtLeastOnce),
        Backoff::new(backoff, rng.clone()),
        MessageQueue::<BROKER_QUEUE_MESSAGES, BROKER_QUEUE_BYTES>::new(),
    );

    let mut thingspeak = match &config.thingspeak {
        Some(channel) => Some(ResilientPublisher::new(
            Publisher::new(
                (),
                channel.sink(&THINGSPEAK_FIELDS).map_err(NodeError::Sink)?,
                channel.transport(net, mqtt311_tx, mqtt311_rx),
                clock.clone(),
                thingspeak_buf,
            ),
            Backoff::new(backoff, rng),
            MessageQueue::<THINGSPEAK_QUEUE_MESSAGES, THINGSPEAK_QUEUE_BYTES>::new(),
        )),
        None => None,
    };

    // The MQTT 5 runner serves the broker publisher's handle while the node runs.
    let node = async {
        let mut board = PySenseAsync::new(bus, clock.clone());
        match board.power_on_sensors().await {
            Ok(_) => report(Event::SensorsPowered),
            Err(error) => report(Event::PowerOnFailed { error: &error }),
        }
        let mut presence = None;
        let mut clock = clock;
        let mut next_ms = clock.now_ms();
        loop {
            if presence != Some(Presence::ALL) {
                // Again until every chip answers: one that starts slowly or is plugged in later
                // joins the samples.
                let found = board.init().await;
                if presence != Some(found) {
                    report(Event::SensorsFound { presence: found });
                }
                presence = Some(found);
            }
            let sample: Option<Sample<SAMPLE_CAPACITY>> = match board.read().await {
                Ok(sample) => Some(sample),
                Err(error) => {
                    report(Event::SensorFailed { error: &error });
                    presence = None;
                    None
                }
            };
            if let Some(mut sample) = sample {
                // Stamped once, so both destinations carry the same time.
                if sample.timestamp().is_none() {
                    sample.set_timestamp(clock.unix_time());
                }
                report(Event::Sampled { sample: &sample });
                match broker.publish(&sample).await {
                    Ok(_) => report(Event::Delivered {
                        to: Destination::Broker,
                        stats: broker.stats(),
                    }),
                    Err(error) => report(Event::Failed {
                        to: Destination::Broker,
                        error: &error,
                    }),
                }
                if let Some(thingspeak) = &mut thingspeak {
                    // One update per channel interval: a sample that comes sooner goes to the
                    // broker only, instead of holding the loop until ThingSpeak would take it.
                    if thingspeak.ready_in_ms() == 0 {
                        match thingspeak.publish(&sample).await {
                            Ok(_) => report(Event::Delivered {
                                to: Destination::ThingSpeak,
                                stats: thingspeak.stats(),
                            }),
                            Err(error) => report(Event::Failed {
                                to: Destination::ThingSpeak,
                                error: &error,
                            }),
                        }
                    }
                }
            }
            next_ms = next_ms.saturating_add(u64::from(config.period_ms));
            let now_ms = clock.now_ms();
            if now_ms >= next_ms {
                // Overran the period (a slow connect): start the next one now, no burst.
                next_ms = now_ms;
            } else {
                wait_ms(&mut clock, next_ms - now_ms).await;
            }
        }
    };
    match select(runner, node).await {
        Either::First(never) => match never {},
        Either::Second(never) => never,
    }
}

async fn wait_ms<C: DelayNs>(clock: &mut C, mut ms: u64) {
    while ms > 0 {
        let step = u32::try_from(ms).unwrap_or(u32::MAX);
        clock.delay_ms(step).await;
        ms -= u64::from(step);
    }
}
