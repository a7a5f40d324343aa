//! [`Mqtt311`]: an MQTT 3.1.1 client session for brokers and services that speak only 3.1.1
//! (ThingSpeak's MQTT API, Azure IoT Hub, older brokers).
//!
//! Packets are encoded and decoded by the `mqttrs` codec; this file only keeps the session:
//! the TCP connection, packet ids, the PUBACK wait, keep-alive pings, and framing of the
//! bytes that arrive (mqttrs decodes one packet from a slice but does not say how long it
//! was, and indexes without bounds checks on some malformed packets, so frames are cut and
//! checked here first).

use super::connect::{Broker, open};
use super::error::{MqttError, Refusal};
use super::inbox::{Inbox, InboxSlot, Subscription};
use super::options::MqttOptions;
use crate::message::{Message, QoS};
use crate::topic::validate_topic_name;
use crate::transport::Transport;
use embassy_futures::select::{Either, select};
use embassy_time::{Duration, Instant, with_deadline, with_timeout};
use embedded_io_async::{Error as _, Read, Write};
use embedded_nal_async::{Dns, TcpConnect};
use mqttrs::{Connack, ConnectReturnCode, Packet, Pid, Protocol, QosPid};

/// Fixed-header packet types (MQTT 3.1.1 §2.2.1, table 2.1) of the packets a publishing
/// client receives.
mod packet_type {
    pub const CONNACK: u8 = 2;
    /// The whole first byte of a CONNACK: type 2, flags 0 (§3.2.1).
    pub const CONNACK_HEADER: u8 = 0x20;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const SUBSCRIBE_HEADER: u8 = 0x82;
    pub const SUBACK: u8 = 9;
    pub const PINGRESP: u8 = 13;
}

/// The SUBACK return code of a refused subscription (MQTT 3.1.1 §3.9.3).
const SUBACK_FAILURE: u8 = 0x80;

/// Connect Acknowledge Flags bits 7–1 are reserved and must be 0; bit 0 is Session Present
/// (MQTT 3.1.1 §3.2.2.1).
const CONNACK_RESERVED_FLAGS: u8 = 0xfe;

/// The Remaining Length byte of a CONNACK and a PUBACK (§3.2.1, §3.4.1): both are 2 bytes
/// after the fixed header, written in one length byte.
const ACK_REMAINING_LENGTH: u8 = 2;

/// A remaining length takes at most 4 bytes (MQTT 3.1.1 §2.2.3).
const MAX_LENGTH_BYTES: usize = 4;

/// Smallest receive buffer that holds the packets a publisher gets (CONNACK and PUBACK are
/// 4 bytes, §3.2 and §3.4).
pub const MQTT311_MIN_RX_BUFFER: usize = 4;

/// An MQTT 3.1.1 connection over any `embedded-nal-async` stack: QoS 0 and 1, retain,
/// keep-alive, will and birth message, CleanSession 1.
///
/// Any failure on a live connection closes it: an I/O error, a timeout, or a protocol error
/// (bytes that do not frame as MQTT, an unexpected packet, a CONNACK with reserved bits set).
/// The next [`connect`](Transport::connect) then opens a new connection.
///
/// **Several brokers.** With [`MqttOptions::with_fallbacks`], the connect after a failed
/// connect or a lost connection goes to the next broker of the list (the one given to `new`
/// first, then the fallbacks, round robin); [`broker`](Self::broker) and
/// [`broker_index`](Transport::broker_index) say which one is in use.
///
/// **What `Ok` from [`publish`](Transport::publish) means.** At QoS 1: the broker
/// acknowledged the message (PUBACK with its packet id). At QoS 0 there is no
/// acknowledgement in MQTT; before writing, the transport reads what the socket already holds,
/// without waiting, so a connection the broker has already closed (EOF) or reset is reported
/// as an error and nothing is written. `Ok` then means the PUBLISH was handed to the TCP
/// stack on a connection that was open a moment before. It cannot promise that the broker
/// received it: the connection may drop while the bytes are in flight, a close that has not
/// reached this device yet is not seen, and a broker may discard a message it receives (a
/// topic it does not allow, ThingSpeak's rate limit) without telling the client. For
/// delivery you can count on, publish at QoS 1 where the broker allows it.
///
/// `tx` must hold the CONNECT packet and the largest PUBLISH (topic + payload + 7 bytes);
/// `rx` the packets the broker sends a publisher (4 bytes suffice; [`MQTT311_MIN_RX_BUFFER`]);
/// with [subscriptions](MqttOptions::with_subscriptions), also the messages to receive (topic +
/// payload + 7 bytes; a longer one is skipped, see [`with_inbox`](Self::with_inbox)).
/// `new` does no I/O; [`connect`](Transport::connect) opens the connection.
///
/// ```no_run
/// use sensorpub::{Broker, Mqtt311, MqttOptions};
/// use sensorpub::{Message, QoS, Transport};
///
/// # async fn demo() -> Result<(), sensorpub::MqttError> {
/// let stack = std_embedded_nal_async::Stack::default();
/// let (mut tx, mut rx) = ([0u8; 512], [0u8; 64]);
/// let mut mqtt = Mqtt311::new(
///     &stack,
///     Broker::new("127.0.0.1", 1883),
///     MqttOptions::new("apricot"),
///     &mut tx,
///     &mut rx,
/// );
/// mqtt.connect().await?;
/// // Returns once the broker acknowledged the message (PUBACK).
/// mqtt.publish(&Message::new("apricot/value", b"742").with_qos(QoS::AtLeastOnce)).await?;
/// mqtt.disconnect().await;
/// # Ok(())
/// # }
/// ```
pub struct Mqtt311<'a, N: TcpConnect + Dns + 'a> {
    net: &'a N,
    /// The broker it was built with; the options may name fallbacks.
    broker: Broker<'a>,
    /// Which broker of the list *broker, fallbacks…* the connection (or last attempt) is to.
    current: usize,
    /// A connect failed or a connection was lost: the next `connect` moves to the next broker.
    advance: bool,
    options: MqttOptions<'a>,
    connection: Option<N::Connection<'a>>,
    tx: &'a mut [u8],
    rx: &'a mut [u8],
    /// Bytes in `rx` received but not yet processed.
    rx_len: usize,
    last_pid: u16,
    last_sent: Instant,
    /// Where received messages go, if the caller gave an inbox.
    inbox: Option<&'a InboxSlot>,
    /// Bytes of an inbound PUBLISH too large for `rx` still to be read and dropped.
    discard: usize,
    /// Packet ids of QoS 1 messages [`submit`](Transport::submit)ted and not acknowledged.
    in_flight: heapless::Vec<u16, { MqttOptions::MAX_WINDOW }>,
    /// Packet ids acknowledged and not yet reported by [`next_ack`](Transport::next_ack).
    acked: heapless::Deque<u16, { MqttOptions::MAX_WINDOW }>,
}

impl<'a, N: TcpConnect + Dns + 'a> Mqtt311<'a, N> {
    /// A transport that will connect to `broker` through `net` with `options`, encoding into
    /// `tx` and receiving into `rx`. Does no I/O.
    pub fn new(
        net: &'a N,
        broker: Broker<'a>,
        options: MqttOptions<'a>,
        tx: &'a mut [u8],
        rx: &'a mut [u8],
    ) -> Self {
        Self {
            net,
            broker,
            current: 0,
            advance: false,
            options,
            connection: None,
            tx,
            rx,
            rx_len: 0,
            last_pid: 0,
            last_sent: Instant::MIN,
            inbox: None,
            discard: 0,
            in_flight: heapless::Vec::new(),
            acked: heapless::Deque::new(),
        }
    }

    /// Puts the messages received on the [subscriptions](MqttOptions::with_subscriptions)
    /// into `inbox`, where the caller takes them. Messages arrive while the transport reads:
    /// in [`publish`](Transport::publish) and [`poll`](Transport::poll), so call `poll`
    /// as often as commands should take effect. A QoS 1 message is acknowledged (PUBACK)
    /// when it is read. A message longer than `rx` (or than the inbox) is skipped, counted in
    /// [`Inbox::stats`] and still acknowledged; the connection stays up. Without an inbox,
    /// received messages are acknowledged and dropped.
    pub fn with_inbox<const CAPACITY: usize>(mut self, inbox: &'a Inbox<CAPACITY>) -> Self {
        self.inbox = Some(inbox.slot());
        self
    }

    /// [`with_inbox`](Self::with_inbox) for a transport built per connection (MQTT 3.1.1
    /// over TLS).
    #[cfg(feature = "tls")]
    pub(crate) fn with_inbox_slot(mut self, inbox: Option<&'a InboxSlot>) -> Self {
        self.inbox = inbox;
        self
    }

    /// The broker of the current connection, or while disconnected of the last attempt:
    /// the one it was built with, or one of the options'
    /// [fallbacks](MqttOptions::with_fallbacks) after a failure.
    pub fn broker(&self) -> Broker<'a> {
        self.options.broker_at(self.broker, self.current)
    }

    /// The connection options.
    pub fn options(&self) -> &MqttOptions<'a> {
        &self.options
    }

    /// Sends DISCONNECT (so the broker drops the will) and closes the connection. Errors
    /// are ignored: the connection is closed either way.
    pub async fn disconnect(&mut self) {
        if self.connection.is_some() {
            let _ = self.send(&Packet::Disconnect).await;
        }
        self.close();
        // Closed on purpose: the next connect goes to the same broker.
        self.advance = false;
    }

    /// Ends the connection after a failure (or a failed connect): the next `connect` tries
    /// the next broker of the list.
    fn close(&mut self) {
        self.connection = None;
        self.rx_len = 0;
        self.discard = 0;
        self.advance = true;
        self.in_flight.clear();
        self.acked.clear();
    }

    /// Closes the connection and returns `error`: every failure on a live connection ends it.
    fn fail<T>(&mut self, error: MqttError) -> Result<T, MqttError> {
        self.close();
        Err(error)
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.options.timeout_ms()))
    }

    fn next_pid(&mut self) -> Pid {
        // Packet ids are 1..=65535 (MQTT 3.1.1 §2.3.1); 0 is skipped on wrap.
        self.last_pid = self.last_pid.checked_add(1).unwrap_or(1);
        Pid::try_from(self.last_pid).unwrap_or_default()
    }

    async fn handshake(&mut self) -> Result<(), MqttError> {
        let connection = open(self.net, &self.broker()).await?;
        self.connection = Some(connection);
        self.rx_len = 0;
        self.discard = 0;
        let will = self.options.will().map(|will| mqttrs::LastWill {
            topic: will.topic,
            message: will.payload,
            qos: codec_qos(will.qos),
            retain: will.retain,
        });
        let credentials = self.options.credentials();
        let connect = mqttrs::Connect {
            protocol: Protocol::MQTT311,
            keep_alive: self.options.keep_alive_s(),
            client_id: self.options.client_id(),
            clean_session: true,
            last_will: will,
            username: credentials.map(|c| c.username()),
            password: credentials.map(|c| c.password()),
        };
        self.send(&Packet::Connect(connect)).await?;
        let len = self.read_frame().await?;
        // Remaining Length exactly `02`: mqttrs indexes past a 4-byte frame written with a
        // longer length encoding (`20 81 00 xx`, found by fuzzing) and panics.
        if self.rx[0] != packet_type::CONNACK_HEADER
            || len != 4
            || self.rx[1] != ACK_REMAINING_LENGTH
            || self.rx[2] & CONNACK_RESERVED_FLAGS != 0
        {
            return Err(MqttError::Protocol);
        }
        let ack = match mqttrs::decode_slice(&self.rx[..len]) {
            Ok(Some(Packet::Connack(ack))) => ack,
            _ => return Err(MqttError::Protocol),
        };
        self.consume(len);
        refusal(ack).map_or(Ok(()), |r| Err(MqttError::Refused(r)))
    }

    /// Encodes `packet` into `tx` and writes it.
    async fn send(&mut self, packet: &Packet<'_>) -> Result<(), MqttError> {
        let len = mqttrs::encode_slice(packet, self.tx).map_err(|_| MqttError::TooLarge)?;
        self.send_encoded(len).await
    }

    /// Subscribes to `subscription` and waits (at most the timeout) for its SUBACK.
    async fn subscribe(&mut self, subscription: Subscription<'_>) -> Result<(), MqttError> {
        let pid = self.next_pid().get();
        let len = encode_subscribe(self.tx, pid, subscription.filter, subscription.qos)
            .ok_or(MqttError::TooLarge)?;
        self.send_encoded(len).await?;
        let deadline = Instant::now() + self.timeout();
        self.wait_for(Inbound::SubAck(pid, 0), deadline).await
    }

    /// Writes the first `len` bytes of `tx`.
    async fn send_encoded(&mut self, len: usize) -> Result<(), MqttError> {
        let connection = self.connection.as_mut().ok_or(MqttError::NotConnected)?;
        let bytes = self.tx.get(..len).ok_or(MqttError::TooLarge)?;
        let written = match connection.write_all(bytes).await {
            Ok(()) => connection.flush().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            return self.fail(MqttError::Io(e.kind()));
        }
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Reads until `rx` starts with a whole packet; returns its length.
    async fn read_frame(&mut self) -> Result<usize, MqttError> {
        loop {
            match frame_len(&self.rx[..self.rx_len]) {
                Ok(Some(len)) => return Ok(len),
                Ok(None) => {}
                Err(e) => return self.fail(e),
            }
            if self.rx_len == self.rx.len() {
                // A packet larger than rx: an inbound PUBLISH is skipped, anything else is
                // not one a client expects.
                self.skip_oversized().await?;
                continue;
            }
            let connection = self.connection.as_mut().ok_or(MqttError::NotConnected)?;
            match connection.read(&mut self.rx[self.rx_len..]).await {
                Ok(0) => return self.fail(MqttError::Closed),
                Ok(n) => self.received(n),
                Err(e) => return self.fail(MqttError::Io(e.kind())),
            }
        }
    }

    /// Reads what has already arrived, without waiting; `Ok(true)` if something did.
    async fn read_available(&mut self) -> Result<bool, MqttError> {
        if self.rx_len == self.rx.len() {
            return Ok(false);
        }
        let connection = self.connection.as_mut().ok_or(MqttError::NotConnected)?;
        let read = connection.read(&mut self.rx[self.rx_len..]);
        match select(read, core::future::ready(())).await {
            Either::First(Ok(0)) => self.fail(MqttError::Closed),
            Either::First(Ok(n)) => {
                self.received(n);
                Ok(true)
            }
            Either::First(Err(e)) => self.fail(MqttError::Io(e.kind())),
            Either::Second(()) => Ok(false),
        }
    }

    /// Handles every packet that has already arrived, without waiting for more: a closed
    /// or reset connection shows here as [`MqttError::Closed`] or [`MqttError::Io`].
    async fn handle_available(&mut self) -> Result<(), MqttError> {
        loop {
            // Bytes may be waiting from an earlier read (they came with the CONNACK or a
            // PUBACK): handle those first.
            loop {
                match frame_len(&self.rx[..self.rx_len]) {
                    Ok(Some(len)) => {
                        self.take_packet(len).await?;
                    }
                    Ok(None) => break,
                    Err(e) => return self.fail(e),
                }
            }
            if self.rx_len == self.rx.len() {
                self.skip_oversized().await?;
                continue;
            }
            if !self.read_available().await? {
                return Ok(());
            }
        }
    }

    /// Closes the connection if `result` is an error that ends it (every error but those
    /// for which nothing was sent), so that the next `connect` opens a new one.
    fn settle<T>(&mut self, result: Result<T, MqttError>) -> Result<T, MqttError> {
        if let Err(e) = &result {
            match e {
                MqttError::QosNotAllowed
                | MqttError::TooLarge
                | MqttError::InvalidTopic(_)
                | MqttError::NotConnected => {}
                _ => self.close(),
            }
        }
        result
    }

    fn consume(&mut self, len: usize) {
        self.rx.copy_within(len..self.rx_len, 0);
        self.rx_len -= len;
    }

    /// `n` more bytes arrived in `rx`; those of a skipped PUBLISH are dropped.
    fn received(&mut self, n: usize) {
        self.rx_len += n;
        if self.discard > 0 {
            let dropped = self.discard.min(self.rx_len);
            self.consume(dropped);
            self.discard -= dropped;
        }
    }

    /// `rx` is full with the start of a packet longer than it. An inbound PUBLISH whose
    /// header (topic and packet id) is in `rx` is skipped: counted in the inbox, its QoS 1
    /// acknowledged, its remaining bytes dropped as they arrive. Anything else is a protocol
    /// error.
    async fn skip_oversized(&mut self) -> Result<(), MqttError> {
        let header = frame_header(&self.rx[..self.rx_len]);
        let Some((total, header_len)) = header else {
            return self.fail(MqttError::Protocol);
        };
        let publish = match parse_publish(self.rx[0], &self.rx[header_len..self.rx_len], true) {
            Ok(publish) if self.rx[0] >> 4 == packet_type::PUBLISH => publish,
            _ => return self.fail(MqttError::Protocol),
        };
        let topic_len = publish.topic.len();
        let payload_len = total.saturating_sub(header_len + publish.payload_offset);
        let pid = publish.pid;
        if let Some(inbox) = self.inbox {
            inbox.skipped(topic_len, payload_len);
        }
        self.discard = total - self.rx_len;
        self.rx_len = 0;
        match pid {
            Some(pid) => self.send(&Packet::Puback(pid)).await,
            None => Ok(()),
        }
    }

    /// Takes the packet of length `len` at the start of `rx`; returns what it was. An
    /// inbound PUBLISH goes to the inbox, and is acknowledged at QoS 1.
    async fn take_packet(&mut self, len: usize) -> Result<Inbound, MqttError> {
        let kind = self.rx[0] >> 4;
        let inbound = match kind {
            packet_type::PUBLISH => {
                let Some((_, header_len)) = frame_header(&self.rx[..len]) else {
                    return self.fail(MqttError::Protocol);
                };
                let publish = match parse_publish(self.rx[0], &self.rx[header_len..len], false) {
                    Ok(publish) => publish,
                    Err(e) => return self.fail(e),
                };
                if let Some(inbox) = self.inbox {
                    let payload = &self.rx[header_len + publish.payload_offset..len];
                    inbox.put(publish.topic, payload, publish.qos, publish.retain);
                }
                let pid = publish.pid;
                self.consume(len);
                if let Some(pid) = pid {
                    self.send(&Packet::Puback(pid)).await?;
                }
                return Ok(Inbound::Other);
            }
            packet_type::SUBACK => {
                // Packet id, then one return code: we subscribe one filter at a time.
                let bytes = &self.rx[..len];
                if len != 5 || bytes[0] != packet_type::SUBACK << 4 || bytes[1] != 3 {
                    return self.fail(MqttError::Protocol);
                }
                let pid = u16::from_be_bytes([bytes[2], bytes[3]]);
                let code = bytes[4];
                if !matches!(code, 0..=2 | SUBACK_FAILURE) {
                    return self.fail(MqttError::Protocol);
                }
                Inbound::SubAck(pid, code)
            }
            packet_type::PUBACK if len == 4 && self.rx[1] == ACK_REMAINING_LENGTH => {
                match mqttrs::decode_slice(&self.rx[..len]) {
                    Ok(Some(Packet::Puback(pid))) => {
                        self.note_ack(pid.get());
                        Inbound::PubAck(pid)
                    }
                    _ => return self.fail(MqttError::Protocol),
                }
            }
            packet_type::PINGRESP if len == 2 => Inbound::PingResp,
            packet_type::CONNACK | packet_type::PUBACK | packet_type::PINGRESP => {
                return self.fail(MqttError::Protocol);
            }
            // Nothing else is expected (PUBREC and friends belong to QoS 2, which a client
            // subscribed at QoS 1 at most never gets); skip it.
            _ => Inbound::Other,
        };
        self.consume(len);
        Ok(inbound)
    }

    /// Waits until `wanted` arrives, handling other packets, until `deadline`.
    async fn wait_for(&mut self, wanted: Inbound, deadline: Instant) -> Result<(), MqttError> {
        loop {
            let len = match with_deadline(deadline, self.read_frame()).await {
                Ok(len) => len?,
                Err(_) => return self.fail(MqttError::Timeout),
            };
            let inbound = self.take_packet(len).await?;
            if inbound == wanted {
                return Ok(());
            }
            if let (Inbound::SubAck(pid, code), Inbound::SubAck(wanted_pid, _)) = (inbound, wanted)
                && pid == wanted_pid
            {
                return match code {
                    SUBACK_FAILURE => self.fail(MqttError::SubscribeRejected(code)),
                    _ => Ok(()),
                };
            }
        }
    }

    async fn publish_connected(&mut self, message: &Message<'_>) -> Result<(), MqttError> {
        if message.qos > self.options.max_qos() {
            return Err(MqttError::QosNotAllowed);
        }
        validate_topic_name(message.topic)?;
        // A broker that closed the connection (or reset it) since we last looked: find out
        // now, so the message is reported undelivered instead of written into a dead socket.
        self.handle_available().await?;
        let pid = match message.qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => Some(self.next_pid()),
        };
        let publish = mqttrs::Publish {
            dup: false,
            qospid: pid.map_or(QosPid::AtMostOnce, QosPid::AtLeastOnce),
            retain: message.retain,
            topic_name: message.topic,
            payload: message.payload,
        };
        self.send(&Packet::Publish(publish)).await?;
        match pid {
            Some(pid) => {
                let ack_timeout = u64::from(self.options.ack_timeout_ms());
                let deadline = Instant::now() + Duration::from_millis(ack_timeout);
                self.wait_for(Inbound::PubAck(pid), deadline).await
            }
            None => Ok(()),
        }
    }

    /// Moves `pid` from the in-flight ids to the acknowledged ones, if it was in flight (a
    /// PUBACK for an id not in flight, e.g. a duplicate, is ignored). If the caller never
    /// collects acknowledgements, the oldest uncollected id is forgotten.
    fn note_ack(&mut self, pid: u16) {
        if let Some(at) = self.in_flight.iter().position(|&p| p == pid) {
            self.in_flight.remove(at);
            if self.acked.is_full() {
                self.acked.pop_front();
            }
            // Room was made just above.
            let _ = self.acked.push_back(pid);
        }
    }

    /// Reads packets until a submitted message's PUBACK has been noted, within the ack
    /// timeout.
    async fn await_ack(&mut self) -> Result<(), MqttError> {
        let ack_timeout = u64::from(self.options.ack_timeout_ms());
        let deadline = Instant::now() + Duration::from_millis(ack_timeout);
        while self.acked.is_empty() {
            let len = match with_deadline(deadline, self.read_frame()).await {
                Ok(len) => len?,
                Err(_) => return self.fail(MqttError::Timeout),
            };
            self.take_packet(len).await?;
        }
        Ok(())
    }

    /// [`submit`](Transport::submit) on a live connection.
    async fn submit_connected(&mut self, message: &Message<'_>) -> Result<u16, MqttError> {
        if message.qos == QoS::AtMostOnce {
            self.publish_connected(message).await?;
            return Ok(0);
        }
        if message.qos > self.options.max_qos() {
            return Err(MqttError::QosNotAllowed);
        }
        validate_topic_name(message.topic)?;
        // With messages in flight their PUBACKs are read anyway (below when the window is
        // full, and by `next_ack`), and a closed connection shows there. Looking at the
        // socket before every message cost a host a read and a readiness registration per
        // message (BENCHMARKS.md, "Loopback throughput"), so only the first one does.
        if self.in_flight.is_empty() {
            self.handle_available().await?;
        }
        // A full window: wait for an acknowledgement to free a place.
        while self.in_flight.len() >= self.window() {
            let ack_timeout = u64::from(self.options.ack_timeout_ms());
            let deadline = Instant::now() + Duration::from_millis(ack_timeout);
            let len = match with_deadline(deadline, self.read_frame()).await {
                Ok(len) => len?,
                Err(_) => return self.fail(MqttError::Timeout),
            };
            self.take_packet(len).await?;
        }
        let pid = self.next_pid();
        let publish = mqttrs::Publish {
            dup: false,
            qospid: QosPid::AtLeastOnce(pid),
            retain: message.retain,
            topic_name: message.topic,
            payload: message.payload,
        };
        self.send(&Packet::Publish(publish)).await?;
        if self.in_flight.push(pid.get()).is_err() {
            // Cannot happen (the window is at most the capacity and was made room in above);
            // treat it as the protocol going wrong rather than lose track of the message.
            return self.fail(MqttError::Protocol);
        }
        Ok(pid.get())
    }

    /// [`next_ack`](Transport::next_ack) on a live connection.
    async fn next_ack_connected(&mut self) -> Result<u16, MqttError> {
        self.await_ack().await?;
        self.acked.pop_front().ok_or(MqttError::Protocol)
    }

    /// [`poll`](Transport::poll) on a live connection.
    async fn poll_connected(&mut self) -> Result<(), MqttError> {
        self.handle_available().await?;
        let keep_alive = Duration::from_secs(u64::from(self.options.keep_alive_s()));
        if keep_alive.as_ticks() > 0 && Instant::now() >= self.last_sent + keep_alive / 2 {
            self.send(&Packet::Pingreq).await?;
            let deadline = Instant::now() + self.timeout();
            self.wait_for(Inbound::PingResp, deadline).await?;
        }
        Ok(())
    }
}

/// What the broker sent, as far as a publisher cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inbound {
    PubAck(Pid),
    /// Packet id and return code.
    SubAck(u16, u8),
    PingResp,
    Other,
}

/// An inbound PUBLISH's variable header, read by our own code (MQTT 3.1.1 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PublishHeader<'p> {
    /// The topic name.
    topic: &'p str,
    /// The packet id, at QoS 1.
    pid: Option<Pid>,
    /// QoS 0 or 1.
    qos: QoS,
    /// The retain flag.
    retain: bool,
    /// Where the payload starts, after the fixed header.
    payload_offset: usize,
}

/// The total length and the fixed header's length of the packet at the start of `bytes`,
/// once its length bytes are there.
fn frame_header(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut remaining = 0usize;
    for i in 0..MAX_LENGTH_BYTES {
        let &byte = bytes.get(1 + i)?;
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((2 + i + remaining, 2 + i));
        }
    }
    None
}

/// Parses an inbound PUBLISH: `first` is its first byte, `body` what follows the fixed
/// header (all of it, or with `partial` only its start). A topic that is not UTF-8, empty,
/// holds a wildcard or NUL, a QoS of 2 or 3 (we subscribe at QoS 1 at most), a packet id
/// 0, or a body shorter than its header is [`MqttError::Protocol`]. Fuzzed through the
/// `mqtt311_session` target.
fn parse_publish(first: u8, body: &[u8], partial: bool) -> Result<PublishHeader<'_>, MqttError> {
    let qos = match (first >> 1) & 0b11 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => return Err(MqttError::Protocol),
    };
    let retain = first & 1 == 1;
    let len_bytes = body.get(..2).ok_or(MqttError::Protocol)?;
    let topic_len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
    let topic = body.get(2..2 + topic_len).ok_or(MqttError::Protocol)?;
    let topic = core::str::from_utf8(topic).map_err(|_| MqttError::Protocol)?;
    validate_topic_name(topic).map_err(|_| MqttError::Protocol)?;
    let mut payload_offset = 2 + topic_len;
    let pid = match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce => {
            let id = body
                .get(payload_offset..payload_offset + 2)
                .ok_or(MqttError::Protocol)?;
            payload_offset += 2;
            let id = u16::from_be_bytes([id[0], id[1]]);
            Some(Pid::try_from(id).map_err(|_| MqttError::Protocol)?)
        }
    };
    if !partial && payload_offset > body.len() {
        return Err(MqttError::Protocol);
    }
    Ok(PublishHeader {
        topic,
        pid,
        qos,
        retain,
        payload_offset,
    })
}

/// Encodes a SUBSCRIBE for one filter (MQTT 3.1.1 §3.8) into `tx`; returns its length, or
/// `None` if `tx` is too small.
fn encode_subscribe(tx: &mut [u8], pid: u16, filter: &str, qos: QoS) -> Option<usize> {
    // Packet id, filter length, filter, requested QoS.
    let remaining = 2 + 2 + filter.len() + 1;
    let mut header = [packet_type::SUBSCRIBE_HEADER, 0, 0, 0, 0];
    let mut value = remaining;
    let mut header_len = 1;
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        *header.get_mut(header_len)? = byte;
        header_len += 1;
        if value == 0 {
            break;
        }
    }
    let total = header_len + remaining;
    let out = tx.get_mut(..total)?;
    let (head, rest) = out.split_at_mut(header_len);
    head.copy_from_slice(&header[..header_len]);
    let filter_len = u16::try_from(filter.len()).ok()?;
    rest[..2].copy_from_slice(&pid.to_be_bytes());
    rest[2..4].copy_from_slice(&filter_len.to_be_bytes());
    rest[4..4 + filter.len()].copy_from_slice(filter.as_bytes());
    rest[4 + filter.len()] = match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
    };
    Some(total)
}

/// The total length of the packet at the start of `bytes`, once all of it is there.
///
/// `pub` only for the fuzz targets (re-exported by `sensorpub::fuzzing` under `cfg(fuzzing)`);
/// the module is private, so it is not part of the API.
pub fn frame_len(bytes: &[u8]) -> Result<Option<usize>, MqttError> {
    let mut remaining = 0usize;
    for i in 0..MAX_LENGTH_BYTES {
        let Some(&byte) = bytes.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let total = 2 + i + remaining;
            return Ok((bytes.len() >= total).then_some(total));
        }
    }
    Err(MqttError::Protocol)
}

fn codec_qos(qos: QoS) -> mqttrs::QoS {
    match qos {
        QoS::AtMostOnce => mqttrs::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttrs::QoS::AtLeastOnce,
    }
}

/// The refusal in a CONNACK, or `None` if it accepted.
fn refusal(ack: Connack) -> Option<Refusal> {
    match ack.code {
        ConnectReturnCode::Accepted => None,
        ConnectReturnCode::RefusedProtocolVersion => Some(Refusal::ProtocolVersion),
        ConnectReturnCode::RefusedIdentifierRejected => Some(Refusal::IdentifierRejected),
        ConnectReturnCode::ServerUnavailable => Some(Refusal::ServerUnavailable),
        ConnectReturnCode::BadUsernamePassword => Some(Refusal::BadUsernameOrPassword),
        ConnectReturnCode::NotAuthorized => Some(Refusal::NotAuthorized),
    }
}

/// The longest topic plus payload a PUBLISH encoded into `tx` bytes can carry: QoS 0, the
/// smallest header (fixed header byte, a Remaining Length of 1 to 4 bytes, the topic's
/// 2-byte length; mqttrs needs no room besides the packet).
pub(crate) const fn max_message_len(tx: usize) -> usize {
    /// The largest Remaining Length 1, 2, 3 and 4 bytes can hold (MQTT 3.1.1 §2.2.3).
    const MOST: [u64; 4] = [127, 16_383, 2_097_151, 268_435_455];
    let mut best = 0;
    let mut i = 0;
    while i < MOST.len() {
        // The fixed header byte, then a Remaining Length of i + 1 bytes.
        let remaining = (tx as u64).saturating_sub(2 + i as u64);
        let remaining = if remaining < MOST[i] {
            remaining
        } else {
            MOST[i]
        };
        if remaining > best {
            best = remaining;
        }
        i += 1;
    }
    // At most `tx`: fits a usize.
    best.saturating_sub(2) as usize
}

impl<'a, N: TcpConnect + Dns + 'a> Transport for Mqtt311<'a, N> {
    type Error = MqttError;

    /// Publishes; at QoS 1 returns once the PUBACK with the message's packet id arrived, or
    /// [`MqttError::Timeout`] (connection closed) after the acknowledgement timeout
    /// ([`MqttOptions::with_ack_timeout_ms`]).
    ///
    /// Before writing, handles what the broker already sent without waiting for more, so a
    /// connection it closed is reported ([`MqttError::Closed`]) rather than written into; see
    /// the type's docs for what a QoS 0 `Ok` still cannot promise.
    /// [`MqttError::InvalidTopic`] (nothing sent) for a topic that is empty, holds `#`, `+`
    /// or NUL, or is longer than 65,535 bytes.
    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MqttError> {
        if self.connection.is_none() {
            return Err(MqttError::NotConnected);
        }
        let result = self.publish_connected(message).await;
        self.settle(result)
    }

    /// Opens the TCP connection and does the CONNECT/CONNACK handshake within the timeout,
    /// then publishes the birth message and makes the
    /// [subscriptions](MqttOptions::with_subscriptions), each acknowledged (SUBACK) within the
    /// timeout. Does nothing when already connected. After a failed connect or a lost
    /// connection it goes to the next broker of the list ([`MqttOptions::with_fallbacks`]).
    /// [`MqttError::InvalidTopic`], before any I/O, if the will's or the birth message's
    /// topic is not a valid topic name. A birth message that cannot be published closes the
    /// new connection again: `connect` succeeds whole or not at all.
    async fn connect(&mut self) -> Result<(), MqttError> {
        if self.connection.is_some() {
            return Ok(());
        }
        self.options.check_topics()?;
        if self.advance {
            self.advance = false;
            self.current = self.options.next_broker(self.current);
        }
        let result = match with_timeout(self.timeout(), self.handshake()).await {
            Ok(result) => result,
            Err(_) => Err(MqttError::Connect(super::ConnectError::Timeout)),
        };
        if let Err(e) = result {
            return self.fail(e);
        }
        if let Some(birth) = self.options.birth()
            && let Err(e) = self.publish_connected(&birth).await
        {
            return self.fail(e);
        }
        for &subscription in self.options.subscriptions() {
            if let Err(e) = self.subscribe(subscription).await {
                return self.fail(e);
            }
        }
        Ok(())
    }

    fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    fn broker_index(&self) -> usize {
        self.current
    }

    /// [`MqttOptions::with_window`] (default [`MqttOptions::DEFAULT_WINDOW`]).
    fn window(&self) -> usize {
        self.options.window()
    }

    /// What a QoS 0 PUBLISH encoded into the `tx` buffer can carry: `tx.len()` less 4 bytes
    /// of header below 130 bytes, 5 up to 16 KiB (QoS 1: 2 bytes fewer).
    fn max_message_len(&self) -> Option<usize> {
        Some(max_message_len(self.tx.len()))
    }

    /// [`MqttError::is_permanent`].
    fn is_permanent(&self, error: &MqttError) -> bool {
        error.is_permanent()
    }

    /// Writes a QoS 1 message with a fresh packet id and returns the id without waiting for
    /// the PUBACK; with the window full, first waits (at most the ack timeout) for one. A
    /// QoS 0 message is written at once and returns 0 (no acknowledgement to wait for).
    /// Messages [`publish`](Transport::publish)ed while submitted ones are in flight do not
    /// take their acknowledgements.
    async fn submit(&mut self, message: &Message<'_>) -> Result<u16, MqttError> {
        if self.connection.is_none() {
            return Err(MqttError::NotConnected);
        }
        let result = self.submit_connected(message).await;
        self.settle(result)
    }

    /// Returns the packet id of the next acknowledged submitted message, in the order the
    /// PUBACKs came; waits at most the ack timeout ([`MqttError::Timeout`], connection
    /// closed). A lost connection forgets what was in flight: send it again after `connect`.
    async fn next_ack(&mut self) -> Result<u16, MqttError> {
        if self.connection.is_none() {
            return Err(MqttError::NotConnected);
        }
        let result = self.next_ack_connected().await;
        self.settle(result)
    }

    /// Handles what the broker sent meanwhile, without waiting for more; sends PINGREQ when
    /// half the keep-alive passed without a packet, and then waits (at most the timeout) for
    /// the PINGRESP, so a dead link shows here as [`MqttError::Timeout`].
    async fn poll(&mut self) -> Result<(), MqttError> {
        if self.connection.is_none() {
            return Err(MqttError::NotConnected);
        }
        let result = self.poll_connected().await;
        self.settle(result)
    }
}

impl<'a, N: TcpConnect + Dns + 'a> core::fmt::Debug for Mqtt311<'a, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt311")
            .field("broker", &self.broker())
            .field("options", &self.options)
            .field("connected", &self.connection.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_with_a_two_byte_remaining_length() {
        let filter = core::str::from_utf8(&[b'f'; 200]).unwrap();
        let mut tx = [0u8; 256];
        // Packet id 2, filter length 200, the filter, QoS 0: 205 bytes = CD 01.
        let len = encode_subscribe(&mut tx, 2, filter, QoS::AtMostOnce).unwrap();
        assert_eq!(len, 3 + 205);
        assert_eq!(tx[..7], [0x82, 0xcd, 0x01, 0x00, 0x02, 0x00, 0xc8]);
        assert_eq!(tx[len - 1], 0);
        assert_eq!(
            encode_subscribe(&mut tx[..207], 2, filter, QoS::AtMostOnce),
            None
        );
    }

    #[test]
    fn max_message_len_is_what_mqttrs_encodes_into_tx() {
        let payload = [b'p'; 20_000];
        for tx_len in [
            0, 1, 4, 5, 6, 64, 129, 130, 131, 132, 256, 16_386, 16_387, 16_388,
        ] {
            let mut tx = std::vec![0u8; tx_len];
            let most = max_message_len(tx_len);
            let encode = |tx: &mut [u8], len: usize| {
                let publish = mqttrs::Publish {
                    dup: false,
                    qospid: QosPid::AtMostOnce,
                    retain: false,
                    topic_name: "t",
                    payload: &payload[..len - 1],
                };
                mqttrs::encode_slice(&Packet::Publish(publish), tx).is_ok()
            };
            if most > 0 {
                assert!(encode(&mut tx, most), "{most} bytes fit {tx_len}");
            }
            assert!(
                !encode(&mut tx, most + 1),
                "{} bytes exceed {tx_len}",
                most + 1
            );
        }
    }

    #[test]
    fn publish_header_of_a_partial_packet() {
        // QoS 1, topic "ab", packet id 5; payload not there yet.
        let body = [0x00, 0x02, b'a', b'b', 0x00, 0x05];
        let header = parse_publish(0x32, &body, true).unwrap();
        assert_eq!(header.topic, "ab");
        assert_eq!(header.pid.map(Pid::get), Some(5));
        assert_eq!(header.payload_offset, 6);
        assert_eq!(
            parse_publish(0x32, &body[..5], true),
            Err(MqttError::Protocol)
        );
    }
}
