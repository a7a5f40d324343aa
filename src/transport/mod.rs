//! The [`Transport`] trait: what delivers a [`Message`] to a broker, and the transports we ship.
//!
//! A transport knows nothing of sensors or wire formats: it takes a topic, a payload, a QoS and
//! a retain flag, and delivers them.
//!
//! - [`Mqtt5`]: MQTT 5 on minimq.
//! - [`Mqtt311`]: MQTT 3.1.1 on the mqttrs codec; [`ThingSpeak`] configures it for
//!   ThingSpeak's MQTT API.
//! - [`MemoryTransport`]: records messages, for tests.
//!
//! Both MQTT transports open their TCP connection through `embedded-nal-async`
//! ([`open`]), so the same code runs on embassy-net in firmware and on
//! `std-embedded-nal-async` on a PC, and share [`MqttOptions`] and [`MqttError`]. Time
//! (timeouts, keep-alive) comes from `embassy-time`: firmware gets it from its executor's
//! time driver, a PC build from embassy-time's `std` feature.

mod connect;
mod error;
mod inbox;
mod link;
mod memory;
mod mqtt311;
#[cfg(feature = "tls")]
mod mqtt311_tls;
mod mqtt5;
mod options;
mod thingspeak;
#[cfg(feature = "tls")]
mod tls;

pub use connect::{Broker, BrokerParseError, ConnectError, MQTT_PORT, open};
pub use error::{MqttConfigError, MqttError, Refusal};
pub(crate) use inbox::InboxSlot;
pub use inbox::{Inbox, InboxStats, Received, Subscription};
pub use memory::{MemoryError, MemoryTransport, RecordedMessage};
pub use mqtt5::{Mqtt5, Mqtt5Buffers, Mqtt5Runner, Plaintext};
/// For the fuzz targets only (`sensorpub::fuzzing`).
#[cfg(fuzzing)]
pub use mqtt311::frame_len;
pub use mqtt311::{MQTT311_MIN_RX_BUFFER, Mqtt311};
#[cfg(feature = "tls")]
pub use mqtt311_tls::{Mqtt311Tls, Mqtt311TlsBuffers, Mqtt311TlsRunner};
pub use options::{Credentials, MqttOptions};
pub use thingspeak::{THINGSPEAK_HOST, ThingSpeak};
#[cfg(feature = "tls")]
pub use tls::Tls as TlsLayer;
#[cfg(feature = "tls")]
pub use tls::{
    MQTT_TLS_PORT, MaxFragment, PemError, TlsBuffers, TlsError, TlsOptions, WallClock, pem_to_der,
};
#[cfg(all(fuzzing, feature = "tls"))]
pub use tls::{X509Certificate, x509_is_ca, x509_verify_self_signed};

use crate::message::Message;

/// Delivers messages: an MQTT client over a network, or memory in tests.
///
/// ```
/// use sensorpub::{Message, Transport};
///
/// /// Prints messages instead of sending them.
/// struct Print;
///
/// impl Transport for Print {
///     type Error = core::convert::Infallible;
///     async fn publish(&mut self, message: &Message<'_>) -> Result<(), Self::Error> {
///         println!("{} {:?}", message.topic, message.payload);
///         Ok(())
///     }
/// }
///
/// embassy_futures::block_on(Print.publish(&Message::new("apricot/value", b"742"))).unwrap();
/// ```
#[allow(async_fn_in_trait)] // executors on MCUs are single-threaded; no Send bound wanted
pub trait Transport {
    /// Why a message could not be delivered.
    type Error;

    /// Delivers `message` with its QoS and retain flag.
    ///
    /// Returns `Ok` once a QoS 0 message is written to the network, and once the broker has
    /// acknowledged (PUBACK) a QoS 1 message: `Ok` means the message is the broker's, so a
    /// caller that keeps every message until `Ok` loses nothing. On `Err` the message may or
    /// may not have arrived; sending it again gives at-least-once delivery.
    async fn publish(&mut self, message: &Message<'_>) -> Result<(), Self::Error>;

    /// Opens (or re-opens after a failure) the connection to the broker. Transports without a
    /// connection do nothing.
    async fn connect(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Whether the last `connect` succeeded and no failure has been seen since.
    fn is_connected(&self) -> bool {
        true
    }

    /// Drives the connection between publishes: keep-alive pings, incoming acknowledgements.
    /// Call it at least once per keep-alive interval when idle.
    async fn poll(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Which broker of the transport's list the current connection (or, while disconnected,
    /// the last attempt) goes to: 0 the broker it was built with, `i` its fallback `i - 1`
    /// ([`MqttOptions::with_fallbacks`]). Transports with one broker, or none, say 0.
    fn broker_index(&self) -> usize {
        0
    }

    /// How many QoS 1 messages this transport lets [`submit`](Self::submit) have in flight,
    /// unacknowledged (at least 1). The default is 1: a backlog goes one round trip per
    /// message. [`Mqtt311`] says [`MqttOptions::with_window`], [`Mqtt5`] the same, at most 8.
    fn window(&self) -> usize {
        1
    }

    /// Writes the QoS 1 `message` without waiting for its acknowledgement and returns its
    /// id (its packet id, or for [`Mqtt5`] an id of the runner's for it: minimq does not show
    /// packet ids); [`next_ack`](Self::next_ack) reports the ids as their PUBACKs arrive. At
    /// most [`window`](Self::window) messages may be in flight. A caller that keeps every
    /// message until its own id was reported loses nothing; after an `Err` (of either) the
    /// unacknowledged ones may or may not have arrived, and go again after a reconnect.
    ///
    /// The default delivers the message in full with [`publish`](Self::publish) and returns
    /// 0, which the default [`next_ack`](Self::next_ack) then reports: a window of 1.
    async fn submit(&mut self, message: &Message<'_>) -> Result<u16, Self::Error> {
        self.publish(message).await?;
        Ok(0)
    }

    /// Waits for the acknowledgement of a message [`submit`](Self::submit) wrote and returns
    /// its packet id (acknowledgements may come in any order). Call it only with messages in
    /// flight. The default returns 0 at once (see [`submit`](Self::submit)).
    async fn next_ack(&mut self) -> Result<u16, Self::Error> {
        Ok(0)
    }

    /// The longest message, topic plus payload in bytes, this transport could ever send with
    /// its buffers, or `None` if it sets no limit (the default). A longer message always
    /// fails ([`MqttError::TooLarge`] for the MQTT transports); a message within the limit
    /// may still be refused, e.g. at QoS 1 (two more bytes of packet id), or by a broker's
    /// Maximum Packet Size. A [`ResilientPublisher`](crate::ResilientPublisher) refuses a
    /// longer message before it is queued ([`ResilientError::TooLarge`]).
    ///
    /// [`ResilientError::TooLarge`]: crate::ResilientError::TooLarge
    fn max_message_len(&self) -> Option<usize> {
        None
    }

    /// Whether `error`, returned by [`publish`](Self::publish) or [`submit`](Self::submit),
    /// is the message's fault, so that sending that message again can never succeed: e.g.
    /// [`MqttError::TooLarge`] (see [`MqttError::is_permanent`]). The connection is not
    /// affected. A [`ResilientPublisher`](crate::ResilientPublisher) drops such a message
    /// from its queue and counts it ([`Stats::unsendable`](crate::Stats::unsendable))
    /// instead of retrying it forever ahead of every later message. The default says
    /// `false`: every error is transient (reconnect and send again).
    fn is_permanent(&self, error: &Self::Error) -> bool {
        let _ = error;
        false
    }
}

// The calls forward the inner futures as they are: an `async fn` wrapping each would add a
// level (its arguments) to every caller's future.
impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;

    fn publish(&mut self, message: &Message<'_>) -> impl Future<Output = Result<(), Self::Error>> {
        (**self).publish(message)
    }

    fn connect(&mut self) -> impl Future<Output = Result<(), Self::Error>> {
        (**self).connect()
    }

    fn is_connected(&self) -> bool {
        (**self).is_connected()
    }

    fn poll(&mut self) -> impl Future<Output = Result<(), Self::Error>> {
        (**self).poll()
    }

    fn broker_index(&self) -> usize {
        (**self).broker_index()
    }

    fn window(&self) -> usize {
        (**self).window()
    }

    fn submit(&mut self, message: &Message<'_>) -> impl Future<Output = Result<u16, Self::Error>> {
        (**self).submit(message)
    }

    fn next_ack(&mut self) -> impl Future<Output = Result<u16, Self::Error>> {
        (**self).next_ack()
    }

    fn max_message_len(&self) -> Option<usize> {
        (**self).max_message_len()
    }

    fn is_permanent(&self, error: &Self::Error) -> bool {
        (**self).is_permanent(error)
    }
}
