//! The [`Transport`] trait: what delivers a [`Message`] to a broker, and the transports we ship.
//!
//! A transport knows nothing of sensors or wire formats: it takes a topic, a payload, a QoS and
//! a retain flag, and delivers them.

mod memory;

pub use memory::{MemoryError, MemoryTransport, RecordedMessage};

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

    /// Delivers `message` with its QoS and retain flag. Returns once the message is handed to
    /// the network (QoS 0) or as the implementation documents for QoS 1.
    async fn publish(&mut self, message: &Message<'_>) -> Result<(), Self::Error>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    type Error = T::Error;

    async fn publish(&mut self, message: &Message<'_>) -> Result<(), Self::Error> {
        (**self).publish(message).await
    }
}
