//! [`Mqtt311Tls`]: MQTT 3.1.1 over TLS 1.3 (feature `tls`), as a handle and a runner.
//!
//! embedded-tls's connection borrows its record buffers for its whole life and cannot give
//! them back, and [`Mqtt311`] keeps its connection in the struct between calls, so a TLS
//! connection cannot live in an `Mqtt311` that outlives it. Here the runner's `run` frame
//! holds each connection: for every (re)connection it opens TCP, then TLS with a fresh borrow
//! of the record buffers, and hands that one verified stream to an [`Mqtt311`] built for
//! that connection alone (through [`OneStream`], a network that has exactly that stream to
//! give). The 3.1.1 session itself (CONNECT/CONNACK, PUBLISH/PUBACK, keep-alive, framing) is
//! `Mqtt311`'s, unchanged. The handle posts each [`Transport`] call to the runner through a
//! pair of embassy-sync `Signal`s and waits for the answer, as [`Mqtt5`](crate::Mqtt5)'s
//! does.

use super::connect::{Broker, ConnectError, open};
use super::error::MqttError;
use super::inbox::{Inbox, InboxSlot};
use super::link::{Caller, Link, MessageBuffer, Request, copied};
use super::mqtt311::Mqtt311;
use super::options::MqttOptions;
use super::tls::{Flags, Tls, TlsBuffers, TlsError, TlsOptions};
use crate::message::{Message, QoS};
use crate::transport::Transport;
use core::cell::{Cell, RefCell};
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use embassy_time::{Duration, with_timeout};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};

/// Every buffer of one MQTT 3.1.1 connection over TLS besides the TLS record buffers,
/// caller-owned so its size is visible: `TX` and `RX` as for [`Mqtt311`] (the CONNECT and the
/// largest PUBLISH; 4 bytes suffice to receive), `MESSAGE` the longest topic plus payload,
/// copied from the handle to the runner.
pub struct Mqtt311TlsBuffers<const TX: usize, const RX: usize, const MESSAGE: usize> {
    tx: [u8; TX],
    rx: [u8; RX],
    message: RefCell<[u8; MESSAGE]>,
    link: Link,
}

impl<const TX: usize, const RX: usize, const MESSAGE: usize> Mqtt311TlsBuffers<TX, RX, MESSAGE> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            tx: [0; TX],
            rx: [0; RX],
            message: RefCell::new([0; MESSAGE]),
            link: Link::new(),
        }
    }
}

impl<const TX: usize, const RX: usize, const MESSAGE: usize> Default
    for Mqtt311TlsBuffers<TX, RX, MESSAGE>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const TX: usize, const RX: usize, const MESSAGE: usize> core::fmt::Debug
    for Mqtt311TlsBuffers<TX, RX, MESSAGE>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt311TlsBuffers")
            .field("tx", &TX)
            .field("rx", &RX)
            .field("message", &MESSAGE)
            .finish()
    }
}

/// An MQTT 3.1.1 connection over TLS 1.3 (feature `tls`): what [`Mqtt311`] does (QoS 0 and 1,
/// retain, keep-alive through [`poll`](Transport::poll), will and birth message), with every
/// connection verified as [`TlsOptions`] say before CONNECT is sent. ThingSpeak's
/// `mqtt3.thingspeak.com:8883` and other 3.1.1-only services over TLS use it.
///
/// [`Mqtt311Tls::new`] returns this handle and its [`Mqtt311TlsRunner`]. **Run the runner**
/// (spawn it, or `join`/`select` it with the code that publishes), or the handle's calls
/// never finish. A failed handshake is [`MqttError::Tls`], with nothing sent over MQTT.
///
/// ```no_run
/// use embassy_futures::select::{Either, select};
/// use sensorpub::{Broker, Mqtt311Tls, Mqtt311TlsBuffers, MqttOptions, TlsBuffers, TlsOptions};
/// use sensorpub::{Message, QoS, Transport};
///
/// # async fn demo(ca_der: &[u8]) -> Result<(), sensorpub::MqttError> {
/// let stack = std_embedded_nal_async::Stack::default();
/// let mut buffers = Mqtt311TlsBuffers::<512, 64, 256>::new();
/// let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
/// let mut rng = rand::rng(); // any rand_core 0.10 CryptoRng (firmware: the chip's RNG)
/// let (mut mqtt, mut runner) = Mqtt311Tls::new(
///     &stack,
///     Broker::new("broker.example.org", 8883),
///     MqttOptions::new("apricot"),
///     &mut buffers,
///     TlsOptions::verified(ca_der),
///     &mut tls_buffers,
///     &mut rng,
/// );
/// let publish = async {
///     mqtt.connect().await?;
///     mqtt.publish(&Message::new("apricot/value", b"742").with_qos(QoS::AtLeastOnce)).await?;
///     mqtt.disconnect().await;
///     Ok::<(), sensorpub::MqttError>(())
/// };
/// match select(runner.run(), publish).await {
///     Either::First(never) => never,
///     Either::Second(result) => result,
/// }
/// # }
/// ```
pub struct Mqtt311Tls<'b> {
    broker: Broker<'b>,
    fallbacks: &'b [Broker<'b>],
    caller: Caller<'b>,
    /// The longest topic plus payload the message buffer and `tx` hold.
    max_message_len: usize,
    /// [`MqttOptions::window`]: the runner's [`Mqtt311`] keeps that many QoS 1 messages in
    /// flight.
    window: usize,
}

impl<'b> Mqtt311Tls<'b> {
    /// The handle and the runner of one MQTT 3.1.1 connection over TLS to `broker` through
    /// `net`, in `buffers` and `tls_buffers`, with randomness from `rng`. Does no I/O.
    #[allow(clippy::too_many_arguments)] // each buffer and setting is the caller's, visibly
    pub fn new<
        N: TcpConnect + Dns,
        R: rand_core::CryptoRng,
        const TX: usize,
        const RX: usize,
        const MESSAGE: usize,
        const READ: usize,
        const WRITE: usize,
    >(
        net: &'b N,
        broker: Broker<'b>,
        options: MqttOptions<'b>,
        buffers: &'b mut Mqtt311TlsBuffers<TX, RX, MESSAGE>,
        tls: TlsOptions<'b>,
        tls_buffers: &'b mut TlsBuffers<READ, WRITE>,
        rng: &'b mut R,
    ) -> (Self, Mqtt311TlsRunner<'b, N>) {
        let Mqtt311TlsBuffers {
            tx,
            rx,
            message,
            link,
        } = buffers;
        // Left over from a handle and runner these buffers served before.
        *link = Link::new();
        let link: &'b Link = link;
        let message: &'b MessageBuffer = message;
        let runner = Mqtt311TlsRunner {
            net,
            broker,
            options,
            tls: Tls::new(tls, tls_buffers, rng),
            tx,
            rx,
            link,
            message,
            inbox: None,
        };
        let handle = Self {
            broker,
            fallbacks: options.fallbacks(),
            caller: Caller::new(link, message),
            max_message_len: MESSAGE.min(super::mqtt311::max_message_len(TX)),
            window: options.window(),
        };
        (handle, runner)
    }

    /// The broker in use, or last tried: the one it was built with or one of the options'
    /// [fallbacks](MqttOptions::with_fallbacks), after a failure (round robin, as
    /// [`Mqtt311`]).
    pub fn broker(&self) -> Broker<'b> {
        super::options::broker_at(self.broker, self.fallbacks, self.caller.link.broker.get())
    }

    /// Sends DISCONNECT (so the broker drops the will) and closes the connection. The next
    /// connect goes to the same broker.
    pub async fn disconnect(&mut self) {
        let _ = self.caller.call(Request::Disconnect).await;
    }
}

impl Transport for Mqtt311Tls<'_> {
    type Error = MqttError;

    /// As [`Mqtt311`]'s `publish`: at QoS 1 returns once the PUBACK arrived.
    /// [`MqttError::InvalidTopic`] (nothing sent) for a topic that is not a valid topic name.
    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MqttError> {
        self.caller.publish(message).await
    }

    /// Opens TCP, then TLS (verified), then does the CONNECT/CONNACK handshake, each within
    /// the timeout, and publishes the birth message. Does nothing when already connected.
    async fn connect(&mut self) -> Result<(), MqttError> {
        self.caller.call(Request::Connect).await
    }

    fn is_connected(&self) -> bool {
        self.caller.link.connected.get()
    }

    fn broker_index(&self) -> usize {
        self.caller.link.broker.get()
    }

    /// The message buffer's length (`MESSAGE`), or what a QoS 0 PUBLISH encoded into `TX`
    /// can carry, whichever is less (see [`Mqtt311`](crate::Mqtt311)'s).
    fn max_message_len(&self) -> Option<usize> {
        Some(self.max_message_len)
    }

    /// [`MqttError::is_permanent`].
    fn is_permanent(&self, error: &MqttError) -> bool {
        error.is_permanent()
    }

    /// As [`Mqtt311`]'s `poll`: handles what the broker sent, and pings when half the
    /// keep-alive passed.
    async fn poll(&mut self) -> Result<(), MqttError> {
        self.caller.call(Request::Poll).await
    }

    /// [`MqttOptions::with_window`] (default [`MqttOptions::DEFAULT_WINDOW`]), as
    /// [`Mqtt311`]'s.
    fn window(&self) -> usize {
        self.window
    }

    /// As [`Mqtt311`]'s `submit`: writes a QoS 1 message without waiting for its PUBACK and
    /// returns its packet id; a QoS 0 message is published at once and returns 0. A lost
    /// connection forgets what was in flight: send it again after `connect`.
    async fn submit(&mut self, message: &Message<'_>) -> Result<u16, MqttError> {
        self.caller.submit(message).await
    }

    /// As [`Mqtt311`]'s `next_ack`: the packet id of the next acknowledged submitted
    /// message, in the order the PUBACKs arrived.
    async fn next_ack(&mut self) -> Result<u16, MqttError> {
        self.caller.next_ack().await
    }
}

impl core::fmt::Debug for Mqtt311Tls<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt311Tls")
            .field("connected", &self.caller.link.connected.get())
            .finish_non_exhaustive()
    }
}

/// The runner of an [`Mqtt311Tls`] handle: it owns each connection, in the frame of
/// [`run`](Self::run), and does what the handle asks. Built with the handle by
/// [`Mqtt311Tls::new`].
pub struct Mqtt311TlsRunner<'b, N> {
    net: &'b N,
    broker: Broker<'b>,
    options: MqttOptions<'b>,
    tls: Tls<'b>,
    tx: &'b mut [u8],
    rx: &'b mut [u8],
    link: &'b Link,
    message: &'b MessageBuffer,
    /// Where received messages go.
    inbox: Option<&'b InboxSlot>,
}

impl<'b, N> Mqtt311TlsRunner<'b, N> {
    /// Puts the messages received on the [subscriptions](MqttOptions::with_subscriptions)
    /// into `inbox`, as [`Mqtt311::with_inbox`] does: they are read while the runner serves
    /// the handle's `publish` and `poll`.
    pub fn with_inbox<const CAPACITY: usize>(mut self, inbox: &'b Inbox<CAPACITY>) -> Self {
        self.inbox = Some(inbox.slot());
        self
    }
}

impl<N: TcpConnect + Dns> Mqtt311TlsRunner<'_, N> {
    /// Serves the handle, forever: spawn it as a task, or `join`/`select` it with the code
    /// that uses the handle. Dropping the future closes the connection (without DISCONNECT);
    /// running it again starts disconnected.
    pub async fn run(&mut self) -> ! {
        self.link.connected.set(false);
        // The last connect failed or the connection was lost: the next connect moves on to
        // the next broker of the list (round robin).
        let mut advance = false;
        loop {
            match self.link.requests.wait().await {
                Request::Connect => {
                    if advance {
                        let next = self.options.next_broker(self.link.broker.get());
                        self.link.broker.set(next);
                    }
                    advance = !self.connection().await;
                }
                Request::Disconnect => self.link.answers.signal(Ok(())),
                Request::Publish { .. }
                | Request::Submit { .. }
                | Request::NextAck
                | Request::Poll => {
                    self.link.answers.signal(Err(MqttError::NotConnected));
                }
            }
            self.link.connected.set(false);
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.options.timeout_ms()))
    }

    /// Opens TCP and TLS to the broker in use, connects over MQTT 3.1.1 (answering the
    /// handle's connect), then serves the handle's requests until the connection ends;
    /// `true` if it ended by the handle's disconnect, `false` after a failure.
    async fn connection(&mut self) -> bool {
        // A will or birth topic nobody could publish to is refused before any I/O.
        if let Err(e) = self.options.check_topics() {
            self.link.answers.signal(Err(MqttError::InvalidTopic(e)));
            return true;
        }
        let failed = |link: &Link, e| {
            link.answers.signal(Err(e));
            false
        };
        let timeout = self.timeout();
        let broker = self.options.broker_at(self.broker, self.link.broker.get());
        let tcp = match with_timeout(timeout, open(self.net, &broker)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return failed(self.link, MqttError::Connect(e)),
            Err(_) => return failed(self.link, MqttError::Connect(ConnectError::Timeout)),
        };
        // The TLS alert that ended the connection, if one did.
        let flags = Flags::default();
        // Verified as the broker connected to, a fallback by its own name.
        let stream = match with_timeout(timeout, self.tls.open(tcp, broker.host(), &flags)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return failed(self.link, MqttError::Tls(e)),
            Err(_) => return failed(self.link, MqttError::Tls(TlsError::HandshakeTimeout)),
        };
        // An alert explains an I/O failure (a client certificate the server refused).
        let explain = |result: Result<(), MqttError>| match (result, flags.alert.take()) {
            (Err(MqttError::Io(_) | MqttError::Closed), Some(alert)) => Err(MqttError::Tls(alert)),
            (result, _) => result,
        };
        let one = OneStream::new(stream);
        // This one stream to this one broker: failover is the runner's, not this Mqtt311's.
        let options = self.options.with_fallbacks(&[]);
        let mut mqtt = Mqtt311::new(&one, broker, options, &mut *self.tx, &mut *self.rx)
            .with_inbox_slot(self.inbox);
        let connected = explain(mqtt.connect().await);
        self.link.connected.set(mqtt.is_connected());
        self.link.answers.signal(connected);
        let mut disconnected = false;
        while mqtt.is_connected() {
            let result = match self.link.requests.wait().await {
                Request::Connect => Ok(()),
                Request::Disconnect => {
                    mqtt.disconnect().await;
                    disconnected = true;
                    Ok(())
                }
                Request::Poll => mqtt.poll().await,
                Request::Publish {
                    topic_len,
                    payload_len,
                    qos,
                    retain,
                } => {
                    let lengths = (topic_len, payload_len);
                    publish_copied(&mut mqtt, self.message, lengths, qos, retain, false)
                        .await
                        .map(drop)
                }
                Request::Submit {
                    topic_len,
                    payload_len,
                    retain,
                } => {
                    let (lengths, qos) = ((topic_len, payload_len), QoS::AtLeastOnce);
                    publish_copied(&mut mqtt, self.message, lengths, qos, retain, true)
                        .await
                        .map(|id| self.link.ack.set(id))
                }
                Request::NextAck => mqtt.next_ack().await.map(|id| self.link.ack.set(id)),
            };
            self.link.connected.set(mqtt.is_connected());
            self.link.answers.signal(explain(result));
        }
        disconnected
    }
}

/// Publishes the message the handle copied into the message buffer: in full
/// ([`Request::Publish`], answers 0) or, `submit`, without waiting for its PUBACK
/// ([`Request::Submit`], answers its packet id).
// The borrow spans the publish on purpose: the handle writes the buffer only after the
// runner answered, and with `try_borrow_mut`, which fails instead of panicking.
#[allow(clippy::await_holding_refcell_ref)]
async fn publish_copied<N: TcpConnect + Dns>(
    mqtt: &mut Mqtt311<'_, N>,
    message: &MessageBuffer,
    (topic_len, payload_len): (usize, usize),
    qos: QoS,
    retain: bool,
    submit: bool,
) -> Result<u16, MqttError> {
    let buffer = message.try_borrow().map_err(|_| MqttError::TooLarge)?;
    let (topic, payload) = copied(&buffer, topic_len, payload_len).ok_or(MqttError::TooLarge)?;
    let message = Message::new(topic, payload)
        .with_qos(qos)
        .with_retain(retain);
    if submit {
        mqtt.submit(&message).await
    } else {
        mqtt.publish(&message).await.map(|()| 0)
    }
}

impl<N> core::fmt::Debug for Mqtt311TlsRunner<'_, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt311TlsRunner")
            .field(
                "broker",
                &self.options.broker_at(self.broker, self.link.broker.get()),
            )
            .field("options", &self.options)
            .field("connected", &self.link.connected.get())
            .finish_non_exhaustive()
    }
}

/// A network with one connection to give: the verified TLS stream the runner opened. The
/// first `connect` hands it out (whatever the address), later ones fail; names resolve to
/// a placeholder, as the stream is already connected.
struct OneStream<S> {
    stream: Cell<Option<S>>,
}

impl<S> OneStream<S> {
    fn new(stream: S) -> Self {
        Self {
            stream: Cell::new(Some(stream)),
        }
    }
}

/// An I/O error of the TLS stream, by kind.
#[derive(Debug, Clone, Copy)]
struct StreamError(ErrorKind);

impl core::fmt::Display for StreamError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TLS stream: {:?}", self.0)
    }
}

impl core::error::Error for StreamError {}

impl embedded_io_async::Error for StreamError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

/// The stream, with its errors as [`StreamError`].
struct Lent<S>(S);

impl<S> ErrorType for Lent<S> {
    type Error = StreamError;
}

impl<S: Read> Read for Lent<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, StreamError> {
        use embedded_io_async::Error as _;
        self.0.read(buf).await.map_err(|e| StreamError(e.kind()))
    }
}

impl<S: Write> Write for Lent<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, StreamError> {
        use embedded_io_async::Error as _;
        self.0.write(buf).await.map_err(|e| StreamError(e.kind()))
    }

    async fn flush(&mut self) -> Result<(), StreamError> {
        use embedded_io_async::Error as _;
        self.0.flush().await.map_err(|e| StreamError(e.kind()))
    }
}

impl<S: Read + Write> TcpConnect for OneStream<S> {
    type Error = StreamError;
    type Connection<'a>
        = Lent<S>
    where
        Self: 'a;

    async fn connect(&self, _remote: SocketAddr) -> Result<Lent<S>, StreamError> {
        self.stream
            .take()
            .map(Lent)
            .ok_or(StreamError(ErrorKind::NotConnected))
    }
}

impl<S> Dns for OneStream<S> {
    type Error = StreamError;

    async fn get_host_by_name(&self, _host: &str, _: AddrType) -> Result<IpAddr, StreamError> {
        Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, StreamError> {
        Err(StreamError(ErrorKind::Unsupported))
    }
}
