//! [`MqttOptions`]: what both MQTT transports send in CONNECT (client id, credentials,
//! keep-alive, will) plus the birth message and the timeout, and [`Credentials`], which never
//! print.

use super::connect::Broker;
use super::inbox::Subscription;
use crate::message::{Message, QoS};
use crate::topic::{TopicError, validate_topic_filter, validate_topic_name};
use core::fmt;

impl MqttOptions<'_> {
    /// How long a transport waits for the broker (TCP connect plus CONNACK, a PUBACK, a
    /// PINGRESP) before it gives up and closes the connection: 10 s.
    pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;

    /// QoS 1 messages in flight while a backlog drains, by default
    /// ([`with_window`](Self::with_window)): 1, one message per round trip, as before the
    /// window. Not more by default: against Debian's mosquitto 2.0 in its default
    /// configuration a window of 4 drained slower, not faster (mosquitto's PUBACKs wait on
    /// Nagle's algorithm unless it runs with `set_tcp_nodelay true`; BENCHMARKS.md), and after
    /// a lost connection up to W messages may arrive twice instead of 1.
    pub const DEFAULT_WINDOW: usize = 1;

    /// The largest QoS 1 window ([`with_window`](Self::with_window)): 16.
    pub const MAX_WINDOW: usize = 16;

    /// Keep-alive advertised in CONNECT: 60 s, what most clients and the lab's MicroPython
    /// `umqtt` use. The broker closes the connection after 1.5 × this without a packet
    /// (MQTT 3.1.1 §3.1.2.10, MQTT 5 §3.1.2.10).
    pub const DEFAULT_KEEP_ALIVE_S: u16 = 60;
}

/// A user name and password for CONNECT. `Debug` (and `defmt`) print neither.
///
/// ```
/// use sensorpub::Credentials;
///
/// let creds = Credentials::new("apricot", b"s3cret");
/// assert!(!format!("{creds:?}").contains("s3cret"));
/// assert!(!format!("{creds:?}").contains("apricot"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    username: &'a str,
    password: &'a [u8],
}

impl<'a> Credentials<'a> {
    /// `username` and `password` as the broker expects them.
    pub const fn new(username: &'a str, password: &'a [u8]) -> Self {
        Self { username, password }
    }

    /// The user name.
    pub const fn username(&self) -> &'a str {
        self.username
    }

    /// The password.
    pub const fn password(&self) -> &'a [u8] {
        self.password
    }
}

/// Printed in place of a secret.
pub(crate) const REDACTED: &str = "<redacted>";

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &format_args!("{REDACTED}"))
            .field("password", &format_args!("{REDACTED}"))
            .finish()
    }
}

#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl defmt::Format for Credentials<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Credentials {{ username: {=str}, password: {=str} }}",
            REDACTED,
            REDACTED
        );
    }
}

/// Connection options shared by [`Mqtt5`](crate::transport::Mqtt5) and
/// [`Mqtt311`](crate::transport::Mqtt311).
///
/// Every connection is a clean session, reconnects included (MQTT 5: Clean Start 1 and
/// session expiry 0; 3.1.1: CleanSession 1): a device that publishes keeps nothing at the
/// broker, and ThingSpeak refuses anything else.
///
/// ```
/// use sensorpub::MqttOptions;
/// use sensorpub::{Message, QoS};
///
/// let options = MqttOptions::new("apricot")
///     .with_keep_alive_s(30)
///     .with_will(Message::new("apricot/status", b"offline").with_retain(true))
///     .with_birth(Message::new("apricot/status", b"online").with_retain(true))
///     .with_timeout_ms(5_000)
///     .with_ack_timeout_ms(2_000);
/// assert_eq!(options.client_id(), "apricot");
/// assert_eq!(options.ack_timeout_ms(), 2_000);
/// assert_eq!(options.max_qos(), QoS::AtLeastOnce);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MqttOptions<'a> {
    client_id: &'a str,
    credentials: Option<Credentials<'a>>,
    keep_alive_s: u16,
    will: Option<Message<'a>>,
    birth: Option<Message<'a>>,
    timeout_ms: u32,
    ack_timeout_ms: Option<u32>,
    max_qos: QoS,
    fallbacks: &'a [Broker<'a>],
    subscriptions: &'a [Subscription<'a>],
    window: usize,
}

impl<'a> MqttOptions<'a> {
    /// Options for client `client_id`: no credentials, keep-alive [`MqttOptions::DEFAULT_KEEP_ALIVE_S`], no
    /// will, no birth message, timeout [`MqttOptions::DEFAULT_TIMEOUT_MS`], QoS up to 1.
    ///
    /// Public brokers mix up clients with the same id (the newer one kicks the older one
    /// out): make it unique, e.g. from the device name.
    pub const fn new(client_id: &'a str) -> Self {
        Self {
            client_id,
            credentials: None,
            keep_alive_s: MqttOptions::DEFAULT_KEEP_ALIVE_S,
            will: None,
            birth: None,
            timeout_ms: MqttOptions::DEFAULT_TIMEOUT_MS,
            ack_timeout_ms: None,
            max_qos: QoS::AtLeastOnce,
            fallbacks: &[],
            subscriptions: &[],
            window: MqttOptions::DEFAULT_WINDOW,
        }
    }

    /// Other nodes of the same service (a cluster, bridged brokers), tried in turn after the
    /// broker the transport was built with: after a failed connect or a lost connection, the
    /// transport's next [`connect`](crate::Transport::connect) tries the next broker of the
    /// list *primary, `fallbacks[0]`, `fallbacks[1]`, …*, round robin, one broker an attempt
    /// (so a [`ResilientPublisher`](crate::ResilientPublisher)'s backoff paces the switches).
    /// A clean `disconnect` keeps the broker. The broker in use is
    /// [`Transport::broker_index`](crate::Transport::broker_index). Default: none.
    ///
    /// ```
    /// use sensorpub::{Broker, MqttOptions};
    ///
    /// const NODES: [Broker<'static>; 2] =
    ///     [Broker::new("10.0.0.2", 1883), Broker::new("10.0.0.3", 1883)];
    /// let options = MqttOptions::new("apricot").with_fallbacks(&NODES);
    /// assert_eq!(options.fallbacks().len(), 2);
    /// ```
    pub const fn with_fallbacks(mut self, fallbacks: &'a [Broker<'a>]) -> Self {
        self.fallbacks = fallbacks;
        self
    }

    /// The brokers tried after the primary one (see [`with_fallbacks`](Self::with_fallbacks)).
    pub const fn fallbacks(&self) -> &'a [Broker<'a>] {
        self.fallbacks
    }

    /// Broker `index` of the list *primary, fallbacks…* (`index` taken modulo its length).
    pub(crate) fn broker_at(&self, primary: Broker<'a>, index: usize) -> Broker<'a> {
        broker_at(primary, self.fallbacks, index)
    }

    /// The index of the broker after `index` in the list *primary, fallbacks…*, round robin.
    pub(crate) fn next_broker(&self, index: usize) -> usize {
        (index + 1) % (self.fallbacks.len() + 1)
    }

    /// Sends `credentials` in CONNECT.
    pub const fn with_credentials(mut self, credentials: Credentials<'a>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Advertises `seconds` of keep-alive (0 turns keep-alive off). Call the transport's
    /// `poll` at least this often when idle.
    pub const fn with_keep_alive_s(mut self, seconds: u16) -> Self {
        self.keep_alive_s = seconds;
        self
    }

    /// Asks the broker to publish `will` when the connection ends without DISCONNECT.
    pub const fn with_will(mut self, will: Message<'a>) -> Self {
        self.will = Some(will);
        self
    }

    /// Publishes `birth` after every successful connect (e.g. a retained `online` on the topic
    /// the will sets to `offline`).
    pub const fn with_birth(mut self, birth: Message<'a>) -> Self {
        self.birth = Some(birth);
        self
    }

    /// Waits at most `ms` for the broker: the TCP connection and the CONNACK together, a
    /// PINGRESP (MQTT 3.1.1; minimq waits 5 s for it), and a PUBACK unless
    /// [`with_ack_timeout_ms`](Self::with_ack_timeout_ms) says otherwise.
    pub const fn with_timeout_ms(mut self, ms: u32) -> Self {
        self.timeout_ms = ms;
        self
    }

    /// Waits at most `ms` for the PUBACK of a QoS 1 publish (default: the
    /// [timeout](Self::with_timeout_ms)); then the publish fails with
    /// [`MqttError::Timeout`](crate::transport::MqttError::Timeout) and the connection is
    /// closed.
    ///
    /// Worst case for a broker that accepts connections but never acknowledges: each
    /// attempt costs at most the connect timeout plus `ms`, so a `ResilientPublisher` gives
    /// up after at most `attempts × (timeout + ms)` plus its backoff waits: with the 10 s
    /// defaults and 8 attempts, up to 160 s plus the waits; with `ms` = 2 000, the
    /// acknowledgements' share of that drops from 80 s to 16 s.
    pub const fn with_ack_timeout_ms(mut self, ms: u32) -> Self {
        self.ack_timeout_ms = Some(ms);
        self
    }

    /// Lets up to `window` QoS 1 messages be in flight, unacknowledged, when a backlog drains
    /// ([`Transport::submit`](crate::Transport::submit), used by a
    /// [`ResilientPublisher`](crate::ResilientPublisher)): the backlog goes at the broker's
    /// speed instead of one round trip per message. Each message still leaves the outage
    /// queue only on its own PUBACK, in order. Clamped to 1..=[`MqttOptions::MAX_WINDOW`];
    /// 1 sends one message per round trip. Default [`MqttOptions::DEFAULT_WINDOW`].
    /// [`Mqtt311`](crate::Mqtt311) uses it as is; [`Mqtt5`](crate::Mqtt5) at most 8 (minimq
    /// keeps no more in flight), and never more than the broker's Receive Maximum.
    pub const fn with_window(mut self, window: usize) -> Self {
        self.window = if window == 0 {
            1
        } else if window > MqttOptions::MAX_WINDOW {
            MqttOptions::MAX_WINDOW
        } else {
            window
        };
        self
    }

    /// The QoS 1 window ([`with_window`](Self::with_window)).
    pub const fn window(&self) -> usize {
        self.window
    }

    /// Refuses publishes above `qos` with
    /// [`MqttError::QosNotAllowed`](crate::transport::MqttError::QosNotAllowed) before anything
    /// reaches the broker (ThingSpeak accepts QoS 0 only).
    pub const fn with_max_qos(mut self, qos: QoS) -> Self {
        self.max_qos = qos;
        self
    }

    /// Subscribes to `subscriptions` after every successful connect (after the birth
    /// message), so they survive reconnects; `connect` returns once the broker acknowledged
    /// them (SUBACK), or fails with
    /// [`MqttError::SubscribeRejected`](crate::transport::MqttError::SubscribeRejected).
    /// What arrives goes to the transport's [`Inbox`](crate::Inbox).
    pub const fn with_subscriptions(mut self, subscriptions: &'a [Subscription<'a>]) -> Self {
        self.subscriptions = subscriptions;
        self
    }

    /// The subscriptions made after every connect.
    pub const fn subscriptions(&self) -> &'a [Subscription<'a>] {
        self.subscriptions
    }

    /// The client id.
    pub const fn client_id(&self) -> &'a str {
        self.client_id
    }

    /// The credentials, if any.
    pub const fn credentials(&self) -> Option<Credentials<'a>> {
        self.credentials
    }

    /// The keep-alive in seconds (0: off).
    pub const fn keep_alive_s(&self) -> u16 {
        self.keep_alive_s
    }

    /// The will, if any.
    pub const fn will(&self) -> Option<Message<'a>> {
        self.will
    }

    /// The birth message, if any.
    pub const fn birth(&self) -> Option<Message<'a>> {
        self.birth
    }

    /// Checks the will's and the birth message's topics and the subscriptions' filters: both
    /// transports refuse, before any I/O, a connection whose will or birth nobody could
    /// publish to, or a filter no broker accepts.
    pub(crate) fn check_topics(&self) -> Result<(), TopicError> {
        for message in [self.will, self.birth].into_iter().flatten() {
            validate_topic_name(message.topic)?;
        }
        for subscription in self.subscriptions {
            validate_topic_filter(subscription.filter)?;
        }
        Ok(())
    }

    /// The timeout in milliseconds.
    pub const fn timeout_ms(&self) -> u32 {
        self.timeout_ms
    }

    /// How long a QoS 1 publish waits for its PUBACK, in milliseconds.
    pub const fn ack_timeout_ms(&self) -> u32 {
        match self.ack_timeout_ms {
            Some(ms) => ms,
            None => self.timeout_ms,
        }
    }

    /// The highest QoS a publish may ask for.
    pub const fn max_qos(&self) -> QoS {
        self.max_qos
    }

    /// The client id as `Debug` shows it: hidden when credentials are set, because services
    /// such as ThingSpeak issue the client id together with them (and equal to the user name).
    fn shown_client_id(&self) -> &'a str {
        if self.credentials.is_some() {
            REDACTED
        } else {
            self.client_id
        }
    }
}

/// Broker `index` of the list *primary, fallbacks…* (`index` taken modulo its length).
pub(crate) fn broker_at<'a>(
    primary: Broker<'a>,
    fallbacks: &'a [Broker<'a>],
    index: usize,
) -> Broker<'a> {
    match index % (fallbacks.len() + 1) {
        0 => primary,
        i => fallbacks.get(i - 1).copied().unwrap_or(primary),
    }
}

impl fmt::Debug for MqttOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttOptions")
            .field("client_id", &self.shown_client_id())
            .field("credentials", &self.credentials)
            .field("keep_alive_s", &self.keep_alive_s)
            .field("will", &self.will)
            .field("birth", &self.birth)
            .field("timeout_ms", &self.timeout_ms)
            .field("ack_timeout_ms", &self.ack_timeout_ms())
            .field("max_qos", &self.max_qos)
            .field("fallbacks", &self.fallbacks)
            .field("subscriptions", &self.subscriptions)
            .field("window", &self.window)
            .finish()
    }
}

#[cfg(feature = "defmt")]
#[cfg_attr(docsrs, doc(cfg(feature = "defmt")))]
impl defmt::Format for MqttOptions<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "MqttOptions {{ client_id: {=str}, credentials: {}, keep_alive_s: {=u16}, will: {}, birth: {}, timeout_ms: {=u32}, ack_timeout_ms: {=u32}, max_qos: {}, fallbacks: {} }}",
            self.shown_client_id(),
            self.credentials,
            self.keep_alive_s,
            self.will,
            self.birth,
            self.timeout_ms,
            self.ack_timeout_ms(),
            self.max_qos,
            self.fallbacks
        );
    }
}
