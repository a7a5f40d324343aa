//! Home Assistant MQTT discovery and availability: [`HaDiscovery`] renders the retained
//! discovery config of every quantity a device reports, [`Announcing`] republishes them after
//! every connect, and the availability pair (retained `online` birth, retained `offline` will
//! on `<base>/status`) goes into [`MqttOptions`](crate::MqttOptions).
//!
//! **Per-entity discovery** (`<prefix>/sensor/<node>/<object>/config`, one message a
//! quantity) rather than the single device message Home Assistant added in 2024.11: each
//! message is small and has the same size whatever the number of quantities, so one caller
//! buffer of about 700 bytes fits any device (the device message grows with every entity and
//! must be built whole), and every Home Assistant release since discovery exists (and other
//! consumers of the same convention, e.g. openHAB) understands it.
//!
//! Followed: <https://www.home-assistant.io/integrations/mqtt/> (discovery topic, retained
//! configs, `device` block, birth/will) and <https://www.home-assistant.io/integrations/sensor.mqtt/>
//! (sensor keys, `expire_after`), with the device classes and units of
//! <https://www.home-assistant.io/integrations/sensor/>.

use crate::message::{Message, QoS};
use crate::reading::Quantity;
use crate::topic::{TopicError, validate_topic_name};
use crate::transport::{Inbox, InboxSlot, Transport};
use core::fmt;

/// The discovery prefix Home Assistant listens on unless configured otherwise.
pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";

/// The topic Home Assistant announces itself on (`online` when it starts) under the default
/// prefix: subscribe to it ([`MqttOptions::with_subscriptions`](crate::MqttOptions::with_subscriptions))
/// and give [`Announcing::with_ha_status`] the inbox, and the configs are re-published when
/// Home Assistant restarts.
pub const HA_STATUS_TOPIC: &str = "homeassistant/status";

/// The availability payload of a connected device (Home Assistant's `payload_available`
/// default).
pub const PAYLOAD_ONLINE: &[u8] = b"online";

/// The availability payload the broker publishes (as the will) when the device is gone.
pub const PAYLOAD_OFFLINE: &[u8] = b"offline";

/// How many sample periods `expire_after` allows before Home Assistant marks a reading
/// unavailable: two lost samples are tolerated, the third missing one expires it.
const EXPIRE_PERIODS: u64 = 3;

/// Names a Jinja `value_json.<key>` lookup would resolve to a dict method instead of the key.
const DICT_METHODS: [&str; 11] = [
    "clear",
    "copy",
    "fromkeys",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
];

/// Why a discovery setup or a config message is refused; returned before any I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The device id is empty or holds a character other than `A-Z a-z 0-9 _ -` (Home
    /// Assistant's rule for the node id of a discovery topic).
    InvalidDeviceId,
    /// A quantity's JSON key is not an identifier (`[A-Za-z_][A-Za-z0-9_]*`) or is a name a
    /// `value_json.<key>` template cannot reach (`items`, `keys`, `values`, …): rename it with
    /// [`HaDiscovery::with_keys`] (and the same keys on the `JsonSink`).
    InvalidKey,
    /// The same JSON key is announced twice: two entities would share a `unique_id`.
    DuplicateKey,
    /// No quantity to announce.
    NoQuantities,
    /// The state topic, the availability topic or the prefix cannot be published to.
    InvalidTopic(TopicError),
    /// The config message does not fit the buffer: give it at least `needed` bytes.
    BufferTooSmall {
        /// Bytes the topic and the payload need together (a lower bound when it was not
        /// written to the end).
        needed: usize,
    },
    /// No config with this index: there are as many as quantities.
    NoSuchConfig,
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::InvalidDeviceId => {
                f.write_str("device id must be non-empty and use only A-Z a-z 0-9 _ -")
            }
            DiscoveryError::InvalidKey => f.write_str(
                "JSON key is not usable in a value_json template: rename it with with_keys",
            ),
            DiscoveryError::DuplicateKey => {
                f.write_str("two quantities share a JSON key: give each its own")
            }
            DiscoveryError::NoQuantities => f.write_str("no quantity to announce"),
            DiscoveryError::InvalidTopic(e) => write!(f, "discovery topic: {e}"),
            DiscoveryError::BufferTooSmall { needed } => {
                write!(
                    f,
                    "discovery config needs a buffer of at least {needed} bytes"
                )
            }
            DiscoveryError::NoSuchConfig => f.write_str("no discovery config with this index"),
        }
    }
}

impl core::error::Error for DiscoveryError {}

impl From<TopicError> for DiscoveryError {
    fn from(e: TopicError) -> Self {
        DiscoveryError::InvalidTopic(e)
    }
}

/// The device block of every config: what Home Assistant groups the entities under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HaDevice<'a> {
    id: &'a str,
    name: &'a str,
    model: Option<&'a str>,
    manufacturer: Option<&'a str>,
    sw_version: Option<&'a str>,
}

impl<'a> HaDevice<'a> {
    /// A device with the stable `id` (node id of the discovery topics, prefix of every
    /// `unique_id`: keep it across firmware updates, e.g. from the chip's MAC) and the
    /// display `name`.
    pub const fn new(id: &'a str, name: &'a str) -> Self {
        Self {
            id,
            name,
            model: None,
            manufacturer: None,
            sw_version: None,
        }
    }

    /// Adds the model (`"Pysense 2.0"`).
    pub const fn with_model(mut self, model: &'a str) -> Self {
        self.model = Some(model);
        self
    }

    /// Adds the manufacturer.
    pub const fn with_manufacturer(mut self, manufacturer: &'a str) -> Self {
        self.manufacturer = Some(manufacturer);
        self
    }

    /// Adds the firmware version (`sw_version`, e.g. `env!("CARGO_PKG_VERSION")`).
    pub const fn with_sw_version(mut self, sw_version: &'a str) -> Self {
        self.sw_version = Some(sw_version);
        self
    }

    /// The device id.
    pub const fn id(&self) -> &'a str {
        self.id
    }
}

/// Home Assistant's description of a quantity: device class (if it has one), unit, display
/// name.
///
/// Quantities Home Assistant has no device class for (altitude, acceleration in g, pitch and
/// roll, raw values, custom ones) get none and keep their unit.
pub const fn ha_device_class(quantity: Quantity) -> Option<&'static str> {
    match quantity {
        Quantity::Temperature | Quantity::DewPoint => Some("temperature"),
        Quantity::Humidity => Some("humidity"),
        Quantity::Pressure => Some("pressure"),
        Quantity::Illuminance => Some("illuminance"),
        Quantity::Voltage => Some("voltage"),
        _ => None,
    }
}

/// The entity name shown in Home Assistant (after the device name).
const fn title(quantity: Quantity) -> &'static str {
    match quantity {
        Quantity::Temperature => "Temperature",
        Quantity::Humidity => "Humidity",
        Quantity::Pressure => "Pressure",
        Quantity::Altitude => "Altitude",
        Quantity::Illuminance => "Illuminance",
        Quantity::AccelerationX => "Acceleration X",
        Quantity::AccelerationY => "Acceleration Y",
        Quantity::AccelerationZ => "Acceleration Z",
        Quantity::Pitch => "Pitch",
        Quantity::Roll => "Roll",
        Quantity::DewPoint => "Dew point",
        Quantity::Voltage => "Voltage",
        Quantity::Value => "Value",
        Quantity::Custom { name, .. } => name,
    }
}

/// The retained discovery configs of one device's sensors, one per quantity, pointing at a
/// `JsonSink::object` state topic and at the device's availability topic.
///
/// ```
/// use sensorpub::{HaDevice, HaDiscovery, MqttOptions, Quantity};
///
/// let quantities = [Quantity::Temperature, Quantity::Humidity];
/// let discovery = HaDiscovery::new(
///     HaDevice::new("apricot", "Apricot").with_model("Pysense 2.0").with_sw_version("0.3.0"),
///     "apricot/value",  // where the JsonSink::object publishes
///     "apricot/status", // retained online / offline
///     &quantities,
/// )?
/// .with_sample_period_ms(60_000);
/// // Birth `online` after every connect, will `offline`: both retained.
/// let options = discovery.availability(MqttOptions::new("apricot"));
/// assert_eq!(options.will().map(|m| m.payload), Some(&b"offline"[..]));
///
/// let mut buf = [0u8; 768];
/// let config = discovery.config(0, &mut buf)?;
/// assert_eq!(config.topic, "homeassistant/sensor/apricot/temperature/config");
/// assert!(config.retain);
/// let json = core::str::from_utf8(config.payload)?;
/// assert!(json.contains(r#""value_template":"{{ value_json.temperature }}""#));
/// assert!(json.contains(r#""device_class":"temperature","unit_of_measurement":"°C""#));
/// assert!(json.contains(r#""expire_after":180"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct HaDiscovery<'a> {
    device: HaDevice<'a>,
    prefix: &'a str,
    state_topic: &'a str,
    availability_topic: &'a str,
    quantities: &'a [Quantity],
    keys: &'a [(Quantity, &'a str)],
    expire_after_s: Option<u32>,
}

impl<'a> HaDiscovery<'a> {
    /// Configs for `quantities` of `device`, read from the JSON object on `state_topic`, with
    /// availability on `availability_topic` (`<base>/status`), under the prefix
    /// [`DEFAULT_DISCOVERY_PREFIX`]. Refused before any I/O: an invalid device id, topic or
    /// key ([`DiscoveryError`]).
    pub fn new(
        device: HaDevice<'a>,
        state_topic: &'a str,
        availability_topic: &'a str,
        quantities: &'a [Quantity],
    ) -> Result<Self, DiscoveryError> {
        let id = device.id.as_bytes();
        if id.is_empty()
            || !id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        {
            return Err(DiscoveryError::InvalidDeviceId);
        }
        validate_topic_name(state_topic)?;
        validate_topic_name(availability_topic)?;
        let discovery = Self {
            device,
            prefix: DEFAULT_DISCOVERY_PREFIX,
            state_topic,
            availability_topic,
            quantities,
            keys: &[],
            expire_after_s: None,
        };
        discovery.check_keys()?;
        Ok(discovery)
    }

    /// Publishes the configs under `prefix` instead of `homeassistant` (Home Assistant's
    /// "discovery prefix" setting).
    pub fn with_prefix(mut self, prefix: &'a str) -> Result<Self, DiscoveryError> {
        validate_topic_name(prefix)?;
        self.prefix = prefix;
        Ok(self)
    }

    /// The JSON keys the `JsonSink` uses where [`JsonSink::with_keys`](crate::JsonSink::with_keys)
    /// renamed them: pass it the same slice.
    pub fn with_keys(mut self, keys: &'a [(Quantity, &'a str)]) -> Result<Self, DiscoveryError> {
        self.keys = keys;
        self.check_keys()?;
        Ok(self)
    }

    /// Sets `expire_after` to three sample periods (rounded up to whole seconds): Home
    /// Assistant shows a reading as unavailable once three samples in a row are missing.
    pub fn with_sample_period_ms(mut self, period_ms: u64) -> Self {
        let ms = period_ms.saturating_mul(EXPIRE_PERIODS);
        let seconds = u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX);
        self.expire_after_s = Some(seconds.max(1));
        self
    }

    /// The device.
    pub const fn device(&self) -> &HaDevice<'a> {
        &self.device
    }

    /// The number of config messages: one per quantity.
    pub const fn len(&self) -> usize {
        self.quantities.len()
    }

    /// Whether there is no config (never: [`new`](Self::new) refuses no quantities).
    pub const fn is_empty(&self) -> bool {
        self.quantities.is_empty()
    }

    /// The retained `online` message on the availability topic (QoS 1): the birth message.
    pub const fn online(&self) -> Message<'a> {
        Message::new(self.availability_topic, PAYLOAD_ONLINE)
            .with_qos(QoS::AtLeastOnce)
            .with_retain(true)
    }

    /// The retained `offline` message on the availability topic (QoS 1): the will.
    pub const fn offline(&self) -> Message<'a> {
        Message::new(self.availability_topic, PAYLOAD_OFFLINE)
            .with_qos(QoS::AtLeastOnce)
            .with_retain(true)
    }

    /// `options` with [`online`](Self::online) as birth (published after every connect) and
    /// [`offline`](Self::offline) as will, for [`Mqtt5`](crate::Mqtt5) and
    /// [`Mqtt311`](crate::Mqtt311). Not for ThingSpeak, which refuses wills and has no Home
    /// Assistant on the other side.
    pub const fn availability(
        &self,
        options: crate::transport::MqttOptions<'a>,
    ) -> crate::transport::MqttOptions<'a> {
        options.with_will(self.offline()).with_birth(self.online())
    }

    /// Writes config `index` (the quantity at that index) into `buf`: topic
    /// `<prefix>/sensor/<device id>/<key>/config`, the JSON config as payload, retained, QoS 1.
    pub fn config<'b>(
        &self,
        index: usize,
        buf: &'b mut [u8],
    ) -> Result<Message<'b>, DiscoveryError> {
        let quantity = *self
            .quantities
            .get(index)
            .ok_or(DiscoveryError::NoSuchConfig)?;
        let key = self.key(quantity);
        let mut w = Writer::new(buf);
        for part in [self.prefix, "/sensor/", self.device.id, "/", key, "/config"] {
            w.raw(part);
        }
        let topic_len = w.len;
        self.write_payload(&mut w, quantity, key);
        if w.overflow {
            return Err(DiscoveryError::BufferTooSmall { needed: w.needed });
        }
        let len = w.len;
        let (topic, rest) = buf.split_at(topic_len);
        let payload = &rest[..len - topic_len];
        // Both halves were written from `&str`s split at a char boundary.
        let topic = core::str::from_utf8(topic).map_err(|_| DiscoveryError::InvalidKey)?;
        validate_topic_name(topic)?;
        Ok(Message::new(topic, payload)
            .with_qos(QoS::AtLeastOnce)
            .with_retain(true))
    }

    /// The largest buffer any config needs (what [`config`](Self::config) and
    /// [`Announcing::new`] want).
    pub fn buffer_len(&self) -> usize {
        (0..self.len())
            .map(|index| {
                let quantity = self.quantities[index];
                let mut w = Writer::new(&mut []);
                for part in [
                    self.prefix,
                    "/sensor/",
                    self.device.id,
                    "/",
                    self.key(quantity),
                ] {
                    w.raw(part);
                }
                w.raw("/config");
                self.write_payload(&mut w, quantity, self.key(quantity));
                w.needed
            })
            .max()
            .unwrap_or(0)
    }

    fn key(&self, quantity: Quantity) -> &'a str {
        self.keys
            .iter()
            .find(|(q, _)| *q == quantity)
            .map_or(quantity.name(), |(_, key)| key)
    }

    fn check_keys(&self) -> Result<(), DiscoveryError> {
        if self.quantities.is_empty() {
            return Err(DiscoveryError::NoQuantities);
        }
        for (i, quantity) in self.quantities.iter().enumerate() {
            let key = self.key(*quantity);
            let bytes = key.as_bytes();
            let identifier = match bytes.first() {
                Some(first) => {
                    (first.is_ascii_alphabetic() || *first == b'_')
                        && bytes
                            .iter()
                            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                }
                None => false,
            };
            if !identifier || DICT_METHODS.contains(&key) {
                return Err(DiscoveryError::InvalidKey);
            }
            if self.quantities[..i].iter().any(|q| self.key(*q) == key) {
                return Err(DiscoveryError::DuplicateKey);
            }
        }
        Ok(())
    }

    fn write_payload(&self, w: &mut Writer<'_>, quantity: Quantity, key: &str) {
        let device = &self.device;
        w.raw("{\"name\":");
        w.string(title(quantity));
        w.raw(",\"unique_id\":\"");
        w.raw(device.id);
        w.raw("_");
        w.raw(key);
        w.raw("\",\"state_topic\":");
        w.string(self.state_topic);
        w.raw(",\"value_template\":\"{{ value_json.");
        w.raw(key);
        w.raw(" }}\"");
        if let Some(class) = ha_device_class(quantity) {
            w.raw(",\"device_class\":\"");
            w.raw(class);
            w.raw("\"");
        }
        if !quantity.unit().is_empty() {
            w.raw(",\"unit_of_measurement\":");
            w.string(quantity.unit());
        }
        w.raw(",\"state_class\":\"measurement\"");
        if let Some(seconds) = self.expire_after_s {
            w.raw(",\"expire_after\":");
            w.number(seconds);
        }
        w.raw(",\"availability_topic\":");
        w.string(self.availability_topic);
        w.raw(",\"payload_available\":\"online\",\"payload_not_available\":\"offline\"");
        w.raw(",\"device\":{\"identifiers\":[\"sensorpub_");
        w.raw(device.id);
        w.raw("\"],\"name\":");
        w.string(device.name);
        for (name, value) in [
            ("model", device.model),
            ("manufacturer", device.manufacturer),
            ("sw_version", device.sw_version),
        ] {
            if let Some(value) = value {
                w.raw(",\"");
                w.raw(name);
                w.raw("\":");
                w.string(value);
            }
        }
        w.raw("},\"origin\":{\"name\":\"sensorpub\",\"sw_version\":\"");
        w.raw(env!("CARGO_PKG_VERSION"));
        w.raw("\"}}");
    }
}

/// Writes text into a byte buffer, counting what it would need past the end.
struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
    needed: usize,
    overflow: bool,
}

impl<'b> Writer<'b> {
    fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            needed: 0,
            overflow: false,
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.needed += bytes.len();
        if self.overflow {
            return;
        }
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dest) => {
                dest.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }

    fn raw(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    /// A JSON string: quotes, with `"`, `\` and control characters escaped.
    fn string(&mut self, text: &str) {
        self.raw("\"");
        let mut start = 0;
        for (at, byte) in text.bytes().enumerate() {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                self.bytes(&text.as_bytes()[start..at]);
                let hex = b"0123456789abcdef";
                match byte {
                    b'"' => self.raw("\\\""),
                    b'\\' => self.raw("\\\\"),
                    _ => self.bytes(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        hex[usize::from(byte >> 4)],
                        hex[usize::from(byte & 0xf)],
                    ]),
                }
                start = at + 1;
            }
        }
        self.bytes(&text.as_bytes()[start..]);
        self.raw("\"");
    }

    fn number(&mut self, mut value: u32) {
        let mut digits = [0u8; 10];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.bytes(&digits[at..]);
    }
}

/// A transport that publishes a device's discovery configs after every connect: wrap the
/// MQTT transport in it (the birth `online` comes first, from the
/// [options](HaDiscovery::availability)), then hand it to a `Publisher` or
/// `ResilientPublisher`, whose reconnects go through [`Transport::connect`].
///
/// The first `connect` always announces (the MQTT transports start disconnected, so a
/// `ResilientPublisher`'s first connect does it); later ones announce when the inner
/// transport was not connected. Everything else passes through. The configs are rendered
/// one at a time into the buffer given to [`new`](Self::new), which checks that every one
/// fits, so a connect never fails for a config.
///
/// ```
/// use sensorpub::{Announcing, HaDevice, HaDiscovery, MemoryTransport, Quantity, Transport};
///
/// let quantities = [Quantity::Temperature];
/// let discovery = HaDiscovery::new(HaDevice::new("apricot", "Apricot"), "apricot/value",
///     "apricot/status", &quantities)?;
/// let mut buf = [0u8; 640];
/// let mut transport = Announcing::new(MemoryTransport::<4, 640>::new(), discovery, &mut buf)?;
/// embassy_futures::block_on(transport.connect())?;
/// let sent = &transport.inner().messages()[0];
/// assert_eq!(sent.topic, "homeassistant/sensor/apricot/temperature/config");
/// assert!(sent.retain);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Announcing<'a, 'b, T> {
    inner: T,
    discovery: HaDiscovery<'a>,
    buf: &'b mut [u8],
    /// The configs still owed to the current connection.
    pending: bool,
    /// Where Home Assistant's `<prefix>/status` messages arrive, if they are watched.
    ha_status: Option<&'b InboxSlot>,
}

impl<'a, 'b, T: Transport> Announcing<'a, 'b, T> {
    /// Wraps `inner`; [`DiscoveryError::BufferTooSmall`] unless `buf` holds every config
    /// ([`HaDiscovery::buffer_len`] bytes).
    pub fn new(
        inner: T,
        discovery: HaDiscovery<'a>,
        buf: &'b mut [u8],
    ) -> Result<Self, DiscoveryError> {
        for index in 0..discovery.len() {
            discovery.config(index, buf)?;
        }
        Ok(Self {
            inner,
            discovery,
            buf,
            pending: true,
            ha_status: None,
        })
    }

    /// Re-publishes every config when Home Assistant announces itself: a message `online`
    /// on `<prefix>/status` ([`HA_STATUS_TOPIC`] for the default prefix) in `inbox`, which
    /// the inner transport fills (subscribe to that topic in its options). The inbox is
    /// looked at after every [`publish`](Transport::publish) and [`poll`](Transport::poll);
    /// other payloads on that topic (`offline`) are taken and ignored, messages on other
    /// topics stay for the caller.
    pub fn with_ha_status<const N: usize>(mut self, inbox: &'b Inbox<N>) -> Self {
        self.ha_status = Some(inbox.slot());
        self
    }

    /// Announces again if Home Assistant said `online` meanwhile.
    async fn follow_ha_status(&mut self) -> Result<(), T::Error> {
        let Some(inbox) = self.ha_status else {
            return Ok(());
        };
        let prefix = self.discovery.prefix;
        let is_status = |topic: &str| {
            topic
                .strip_prefix(prefix)
                .is_some_and(|rest| rest == "/status")
        };
        let online = inbox.take_if(is_status, |m| m.payload.trim_ascii() == PAYLOAD_ONLINE);
        if online == Some(true) {
            self.announce().await?;
        }
        Ok(())
    }

    /// Publishes every config now (e.g. when Home Assistant announced itself on
    /// `homeassistant/status`).
    pub async fn announce(&mut self) -> Result<(), T::Error> {
        self.pending = true;
        for index in 0..self.discovery.len() {
            // `new` rendered every config into this buffer: none fails.
            if let Ok(config) = self.discovery.config(index, self.buf) {
                self.inner.publish(&config).await?;
            }
        }
        self.pending = false;
        Ok(())
    }

    /// The discovery it announces.
    pub fn discovery(&self) -> &HaDiscovery<'a> {
        &self.discovery
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The wrapped transport, mutably.
    pub fn inner_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The wrapped transport, given back.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: Transport> Transport for Announcing<'_, '_, T> {
    type Error = T::Error;

    /// Publishes through the inner transport, then re-announces if Home Assistant came
    /// online meanwhile ([`with_ha_status`](Announcing::with_ha_status)). An error from
    /// that announcement is returned too, although `message` was delivered: sending it again
    /// stays within at-least-once.
    async fn publish(&mut self, message: &Message<'_>) -> Result<(), T::Error> {
        self.inner.publish(message).await?;
        self.follow_ha_status().await
    }

    /// Connects the inner transport; after a new connection (or configs a failure left
    /// unsent) publishes every config before returning.
    async fn connect(&mut self) -> Result<(), T::Error> {
        if !self.inner.is_connected() {
            self.pending = true;
        }
        self.inner.connect().await?;
        if self.pending {
            self.announce().await?;
        }
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// Polls the inner transport, then re-announces if Home Assistant came online
    /// meanwhile ([`with_ha_status`](Announcing::with_ha_status)).
    async fn poll(&mut self) -> Result<(), T::Error> {
        self.inner.poll().await?;
        self.follow_ha_status().await
    }

    fn broker_index(&self) -> usize {
        self.inner.broker_index()
    }

    fn max_message_len(&self) -> Option<usize> {
        self.inner.max_message_len()
    }

    fn is_permanent(&self, error: &Self::Error) -> bool {
        self.inner.is_permanent(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::MemoryTransport;

    const QUANTITIES: [Quantity; 3] = [Quantity::Temperature, Quantity::Altitude, Quantity::Value];

    fn discovery() -> HaDiscovery<'static> {
        HaDiscovery::new(
            HaDevice::new("apricot", "Apricot \"lab\"").with_model("Pysense"),
            "apricot/value",
            "apricot/status",
            &QUANTITIES,
        )
        .unwrap()
    }

    #[test]
    fn config_without_device_class_keeps_the_unit_and_value_has_neither() {
        let d = discovery();
        let mut buf = [0u8; 1024];
        let altitude = d.config(1, &mut buf).unwrap();
        let text = core::str::from_utf8(altitude.payload).unwrap();
        assert!(!text.contains("device_class"), "{text}");
        assert!(text.contains(r#""unit_of_measurement":"m""#), "{text}");
        let value = d.config(2, &mut buf).unwrap();
        let text = core::str::from_utf8(value.payload).unwrap();
        assert!(
            !text.contains("device_class") && !text.contains("unit_of"),
            "{text}"
        );
        assert!(text.contains(r#""name":"Apricot \"lab\"""#), "{text}");
    }

    #[test]
    fn every_byte_count_short_of_buffer_len_is_refused() {
        let d = discovery();
        let needed = d.buffer_len();
        let mut buf = std::vec![0u8; needed];
        for index in 0..d.len() {
            assert!(d.config(index, &mut buf).is_ok());
        }
        for len in 0..needed {
            let result = (0..d.len()).try_for_each(|i| d.config(i, &mut buf[..len]).map(drop));
            assert!(
                matches!(result, Err(DiscoveryError::BufferTooSmall { needed: n }) if n > len),
                "{len}: {result:?}"
            );
        }
        assert_eq!(d.config(3, &mut buf), Err(DiscoveryError::NoSuchConfig));
    }

    #[test]
    fn bad_ids_and_keys_are_refused() {
        let q: &'static [Quantity] = &[Quantity::Temperature];
        let new = |id, q: &'static [Quantity]| {
            HaDiscovery::new(HaDevice::new(id, "x"), "a/value", "a/status", q)
        };
        assert_eq!(new("", q).err(), Some(DiscoveryError::InvalidDeviceId));
        assert_eq!(new("a/b", q).err(), Some(DiscoveryError::InvalidDeviceId));
        assert_eq!(new("a", &[]).err(), Some(DiscoveryError::NoQuantities));
        let custom = Quantity::Custom {
            name: "items",
            unit: "",
        };
        let bad: &'static [Quantity] = &[Quantity::Temperature, Quantity::DewPoint];
        assert!(new("a", bad).is_ok());
        let renamed: &'static [(Quantity, &str)] = &[(Quantity::DewPoint, "temperature")];
        assert_eq!(
            new("a", bad).unwrap().with_keys(renamed).err(),
            Some(DiscoveryError::DuplicateKey)
        );
        let custom_q: &'static [Quantity] = std::vec![custom].leak();
        assert_eq!(new("a", custom_q).err(), Some(DiscoveryError::InvalidKey));
        let spaced: &'static [(Quantity, &str)] = &[(Quantity::Temperature, "a b")];
        assert_eq!(
            new("a", q).unwrap().with_keys(spaced).err(),
            Some(DiscoveryError::InvalidKey)
        );
        assert!(matches!(
            new("a", q).unwrap().with_prefix("ha/#"),
            Err(DiscoveryError::InvalidTopic(_))
        ));
    }

    #[test]
    fn expire_after_is_three_periods_rounded_up() {
        let mut buf = [0u8; 1024];
        for (period_ms, expected) in [(60_000, "180"), (1_500, "5"), (100, "1"), (0, "1")] {
            let d = discovery().with_sample_period_ms(period_ms);
            let config = d.config(0, &mut buf).unwrap();
            let text = core::str::from_utf8(config.payload).unwrap();
            let field = std::format!("\"expire_after\":{expected},");
            assert!(text.contains(&field), "{period_ms}: {text}");
        }
    }

    #[test]
    fn announcing_publishes_the_configs_on_each_new_connection_only() {
        let mut buf = [0u8; 1024];
        let inner = MemoryTransport::<16, 1024>::new();
        let mut t = Announcing::new(inner, discovery(), &mut buf).unwrap();
        embassy_futures::block_on(async {
            t.connect().await.unwrap();
            t.connect().await.unwrap();
            assert_eq!(t.inner().messages().len(), 3);
            t.inner_mut().disconnect_after(0);
            assert!(
                t.publish(&Message::new("apricot/value", b"1"))
                    .await
                    .is_err()
            );
            t.connect().await.unwrap();
        });
        let topics: std::vec::Vec<&str> = t
            .inner()
            .messages()
            .iter()
            .map(|m| m.topic.as_str())
            .collect();
        assert_eq!(topics.len(), 6, "{topics:?}");
        assert_eq!(topics[3], "homeassistant/sensor/apricot/temperature/config");
    }
}
