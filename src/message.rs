//! [`Message`] and [`QoS`]: what a sink hands to a transport.

/// MQTT quality of service for a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum QoS {
    /// QoS 0: sent once, never acknowledged (ThingSpeak accepts only this).
    #[default]
    AtMostOnce,
    /// QoS 1: resent until the broker acknowledges it; may arrive more than once.
    AtLeastOnce,
}

/// One MQTT message: topic, payload and delivery options, borrowed (a sink's payload from the
/// caller's buffer, its topic from the sink itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message<'a> {
    /// The topic, e.g. `apricot/value` or `channels/123/publish`.
    pub topic: &'a str,
    /// The payload bytes (UTF-8 for every sink of this crate).
    pub payload: &'a [u8],
    /// Quality of service.
    pub qos: QoS,
    /// Whether the broker keeps the message for new subscribers.
    pub retain: bool,
}

impl<'a> Message<'a> {
    /// A QoS 0, non-retained message.
    pub const fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        Self {
            topic,
            payload,
            qos: QoS::AtMostOnce,
            retain: false,
        }
    }

    /// The same message with quality of service `qos`.
    pub const fn with_qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// The same message with the retain flag set to `retain`.
    pub const fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }
}
