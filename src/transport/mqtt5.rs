//! [`Mqtt5`]: the MQTT 5 transport, on minimq.
//!
//! minimq 0.13's live `Connection` borrows its `Session`, and a struct cannot hold both, so
//! the connection lives where minimq wants it: in the frame of an `async fn`, the *driver*
//! ([`Mqtt5::driver`]). The caller pins the driver (`core::pin::pin!`, no heap) and hands it
//! to the [`Mqtt5`] handle, which implements [`Transport`]. The handle resumes the driver
//! only while one of its own methods is awaited, and they talk through an [`Mqtt5Link`]: the
//! handle copies the message into the link's buffer, the driver publishes it and answers.
//! So there is no task to spawn and nothing runs behind the caller's back, as with
//! [`Mqtt311`](crate::transport::Mqtt311).

use super::connect::{Broker, ConnectError, open};
use super::error::{MqttConfigError, MqttError, Refusal};
use super::options::MqttOptions;
use crate::message::{Message, QoS};
use crate::transport::Transport;
use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::Poll;
use embassy_futures::select::{Either, select};
use embassy_time::{Duration, Instant, with_deadline, with_timeout};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{Dns, TcpConnect};
use minimq::{ConfigBuilder, Connection, PubError, Publication, Session, Will};

/// What the handle asks of the driver.
#[derive(Debug, Clone, Copy)]
enum Request {
    Connect,
    Publish {
        topic_len: usize,
        payload_len: usize,
        qos: QoS,
        retain: bool,
    },
    Poll,
    Disconnect,
}

/// The mailbox between an [`Mqtt5`] handle and its driver, and the buffer that carries one
/// outgoing message (topic + payload) from one to the other. Caller-owned, so its size is
/// visible: make `message` as large as the longest topic plus payload.
pub struct Mqtt5Link<'m> {
    message: RefCell<&'m mut [u8]>,
    request: Cell<Option<(u32, Request)>>,
    response: Cell<Option<(u32, Result<(), MqttError>)>>,
    connected: Cell<bool>,
}

impl<'m> Mqtt5Link<'m> {
    /// A link whose messages (topic + payload) are copied into `message`.
    pub fn new(message: &'m mut [u8]) -> Self {
        Self {
            message: RefCell::new(message),
            request: Cell::new(None),
            response: Cell::new(None),
            connected: Cell::new(false),
        }
    }

    /// Waits for the handle's next request. Registers no waker: the handle polls the driver
    /// right after posting a request, and never otherwise.
    fn next_request(&self) -> impl Future<Output = (u32, Request)> + '_ {
        poll_fn(|_| match self.request.take() {
            Some(request) => Poll::Ready(request),
            None => Poll::Pending,
        })
    }

    fn respond(&self, id: u32, result: Result<(), MqttError>) {
        self.response.set(Some((id, result)));
    }
}

impl core::fmt::Debug for Mqtt5Link<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt5Link")
            .field("connected", &self.connected.get())
            .finish_non_exhaustive()
    }
}

/// The pinned driver an [`Mqtt5`] handle resumes.
pub type Mqtt5Driver<'d> = Pin<&'d mut (dyn Future<Output = Infallible> + 'd)>;

/// An MQTT 5 connection over any `embedded-nal-async` stack, on minimq: QoS 0 and 1,
/// retain, keep-alive, will and birth message, clean session.
///
/// Three caller-owned pieces, so every size is visible:
/// - the session buffer for minimq, split into `rx_len` bytes for one incoming packet (256 is
///   plenty for a publisher: CONNACK with properties, PUBACK) and the rest for encoding the
///   outgoing packets (CONNECT, then each PUBLISH: topic + payload + ~16 bytes);
/// - the [`Mqtt5Link`]'s message buffer (longest topic + payload);
/// - the pinned driver.
///
/// ```no_run
/// use core::pin::pin;
/// use sensorpub::transport::{Broker, Mqtt5, Mqtt5Link, MqttOptions};
/// use sensorpub::{Message, QoS, Transport};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let stack = std_embedded_nal_async::Stack::default();
/// let options = MqttOptions::new("apricot");
/// let (mut session, mut message) = ([0u8; 1024], [0u8; 256]);
/// let link = Mqtt5Link::new(&mut message);
/// let driver = pin!(Mqtt5::driver(&stack, Broker::new("127.0.0.1", 1883), &options, &mut session, 256, &link)?);
/// let mut mqtt = Mqtt5::new(&link, driver);
///
/// mqtt.connect().await?;
/// // Returns once the broker acknowledged the message (PUBACK).
/// mqtt.publish(&Message::new("apricot/value", b"742").with_qos(QoS::AtLeastOnce)).await?;
/// mqtt.disconnect().await;
/// # Ok(())
/// # }
/// ```
pub struct Mqtt5<'d, 'm> {
    link: &'d Mqtt5Link<'m>,
    driver: Mqtt5Driver<'d>,
    last_id: u32,
    /// A request whose answer the handle stopped waiting for (its future was dropped).
    abandoned: Option<u32>,
}

impl<'d, 'm: 'd> Mqtt5<'d, 'm> {
    /// The handle over `link` and the pinned `driver` built from the same link.
    pub fn new(link: &'d Mqtt5Link<'m>, driver: Mqtt5Driver<'d>) -> Self {
        Self {
            link,
            driver,
            last_id: 0,
            abandoned: None,
        }
    }

    /// Builds the driver: checks `options` against minimq's limits and splits `session`
    /// into `rx_len` bytes for receiving and the rest for sending. Does no I/O; pin the
    /// result and give it to [`Mqtt5::new`] with the same `link`.
    pub fn driver<N: TcpConnect + Dns>(
        net: &'d N,
        broker: Broker<'d>,
        options: &MqttOptions<'d>,
        session: &'d mut [u8],
        rx_len: usize,
        link: &'d Mqtt5Link<'m>,
    ) -> Result<impl Future<Output = Infallible> + 'd, MqttConfigError> {
        let mut config = ConfigBuilder::from_buffer(session, rx_len)
            .map_err(config_error)?
            .client_id(options.client_id())
            .map_err(config_error)?
            .keepalive_interval(options.keep_alive_s());
        if let Some(credentials) = options.credentials() {
            config = config
                .auth(credentials.username(), credentials.password())
                .map_err(config_error)?;
        }
        if let Some(will) = options.will() {
            let mut minimq_will = Will::new(will.topic, will.payload, &[])
                .map_err(config_error)?
                .qos(minimq_qos(will.qos));
            if will.retain {
                minimq_will = minimq_will.retained();
            }
            config = config.will(minimq_will).map_err(config_error)?;
        }
        let driver = Driver {
            net,
            broker,
            birth: options.birth(),
            timeout: Duration::from_millis(u64::from(options.timeout_ms())),
            max_qos: options.max_qos(),
            link,
        };
        Ok(driver.run(Session::new(config)))
    }

    /// Sends DISCONNECT (so the broker drops the will) and closes the connection.
    pub async fn disconnect(&mut self) {
        let _ = self.call(Request::Disconnect).await;
    }

    /// Posts `request` and resumes the driver until it answers.
    async fn call(&mut self, request: Request) -> Result<(), MqttError> {
        self.settle().await;
        self.last_id = self.last_id.wrapping_add(1);
        let id = self.last_id;
        self.link.request.set(Some((id, request)));
        self.abandoned = Some(id);
        let result = self.wait(id).await;
        self.abandoned = None;
        result
    }

    /// Lets a request whose caller gave up finish first, so requests never overlap.
    async fn settle(&mut self) {
        if let Some(id) = self.abandoned {
            let _ = self.wait(id).await;
            self.abandoned = None;
        }
    }

    async fn wait(&mut self, id: u32) -> Result<(), MqttError> {
        let link = self.link;
        let answer = poll_fn(|_| match link.response.take() {
            Some((answered, result)) if answered == id => Poll::Ready(result),
            // An answer to an older request nobody waits for any more.
            _ => Poll::Pending,
        });
        match select(self.driver.as_mut(), answer).await {
            Either::First(never) => match never {},
            Either::Second(result) => result,
        }
    }
}

impl Transport for Mqtt5<'_, '_> {
    type Error = MqttError;

    /// Publishes; at QoS 1 returns once minimq saw the PUBACK, or [`MqttError::Timeout`]
    /// (connection closed) after the configured timeout.
    async fn publish(&mut self, message: &Message<'_>) -> Result<(), MqttError> {
        self.settle().await;
        {
            let mut buffer = self
                .link
                .message
                .try_borrow_mut()
                .map_err(|_| MqttError::NotConnected)?;
            let (topic, payload) = (message.topic.as_bytes(), message.payload);
            let total = topic.len() + payload.len();
            let slot = buffer.get_mut(..total).ok_or(MqttError::TooLarge)?;
            slot[..topic.len()].copy_from_slice(topic);
            slot[topic.len()..].copy_from_slice(payload);
        }
        self.call(Request::Publish {
            topic_len: message.topic.len(),
            payload_len: message.payload.len(),
            qos: message.qos,
            retain: message.retain,
        })
        .await
    }

    /// Opens the TCP connection and does the CONNECT/CONNACK handshake within the timeout,
    /// then publishes the birth message. Does nothing when already connected.
    async fn connect(&mut self) -> Result<(), MqttError> {
        self.call(Request::Connect).await
    }

    fn is_connected(&self) -> bool {
        self.link.connected.get()
    }

    /// Handles what the broker sent meanwhile, without waiting for more; when minimq sends
    /// a PINGREQ (keep-alive due), waits (at most the timeout) for the broker's answer, so a
    /// dead link shows here as [`MqttError::Timeout`].
    async fn poll(&mut self) -> Result<(), MqttError> {
        self.call(Request::Poll).await
    }
}

impl core::fmt::Debug for Mqtt5<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt5")
            .field("connected", &self.link.connected.get())
            .finish_non_exhaustive()
    }
}

/// Counts reads and writes of the connection, so the driver can tell that minimq sent a
/// PINGREQ whose answer has not been read yet (minimq gives up on a PINGRESP that is not
/// read within 5 s, and the driver runs only when the handle is awaited).
struct Traffic {
    writes: Cell<u32>,
    /// Whether the last I/O was a write (nothing read since).
    unanswered: Cell<bool>,
}

struct Counted<'t, IO> {
    io: IO,
    traffic: &'t Traffic,
}

impl<IO: ErrorType> ErrorType for Counted<'_, IO> {
    type Error = IO::Error;
}

impl<IO: Read> Read for Counted<'_, IO> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.io.read(buf).await?;
        if n > 0 {
            self.traffic.unanswered.set(false);
        }
        Ok(n)
    }
}

impl<IO: Write> Write for Counted<'_, IO> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let n = self.io.write(buf).await?;
        self.traffic
            .writes
            .set(self.traffic.writes.get().wrapping_add(1));
        self.traffic.unanswered.set(true);
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.io.flush().await
    }
}

/// What the driver needs besides the session.
struct Driver<'d, 'm, N> {
    net: &'d N,
    broker: Broker<'d>,
    birth: Option<Message<'d>>,
    timeout: Duration,
    max_qos: QoS,
    link: &'d Mqtt5Link<'m>,
}

impl<'d, N: TcpConnect + Dns> Driver<'d, '_, N> {
    async fn run(self, mut session: Session<'d>) -> Infallible {
        let link = self.link;
        let traffic = Traffic {
            writes: Cell::new(0),
            unanswered: Cell::new(false),
        };
        loop {
            let (id, request) = link.next_request().await;
            match request {
                Request::Connect => {}
                Request::Disconnect => {
                    link.respond(id, Ok(()));
                    continue;
                }
                Request::Publish { .. } | Request::Poll => {
                    link.respond(id, Err(MqttError::NotConnected));
                    continue;
                }
            }
            let opened = with_timeout(self.timeout, async {
                let io = open(self.net, &self.broker).await?;
                let io = Counted {
                    io,
                    traffic: &traffic,
                };
                session.connect(io).await.map_err(connect_error)
            })
            .await;
            let mut connection = match opened {
                Ok(Ok(connection)) => connection,
                Ok(Err(e)) => {
                    link.respond(id, Err(e));
                    continue;
                }
                Err(_) => {
                    link.respond(id, Err(MqttError::Connect(ConnectError::Timeout)));
                    continue;
                }
            };
            link.connected.set(true);
            let mut result = Ok(());
            if let Some(birth) = self.birth {
                result = self
                    .publish(
                        &mut connection,
                        birth.topic,
                        birth.payload,
                        birth.qos,
                        birth.retain,
                    )
                    .await;
            }
            let mut alive = connection.is_connected() && result != Err(MqttError::Timeout);
            link.respond(id, result);
            while alive {
                let (id, request) = link.next_request().await;
                let result = match request {
                    Request::Connect => Ok(()),
                    Request::Disconnect => {
                        let _ = connection.disconnect().await;
                        Ok(())
                    }
                    Request::Poll => self.keep_alive(&mut connection, &traffic).await,
                    Request::Publish {
                        topic_len,
                        payload_len,
                        qos,
                        retain,
                    } => {
                        self.publish_copied(
                            &mut connection,
                            &traffic,
                            topic_len,
                            payload_len,
                            qos,
                            retain,
                        )
                        .await
                    }
                };
                alive = connection.is_connected()
                    && result != Err(MqttError::Timeout)
                    && !matches!(request, Request::Disconnect);
                if !alive {
                    link.connected.set(false);
                }
                link.respond(id, result);
            }
            link.connected.set(false);
        }
    }

    /// Publishes the message the handle copied into the link.
    // The borrow is held across the publish on purpose: the handle writes the buffer only
    // after the driver answered (`settle`), and uses `try_borrow_mut`, which fails instead
    // of panicking.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn publish_copied<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, 'd, IO>,
        traffic: &Traffic,
        topic_len: usize,
        payload_len: usize,
        qos: QoS,
        retain: bool,
    ) -> Result<(), MqttError> {
        if qos > self.max_qos {
            return Err(MqttError::QosNotAllowed);
        }
        // A keep-alive ping that is due goes out (and is answered) before the message, so
        // its answer is not left unread after a QoS 0 publish.
        self.keep_alive(connection, traffic).await?;
        let message = self
            .link
            .message
            .try_borrow()
            .map_err(|_| MqttError::TooLarge)?;
        let bytes = message
            .get(..topic_len + payload_len)
            .ok_or(MqttError::TooLarge)?;
        let (topic, payload) = bytes.split_at(topic_len);
        // The handle copied a &str there.
        let topic = core::str::from_utf8(topic).map_err(|_| MqttError::TooLarge)?;
        self.publish(connection, topic, payload, qos, retain).await
    }

    async fn publish<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, 'd, IO>,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<(), MqttError> {
        let deadline = Instant::now() + self.timeout;
        let op = loop {
            let mut publication = Publication::bytes(topic, payload).qos(minimq_qos(qos));
            if retain {
                publication = publication.retain();
            }
            match connection.publish(publication).await {
                Ok(op) => break op,
                // No room in minimq's buffers yet: let acknowledgements in, then retry.
                Err(PubError::Session(minimq::Error::NotReady))
                | Err(PubError::Session(minimq::Error::Resource(
                    minimq::ResourceError::InflightExhausted,
                ))) => progress(connection, deadline).await?,
                Err(PubError::Payload(())) => return Err(MqttError::TooLarge),
                Err(PubError::Session(e)) => return Err(session_error(e, qos)),
            }
        };
        if let Some(op) = op {
            while connection.is_pending(&op) {
                progress(connection, deadline).await?;
            }
            if connection.is_invalidated(&op) {
                return Err(MqttError::Closed);
            }
        }
        Ok(())
    }

    /// Handles what arrived without waiting; if that sent something (a PINGREQ), waits for
    /// the broker's answer until the timeout.
    async fn keep_alive<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, 'd, IO>,
        traffic: &Traffic,
    ) -> Result<(), MqttError> {
        let writes = traffic.writes.get();
        drain(connection).await?;
        if traffic.writes.get() != writes {
            let deadline = Instant::now() + self.timeout;
            while traffic.unanswered.get() {
                progress(connection, deadline).await?;
            }
            drain(connection).await?;
        }
        Ok(())
    }
}

/// Lets minimq handle whatever is ready, without waiting for the network.
async fn drain<IO: minimq::Io>(connection: &mut Connection<'_, '_, IO>) -> Result<(), MqttError> {
    loop {
        match select(connection.poll(), core::future::ready(())).await {
            Either::First(Ok(_)) => {}
            Either::First(Err(e)) => return Err(session_error(e, QoS::AtMostOnce)),
            Either::Second(()) => return Ok(()),
        }
    }
}

/// Waits for minimq to make progress (an acknowledgement, a ping) until `deadline`.
async fn progress<IO: minimq::Io>(
    connection: &mut Connection<'_, '_, IO>,
    deadline: Instant,
) -> Result<(), MqttError> {
    match with_deadline(deadline, connection.poll()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(session_error(e, QoS::AtMostOnce)),
        Err(_) => Err(MqttError::Timeout),
    }
}

fn minimq_qos(qos: QoS) -> minimq::QoS {
    match qos {
        QoS::AtMostOnce => minimq::QoS::AtMostOnce,
        QoS::AtLeastOnce => minimq::QoS::AtLeastOnce,
    }
}

fn config_error(e: minimq::ConfigError) -> MqttConfigError {
    match e {
        minimq::ConfigError::BufferSplit => MqttConfigError::BufferTooSmall,
        minimq::ConfigError::ClientIdTooLong => MqttConfigError::ClientIdTooLong,
        minimq::ConfigError::TopicTooLong => MqttConfigError::TopicTooLong,
        _ => MqttConfigError::Invalid,
    }
}

fn connect_error<E: embedded_io_async::Error>(e: minimq::Error<E>) -> MqttError {
    match e {
        minimq::Error::Peer(minimq::PeerError::Rejected(code)) => {
            MqttError::Refused(Refusal::Reason(code.into()))
        }
        other => session_error(other, QoS::AtMostOnce),
    }
}

fn session_error<E: embedded_io_async::Error>(e: minimq::Error<E>, qos: QoS) -> MqttError {
    match e {
        minimq::Error::Transport(e) => MqttError::Io(e.kind()),
        minimq::Error::WriteZero => MqttError::Io(ErrorKind::WriteZero),
        minimq::Error::Disconnected => MqttError::Closed,
        minimq::Error::Peer(minimq::PeerError::Rejected(code)) => {
            MqttError::PublishRejected(code.into())
        }
        minimq::Error::Resource(_) => MqttError::TooLarge,
        // minimq refuses a QoS above the broker's maximum as an invalid request.
        minimq::Error::InvalidRequest if qos > QoS::AtMostOnce => MqttError::QosNotAllowed,
        _ => MqttError::Protocol,
    }
}
