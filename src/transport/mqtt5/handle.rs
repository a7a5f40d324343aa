//! [`Mqtt5`]: the handle the publishers use. [`Mqtt5::new`] builds it with its
//! [`Mqtt5Runner`]; each [`Transport`] call posts one request to the runner and waits for the
//! answer.

use super::runner::{Mqtt5Runner, Settings};
use super::window::MINIMQ_IN_FLIGHT;
use super::{Link, MessageBuffer, Mqtt5Buffers, Request};
use crate::message::Message;
use crate::transport::link::Caller;
use crate::transport::options::broker_at;
use crate::transport::{Broker, MqttConfigError, MqttError, MqttOptions, Transport};
use embedded_nal_async::{Dns, TcpConnect};

/// An MQTT 5 connection over any `embedded-nal-async` stack, on minimq: QoS 0 and 1,
/// retain, keep-alive, will and birth message, a clean session on every connection (Clean
/// Start 1, session expiry 0).
///
/// [`Mqtt5::new`] returns this handle and its [`Mqtt5Runner`]. The runner owns the
/// connection: **run it** (spawn `runner.run()` as a task, or `join`/`select` it with the code
/// that publishes), or the handle's calls never finish. Every buffer is in the caller's
/// [`Mqtt5Buffers`].
///
/// ```no_run
/// use embassy_futures::select::{Either, select};
/// use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttOptions};
/// use sensorpub::{Message, QoS, Transport};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let stack = std_embedded_nal_async::Stack::default();
/// let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
/// let broker = Broker::new("127.0.0.1", 1883);
/// let (mut mqtt, mut runner) =
///     Mqtt5::new(&stack, broker, MqttOptions::new("apricot"), &mut buffers)?;
///
/// let publish = async {
///     mqtt.connect().await?;
///     // Returns once the broker acknowledged the message (PUBACK).
///     let message = Message::new("apricot/value", b"742").with_qos(QoS::AtLeastOnce);
///     mqtt.publish(&message).await?;
///     mqtt.disconnect().await;
///     Ok::<(), sensorpub::MqttError>(())
/// };
/// match select(runner.run(), publish).await {
///     Either::First(never) => never,
///     Either::Second(result) => result?,
/// }
/// # Ok(())
/// # }
/// ```
///
/// **Several brokers.** With [`MqttOptions::with_fallbacks`], the connect after a failed
/// connect (a refusal included, e.g. [`Refusal::UseAnotherServer`]) or a lost connection goes
/// to the next broker of the list (the one given to `new` first, then the fallbacks, round
/// robin); [`broker`](Self::broker) and [`broker_index`](Transport::broker_index) say which
/// one is in use.
///
/// [`Refusal::UseAnotherServer`]: crate::Refusal::UseAnotherServer
///
/// What `Ok` promises: at QoS 1, the broker acknowledged the message (PUBACK). At QoS 0,
/// that it was written to a connection that was open: the runner reads the connection
/// right before and right after writing, so a broker that had already closed it (end of
/// stream) or reset it is reported as an error, not as `Ok`. A QoS 0 `Ok` cannot promise
/// that the broker received the message: one that closes the connection (or whose network
/// goes away) after the write loses it unseen. Use QoS 1 where that matters.
pub struct Mqtt5<'b> {
    caller: Caller<'b>,
    /// The longest topic plus payload the message buffer and minimq's `TX` arena could hold.
    max_message_len: usize,
    /// The broker it was built with, and the options' fallbacks.
    broker: Broker<'b>,
    fallbacks: &'b [Broker<'b>],
    /// The options' QoS 1 window, at most minimq's in-flight limit.
    window: usize,
}

/// What minimq's transmit arena needs besides a PUBLISH's topic and payload, at least: its
/// 5 bytes of room for the fixed header, the topic's 2-byte length, the properties' length.
const PUBLISH_OVERHEAD: usize = 5 + 2 + 1;

impl<'b> Mqtt5<'b> {
    /// The handle and the runner of one MQTT 5 connection to `broker` through `net`, in
    /// `buffers`. Checks `options` against minimq's limits; does no I/O (the handle's
    /// [`connect`](Transport::connect) does, through the runner).
    ///
    /// # Errors
    /// [`MqttConfigError`] if minimq cannot hold the options (client id over 64 bytes, will
    /// topic over 128 bytes, a will at a QoS it does not know).
    pub fn new<N: TcpConnect + Dns, const RX: usize, const TX: usize, const MESSAGE: usize>(
        net: &'b N,
        broker: Broker<'b>,
        options: MqttOptions<'b>,
        buffers: &'b mut Mqtt5Buffers<RX, TX, MESSAGE>,
    ) -> Result<(Self, Mqtt5Runner<'b, N>), MqttConfigError> {
        let Mqtt5Buffers {
            rx,
            tx,
            message,
            link,
            flight,
        } = buffers;
        // Left over from a handle and runner these buffers served before.
        *link = Link::new();
        let link: &'b Link = link;
        let message: &'b MessageBuffer = message;
        let settings = Settings {
            net,
            broker,
            options,
            link,
            message,
            inbox: None,
            flight,
        };
        let runner = Mqtt5Runner::new(settings, rx, tx)?;
        let handle = Self {
            caller: Caller::new(link, message),
            max_message_len: MESSAGE.min(TX.saturating_sub(PUBLISH_OVERHEAD)),
            broker,
            fallbacks: options.fallbacks(),
            window: options.window().min(MINIMQ_IN_FLIGHT),
        };
        Ok((handle, runner))
    }

    /// As [`new`](Self::new), with every connection over TLS 1.3 (feature `tls`): the
    /// runner opens TCP, then TLS with `tls` in `tls_buffers` and randomness from `rng`, and
    /// sends CONNECT only once the broker is verified (see [`TlsOptions`]). A failed handshake
    /// is [`MqttError::Tls`], with nothing sent over MQTT.
    ///
    /// ```no_run
    /// use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttOptions, TlsBuffers, TlsOptions};
    ///
    /// # fn demo(ca_der: &[u8]) -> Result<(), sensorpub::MqttError> {
    /// let stack = std_embedded_nal_async::Stack::default();
    /// let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
    /// let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    /// let mut rng = rand::rng(); // any rand_core 0.10 CryptoRng (firmware: the chip's RNG)
    /// let (mqtt, runner) = Mqtt5::new_tls(
    ///     &stack,
    ///     Broker::new("broker.example.org", 8883),
    ///     MqttOptions::new("apricot"),
    ///     &mut buffers,
    ///     TlsOptions::verified(ca_der),
    ///     &mut tls_buffers,
    ///     &mut rng,
    /// ).map_err(|_| sensorpub::MqttError::Protocol)?;
    /// # drop((mqtt, runner));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`MqttConfigError`] as for [`new`](Self::new).
    ///
    /// [`TlsOptions`]: crate::transport::TlsOptions
    #[cfg(feature = "tls")]
    #[allow(clippy::too_many_arguments)] // each buffer and setting is the caller's, visibly
    pub fn new_tls<
        N: TcpConnect + Dns,
        R: rand_core::CryptoRng,
        const RX: usize,
        const TX: usize,
        const MESSAGE: usize,
        const READ: usize,
        const WRITE: usize,
    >(
        net: &'b N,
        broker: Broker<'b>,
        options: MqttOptions<'b>,
        buffers: &'b mut Mqtt5Buffers<RX, TX, MESSAGE>,
        tls: crate::transport::TlsOptions<'b>,
        tls_buffers: &'b mut crate::transport::TlsBuffers<READ, WRITE>,
        rng: &'b mut R,
    ) -> Result<(Self, Mqtt5Runner<'b, N, crate::transport::TlsLayer<'b>>), MqttConfigError> {
        let (handle, runner) = Self::new(net, broker, options, buffers)?;
        let tls = crate::transport::tls::Tls::new(tls, tls_buffers, rng);
        Ok((handle, runner.with_tls(tls)))
    }

    /// The broker of the current connection, or while disconnected of the last attempt:
    /// the one it was built with, or one of the options'
    /// [fallbacks](MqttOptions::with_fallbacks) after a failure.
    pub fn broker(&self) -> Broker<'b> {
        broker_at(self.broker, self.fallbacks, self.caller.link.broker.get())
    }

    /// Sends DISCONNECT (so the broker drops the will) and closes the connection. The next
    /// connect goes to the same broker.
    pub async fn disconnect(&mut self) {
        let _ = self.caller.call(Request::Disconnect).await;
    }
}

impl Transport for Mqtt5<'_> {
    type Error = MqttError;

    /// Publishes; at QoS 1 returns once minimq saw the PUBACK, or [`MqttError::Timeout`]
    /// (connection closed) after the acknowledgement timeout
    /// ([`MqttOptions::with_ack_timeout_ms`]). At QoS 0, see what `Ok` promises on
    /// [`Mqtt5`]. [`MqttError::InvalidTopic`] (nothing sent) for a topic that is empty, holds
    /// `#`, `+` or NUL, or is longer than 65,535 bytes.
    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MqttError> {
        self.caller.publish(message).await
    }

    /// Opens the TCP connection and does the CONNECT/CONNACK handshake within the timeout,
    /// then publishes the birth message and makes the
    /// [subscriptions](MqttOptions::with_subscriptions), each acknowledged (SUBACK) within the
    /// timeout; what arrives on them goes to the inbox given to
    /// [`Mqtt5Runner::with_inbox`]. Does nothing when already connected. After a failed
    /// connect or a lost connection it goes to the next broker of the list
    /// ([`MqttOptions::with_fallbacks`]).
    async fn connect(&mut self) -> Result<(), MqttError> {
        self.caller.call(Request::Connect).await
    }

    fn is_connected(&self) -> bool {
        self.caller.link.connected.get()
    }

    fn broker_index(&self) -> usize {
        self.caller.link.broker.get()
    }

    /// The message buffer's length (`MESSAGE`), or minimq's transmit arena (`TX`) less 8
    /// bytes, whichever is less. minimq also keeps the CONNECT packet in `TX`, so a message
    /// a little shorter may still be [`MqttError::TooLarge`].
    fn max_message_len(&self) -> Option<usize> {
        Some(self.max_message_len)
    }

    /// [`MqttError::is_permanent`].
    fn is_permanent(&self, error: &MqttError) -> bool {
        error.is_permanent()
    }

    /// Handles what the broker sent meanwhile, without waiting for more. The runner keeps an
    /// idle connection alive by itself; `poll` reports how it stands: `Ok` while it is up,
    /// the error that ended it (once) if it ended while idle, e.g. [`MqttError::Timeout`]
    /// for a keep-alive ping the broker did not answer.
    async fn poll(&mut self) -> Result<(), MqttError> {
        self.caller.call(Request::Poll).await
    }

    /// [`MqttOptions::with_window`] (default [`MqttOptions::DEFAULT_WINDOW`]), at most 8:
    /// minimq keeps no more QoS 1 messages in flight.
    fn window(&self) -> usize {
        self.window
    }

    /// Writes a QoS 1 message without waiting for its PUBACK and returns its id (the
    /// runner's: minimq matches the PUBACK by packet id but does not show it). With the window
    /// full, or the broker's Receive Maximum reached, or minimq's transmit buffer (`TX` of
    /// [`Mqtt5Buffers`]) full of messages in flight, first waits (at most the ack timeout)
    /// for an acknowledgement. A QoS 0 message is published at once and returns 0. A lost
    /// connection (or any error) forgets what was in flight: send it again after `connect`;
    /// minimq resends nothing itself (every connection is a clean session).
    async fn submit(&mut self, message: &Message<'_>) -> Result<u16, MqttError> {
        self.caller.submit(message).await
    }

    /// Returns the id of a submitted message whose PUBACK arrived (the oldest such, if
    /// several did); waits at most the ack timeout ([`MqttError::Timeout`], connection
    /// closed). [`MqttError::Protocol`] if none is in flight. A PUBACK with an error reason
    /// code is [`MqttError::PublishRejected`], never an id.
    async fn next_ack(&mut self) -> Result<u16, MqttError> {
        self.caller.next_ack().await
    }
}

impl core::fmt::Debug for Mqtt5<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt5")
            .field("broker", &self.broker())
            .field("connected", &self.caller.link.connected.get())
            .finish_non_exhaustive()
    }
}
