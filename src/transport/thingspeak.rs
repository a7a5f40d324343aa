//! [`ThingSpeak`]: the ThingSpeak MQTT profile, an MQTT 3.1.1 connection configured the way
//! ThingSpeak's MQTT API requires, and the matching [`ThingSpeakSink`].
//!
//! ThingSpeak's rules (its "MQTT Basics" and "Publish to a Channel Feed" pages): MQTT 3.1.1
//! at `mqtt3.thingspeak.com:1883`, credentials of an "MQTT device" (client id, user name,
//! password, all three issued together), QoS 0 only, CleanSession 1, no Will. A Will or
//! CleanSession 0 is answered with CONNACK 5 (not authorized), so the profile refuses them
//! when it is configured instead.

use super::connect::Broker;
use super::error::MqttConfigError;
use super::mqtt311::Mqtt311;
use super::options::{Credentials, MqttOptions, REDACTED};
use crate::message::{Message, QoS};
use crate::reading::Quantity;
use crate::sink::{SinkConfigError, ThingSpeakSink};
use core::fmt;
use embedded_nal_async::{Dns, TcpConnect};

/// ThingSpeak's MQTT 3.1.1 broker; port [`MQTT_PORT`](super::MQTT_PORT) (1883).
pub const THINGSPEAK_HOST: &str = "mqtt3.thingspeak.com";

/// A ThingSpeak channel reached over MQTT with an MQTT device's credentials.
///
/// [`transport`](ThingSpeak::transport) yields the [`Mqtt311`] connection (QoS 0,
/// CleanSession 1, no Will, credentials) and [`sink`](ThingSpeak::sink) the
/// [`ThingSpeakSink`] for the same channel. Asking for a Will or QoS 1 is a
/// [`MqttConfigError`], not a CONNACK 5 later. `Debug` and `defmt` never show the
/// credentials (client id included: ThingSpeak issues it with them).
///
/// ```
/// use sensorpub::{MqttConfigError, ThingSpeak};
/// use sensorpub::{Message, QoS, Quantity};
///
/// let thingspeak = ThingSpeak::new(1_234_567, "DEVICEID", "DEVICEID", "s3cret");
/// assert_eq!(thingspeak.options().max_qos(), QoS::AtMostOnce);
/// assert!(thingspeak.options().will().is_none());
/// assert_eq!(thingspeak.with_qos(QoS::AtLeastOnce).unwrap_err(), MqttConfigError::QosNotAllowed);
/// let will = Message::new("status", b"offline");
/// assert_eq!(thingspeak.with_will(will).unwrap_err(), MqttConfigError::WillNotAllowed);
/// assert!(!format!("{thingspeak:?}").contains("s3cret"));
///
/// let sink = thingspeak.sink(&[(1, Quantity::Temperature)])?;
/// assert_eq!(sink.channel_id(), 1_234_567);
/// # Ok::<(), sensorpub::SinkConfigError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ThingSpeak<'a> {
    channel_id: u32,
    client_id: &'a str,
    credentials: Credentials<'a>,
    broker: Broker<'a>,
    fallbacks: &'a [Broker<'a>],
    keep_alive_s: u16,
    timeout_ms: u32,
}

impl<'a> ThingSpeak<'a> {
    /// Channel `channel_id`, as the MQTT device with `client_id`, `username` and `password`
    /// (from the device's page on ThingSpeak: Devices → MQTT).
    pub const fn new(
        channel_id: u32,
        client_id: &'a str,
        username: &'a str,
        password: &'a str,
    ) -> Self {
        let defaults = MqttOptions::new(client_id);
        Self {
            channel_id,
            client_id,
            credentials: Credentials::new(username, password.as_bytes()),
            broker: Broker::new(THINGSPEAK_HOST, super::MQTT_PORT),
            fallbacks: &[],
            keep_alive_s: defaults.keep_alive_s(),
            timeout_ms: defaults.timeout_ms(),
        }
    }

    /// Connects to `broker` instead of ThingSpeak's (a local proxy, or a test).
    pub const fn with_broker(mut self, broker: Broker<'a>) -> Self {
        self.broker = broker;
        self
    }

    /// Brokers tried in turn after [`broker`](Self::broker) fails (e.g. local proxies); see
    /// [`MqttOptions::with_fallbacks`].
    pub const fn with_fallbacks(mut self, fallbacks: &'a [Broker<'a>]) -> Self {
        self.fallbacks = fallbacks;
        self
    }

    /// Keep-alive in seconds (default 60).
    pub const fn with_keep_alive_s(mut self, seconds: u16) -> Self {
        self.keep_alive_s = seconds;
        self
    }

    /// Broker timeout in milliseconds (default 10 000).
    pub const fn with_timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }

    /// Always [`MqttConfigError::WillNotAllowed`]: ThingSpeak refuses a CONNECT with a Will
    /// (CONNACK 5).
    pub fn with_will(self, will: Message<'_>) -> Result<Self, MqttConfigError> {
        let _ = will;
        Err(MqttConfigError::WillNotAllowed)
    }

    /// Accepts QoS 0; QoS 1 is [`MqttConfigError::QosNotAllowed`] (ThingSpeak: QoS 0 only).
    pub fn with_qos(self, qos: QoS) -> Result<Self, MqttConfigError> {
        match qos {
            QoS::AtMostOnce => Ok(self),
            QoS::AtLeastOnce => Err(MqttConfigError::QosNotAllowed),
        }
    }

    /// The QoS to publish at: 0.
    pub const fn qos(&self) -> QoS {
        QoS::AtMostOnce
    }

    /// The channel id.
    pub const fn channel_id(&self) -> u32 {
        self.channel_id
    }

    /// The broker: `mqtt3.thingspeak.com:1883` unless [`with_broker`](Self::with_broker).
    pub const fn broker(&self) -> Broker<'a> {
        self.broker
    }

    /// The connection options: credentials, QoS 0 at most, no Will (CleanSession 1 is what
    /// [`Mqtt311`] always sends).
    pub const fn options(&self) -> MqttOptions<'a> {
        MqttOptions::new(self.client_id)
            .with_credentials(self.credentials)
            .with_keep_alive_s(self.keep_alive_s)
            .with_timeout_ms(self.timeout_ms)
            .with_max_qos(QoS::AtMostOnce)
            .with_fallbacks(self.fallbacks)
    }

    /// The sink for this channel, `(field, quantity)` as in [`ThingSpeakSink::new`].
    pub fn sink<'s>(
        &self,
        fields: &[(u8, Quantity)],
    ) -> Result<ThingSpeakSink<'s>, SinkConfigError> {
        ThingSpeakSink::new(self.channel_id, fields)
    }

    /// The MQTT 3.1.1 connection through `net`, with `tx` and `rx` as in [`Mqtt311::new`].
    /// Does no I/O.
    pub fn transport<N: TcpConnect + Dns + 'a>(
        &self,
        net: &'a N,
        tx: &'a mut [u8],
        rx: &'a mut [u8],
    ) -> Mqtt311<'a, N> {
        Mqtt311::new(net, self.broker, self.options(), tx, rx)
    }
}

impl fmt::Debug for ThingSpeak<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThingSpeak")
            .field("channel_id", &self.channel_id)
            .field("client_id", &format_args!("{REDACTED}"))
            .field("credentials", &self.credentials)
            .field("broker", &self.broker)
            .field("fallbacks", &self.fallbacks)
            .field("keep_alive_s", &self.keep_alive_s)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl defmt::Format for ThingSpeak<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "ThingSpeak {{ channel_id: {=u32}, client_id: {=str}, credentials: {}, broker: {} }}",
            self.channel_id,
            REDACTED,
            self.credentials,
            self.broker
        );
    }
}
