//! # sensorpub
//!
//! Read sensors on a microcontroller and publish their readings over MQTT: to a public broker
//! as JSON (`{"temperature":21.53,"humidity":45.2}` on `<device>/value`) or to a ThingSpeak
//! channel (`field1=21.53&field2=45.2` on `channels/<id>/publish`).
//!
//! `#![no_std]`, no heap, no `unsafe`. Every buffer is the caller's, so its size is visible.
//!
//! ## The flow
//!
//! ```text
//! Sensor ──Sample<N>──▶ Sink ──Message{topic, payload}──▶ Transport ──MQTT──▶ broker
//!                  Publisher drives the loop, with a Clock
//! ```
//!
//! - [`Sensor`]: produces a [`Sample`] of [`Reading`]s (async; blocking drivers plug in through
//!   [`Blocking`]). Shipped: [`RandomSensor`] (the lab's random numbers), [`MockSensor`];
//!   filters that wrap any sensor ([`MovingAverage`], [`Delta`], [`Throttle`], …).
//! - [`Sink`]: the wire format. Shipped: [`JsonSink`], [`SenmlSink`] (RFC 8428),
//!   [`ThingSpeakSink`].
//! - [`Transport`]: delivers a [`Message`]. Shipped: [`Mqtt5`] (minimq) and [`Mqtt311`]
//!   (mqttrs codec), both over `embedded-nal-async` (embassy-net in firmware,
//!   `std-embedded-nal-async` on a PC); [`ThingSpeak`] configures the 3.1.1 one for
//!   ThingSpeak; [`MemoryTransport`] for tests. Timeouts and keep-alive use `embassy-time`:
//!   firmware gets its time driver from the executor; a PC build must depend on
//!   `embassy-time = { version = "0.5", features = ["std", "generic-queue-8"] }` (the clock
//!   and the timer queue), or linking fails on `__embassy_time_queue_item_from_waker`.
//! - [`Publisher`]: read → encode → publish, once or at an interval, honouring the sink's
//!   rate limit; or [`publish`](Publisher::publish) a sample you read yourself. Time comes
//!   from a [`Clock`] plus `embedded-hal-async`'s `DelayNs`. The sample capacity `N` is
//!   inferred from the sensor, or named once where it is read for a sensor that fills any
//!   (`publish_once::<10>()`; see [`Publisher`]).
//! - [`ResilientPublisher`]: a `Publisher` that rides out broker outages: messages wait in a
//!   bounded [`MessageQueue`] in RAM or a [`FlashQueue`] on NOR flash that survives resets and
//!   power cuts (either way oldest dropped and counted when full), the connection is
//!   reopened on a [`Backoff`] schedule with jitter, and the backlog is replayed in order at
//!   the sink's pace. QoS 1 messages are delivered at least once.
//!
//! ## Example
//!
//! (`block_on` is from `embassy-futures`; on a device your executor runs the future.)
//!
//! ```
//! use sensorpub::{JsonSink, MemoryTransport, MockSensor, Publisher, Quantity, Reading, Sample, SimulatedClock};
//!
//! let sample = Sample::<2>::from_readings(&[
//!     Reading::new(Quantity::Temperature, 21.53),
//!     Reading::new(Quantity::Humidity, 45.2),
//! ])?;
//! let script = [Ok(sample)];
//! let mut buf = [0u8; 128];
//! let mut publisher = Publisher::new(
//!     MockSensor::new(&script),
//!     JsonSink::object("apricot/value")?,
//!     MemoryTransport::<4, 64>::new(),
//!     SimulatedClock::new(),
//!     &mut buf,
//! );
//! embassy_futures::block_on(publisher.publish_once())?;
//! let sent = &publisher.transport().messages()[0];
//! assert_eq!(sent.topic, "apricot/value");
//! assert_eq!(sent.payload, br#"{"temperature":21.53,"humidity":45.2}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## A third-party driver
//!
//! `examples/sht4x.rs` publishes the registry's `sht4x` driver: a wrapper of yours implements
//! [`BlockingSensor`] (the orphan rule), owning the driver and its delay, with an error that
//! is `Display` so `?` reaches `Box<dyn Error>`.
//!
//! ## Features
//!
//! - `defmt`: derives `defmt::Format` on the public types.
//! - `ryu-small`: no effect (numbers are written by sensorpub's own shortest formatter,
//!   whose table takes 616 bytes); kept
//!   so builds that name it still compile.
#![no_std]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate std;

// Every module is private: the `pub use` list below is the whole public API, one path per
// item (`pysense` stays a namespace: a driver's types live under its chip's name).
mod clock;
mod decimal;
mod homeassistant;
mod log;
mod message;
mod publisher;
pub mod pysense;
mod reading;
mod sensor;
mod sink;
mod topic;
mod transport;

/// Internals the fuzz targets in `fuzz/` call directly. Compiled only with `--cfg fuzzing`,
/// which `cargo fuzz` sets: never in a user's build, so not part of the API (a cfg rather
/// than a cargo feature, which docs.rs's `all-features` and `--all-features` builds would
/// turn on).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// The X.509 reader behind the TLS name and date checks (feature `tls`).
    #[cfg(feature = "tls")]
    pub use crate::transport::X509Certificate;
    /// MQTT 3.1.1 framing: the length of the packet at the start of the bytes received,
    /// `Ok(None)` while incomplete, `Err(MqttError::Protocol)` for a malformed length.
    pub use crate::transport::frame_len;
    /// The chain check's certificate reading: basic constraints, and a signature checked
    /// with the certificate's own key (feature `tls`; RSA keys with `tls-rsa`).
    #[cfg(feature = "tls")]
    pub use crate::transport::{x509_is_ca, x509_verify_self_signed};
}

/// The README's code blocks are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// Readings and what makes them.
pub use reading::{Quantity, Reading, Sample, SampleFull};
pub use sensor::{Blocking, BlockingSensor, MockError, MockSensor, RandomSensor, Sensor};
pub use sensor::{
    Calibrate, Clamp, Delta, ExponentialMovingAverage, FilterError, MovingAverage, NoClock,
    Throttle,
};

// Wire formats.
pub use sink::{
    EncodeError, JsonSink, MAX_DECIMALS, SenmlSink, Sink, SinkConfigError, ThingSpeakSink,
};
pub use topic::{MAX_TOPIC_LEN, TopicError, validate_topic_filter, validate_topic_name};

// Delivery.
pub use homeassistant::{
    Announcing, DEFAULT_DISCOVERY_PREFIX, DiscoveryError, HA_STATUS_TOPIC, HaDevice, HaDiscovery,
    PAYLOAD_OFFLINE, PAYLOAD_ONLINE, ha_device_class,
};
pub use message::{Message, QoS};
pub use transport::{
    Broker, BrokerParseError, ConnectError, Credentials, Inbox, InboxStats, MQTT_PORT,
    MQTT311_MIN_RX_BUFFER, MemoryError, MemoryTransport, Mqtt5, Mqtt5Buffers, Mqtt5Runner, Mqtt311,
    MqttConfigError, MqttError, MqttOptions, Plaintext, Received, RecordedMessage, Refusal,
    Subscription, THINGSPEAK_HOST, ThingSpeak, Transport, open as open_connection,
};

// The loop, and riding out outages.
pub use clock::{Clock, EmbassyClock, SimulatedClock};
pub use publisher::{
    Backoff, BackoffConfig, BackoffError, FlashQueue, IntervalError, MessageQueue, OutageQueue,
    PublishError, Publisher, PublisherError, QueueError, ResilientError, ResilientPublisher,
    ResilientPublisherError, Stage, Stats,
};
#[cfg(feature = "tls")]
pub use transport::{
    MQTT_TLS_PORT, MaxFragment, Mqtt311Tls, Mqtt311TlsBuffers, Mqtt311TlsRunner, PemError,
    TlsBuffers, TlsError, TlsLayer, TlsOptions, WallClock, pem_to_der,
};
