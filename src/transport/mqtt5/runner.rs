//! [`Mqtt5Runner`]: the life of the connection. It waits for the handle's requests; while
//! connected it reads the connection between them (keep-alive, acknowledgements, the end of
//! the connection), and it answers each request.

use core::cell::RefCell;
use core::future::Future;
use core::pin::{Pin, pin};

use super::error::{config_error, connect_error, minimq_qos, session_error};
use super::traffic::Traffic;
use super::window::Flight;
use super::{Link, MessageBuffer, Request};
use crate::message::{Message, QoS};
use crate::transport::connect::open;
use crate::transport::inbox::{Inbox, InboxSlot, Subscription};
use crate::transport::link::copied;
#[cfg(feature = "tls")]
use crate::transport::tls::{Flags, Tls, TlsError};
use crate::transport::{Broker, ConnectError, MqttConfigError, MqttError, MqttOptions};
use embassy_futures::select::{Either, select};
use embassy_futures::yield_now;
use embassy_time::{Duration, Instant, with_deadline, with_timeout};
use embedded_nal_async::{Dns, TcpConnect};
use minimq::{
    Buffers, ConfigBuilder, Connection, InboundPublish, PubError, Publication, Session,
    SubscriptionOptions, TopicFilter, Will,
};

/// What the runner needs besides minimq's buffers. (`pub` only to appear in [`Layer`]'s
/// signature; not reachable from outside the crate.)
pub struct Settings<'b, N> {
    pub(super) net: &'b N,
    pub(super) broker: Broker<'b>,
    pub(super) options: MqttOptions<'b>,
    pub(super) link: &'b Link,
    pub(super) message: &'b MessageBuffer,
    /// Where received messages go.
    pub(super) inbox: Option<&'b InboxSlot>,
    /// The QoS 1 messages submitted and not reported yet.
    pub(super) flight: &'b RefCell<Flight>,
}

/// What the runner puts between TCP and MQTT: nothing ([`Plaintext`]) or TLS
/// ([`TlsLayer`](crate::transport::TlsLayer)). A type parameter, not a run-time choice, so a
/// plaintext runner links no TLS code even when the crate's `tls` feature is on. Sealed: its
/// module is private.
pub trait Layer {
    /// Opens the connection to `broker` through `settings` (TCP, and this layer over it),
    /// answers the handle's connect, and serves the connection until it ends; returns how it
    /// ended.
    fn serve<N: TcpConnect + Dns>(
        &mut self,
        settings: &Settings<'_, N>,
        broker: &Broker<'_>,
        session: &mut Session<'_>,
    ) -> impl Future<Output = End>;
}

/// No layer between TCP and MQTT: the runner of [`Mqtt5::new`](crate::transport::Mqtt5::new).
#[derive(Debug, Clone, Copy, Default)]
pub struct Plaintext;

impl Layer for Plaintext {
    async fn serve<N: TcpConnect + Dns>(
        &mut self,
        settings: &Settings<'_, N>,
        broker: &Broker<'_>,
        session: &mut Session<'_>,
    ) -> End {
        // Not a `match` around the connection's `.await`: its scrutinee would stay in the
        // future for the connection's life.
        let io = match settings.open_tcp(broker).await {
            Ok(io) => io,
            Err(e) => {
                settings.link.answers.signal(Err(e));
                return End::Failed(None);
            }
        };
        settings.connection(session, io, |e| e).await
    }
}

/// TLS 1.3 over TCP, verified before any MQTT byte is sent: the runner of
/// [`Mqtt5::new_tls`](crate::transport::Mqtt5::new_tls).
#[cfg(feature = "tls")]
impl Layer for Tls<'_> {
    async fn serve<N: TcpConnect + Dns>(
        &mut self,
        settings: &Settings<'_, N>,
        broker: &Broker<'_>,
        session: &mut Session<'_>,
    ) -> End {
        // The TLS alert that ended the connection, if one did.
        let flags = Flags::default();
        let failed = |e| {
            settings.link.answers.signal(Err(e));
            End::Failed(None)
        };
        let io = match settings.open_tcp(broker).await {
            Ok(io) => io,
            Err(e) => return failed(e),
        };
        let host = broker.host();
        let io = match with_timeout(settings.timeout(), self.open(io, host, &flags)).await {
            Ok(Ok(io)) => io,
            Ok(Err(e)) => return failed(MqttError::Tls(e)),
            Err(_) => return failed(MqttError::Tls(TlsError::HandshakeTimeout)),
        };
        // An alert explains an I/O failure of CONNECT (a client certificate the server
        // refused).
        let explain = |e| match (e, flags.alert.take()) {
            (MqttError::Io(_) | MqttError::Closed, Some(alert)) => MqttError::Tls(alert),
            (e, _) => e,
        };
        settings.connection(session, io, explain).await
    }
}

/// The runner of an [`Mqtt5`](crate::transport::Mqtt5) handle: it owns the connection and
/// does what the handle asks. Built with the handle by
/// [`Mqtt5::new`](crate::transport::Mqtt5::new) (`L` = [`Plaintext`]) or, with the `tls`
/// feature, `Mqtt5::new_tls` (`L` = `TlsLayer`); [`run`](Self::run) it for as long as the
/// handle is used.
pub struct Mqtt5Runner<'b, N, L = Plaintext> {
    settings: Settings<'b, N>,
    rx: &'b mut [u8],
    tx: &'b mut [u8],
    /// What goes between TCP and MQTT on every connection.
    layer: L,
}

impl<'b, N: TcpConnect + Dns> Mqtt5Runner<'b, N> {
    /// The runner over `rx` and `tx`, once minimq accepted the options.
    pub(super) fn new(
        settings: Settings<'b, N>,
        rx: &'b mut [u8],
        tx: &'b mut [u8],
    ) -> Result<Self, MqttConfigError> {
        config(&settings.options, rx, tx)?;
        Ok(Self {
            settings,
            rx,
            tx,
            layer: Plaintext,
        })
    }

    /// Wraps every connection in TLS.
    #[cfg(feature = "tls")]
    pub(super) fn with_tls(self, tls: Tls<'b>) -> Mqtt5Runner<'b, N, Tls<'b>> {
        let Self {
            settings, rx, tx, ..
        } = self;
        Mqtt5Runner {
            settings,
            rx,
            tx,
            layer: tls,
        }
    }
}

impl<'b, N: TcpConnect + Dns, L: Layer> Mqtt5Runner<'b, N, L> {
    /// Puts the messages received on the [subscriptions](MqttOptions::with_subscriptions)
    /// into `inbox`, where the caller takes them. The runner reads the connection whenever
    /// it is idle, so messages arrive without the handle's `poll`; minimq acknowledges QoS 1
    /// ones. minimq tells the broker the largest packet it takes (its receive buffer, `RX`
    /// of [`Mqtt5Buffers`](crate::Mqtt5Buffers)), so a broker drops longer messages; one that
    /// fits `RX` but not the inbox is counted in [`Inbox::stats`] and dropped. Without an
    /// inbox, received messages are dropped.
    pub fn with_inbox<const CAPACITY: usize>(mut self, inbox: &'b Inbox<CAPACITY>) -> Self {
        self.settings.inbox = Some(inbox.slot());
        self
    }

    /// Serves the handle, forever: spawn it as a task, or `join`/`select` it with the code
    /// that uses the handle (see [`Mqtt5`](crate::transport::Mqtt5)). Dropping the future
    /// closes the connection (without DISCONNECT); running it again starts disconnected.
    pub async fn run(&mut self) -> ! {
        // Fields reached through `self`, not bound to locals: each binding would be kept in
        // the future.
        // A connection a dropped `run` held is gone with it.
        self.settings.link.connected.set(false);
        // Why the last connection ended while idle; the next publish or poll reports it.
        let mut ended = None;
        // The last connect failed or the connection was lost: the next connect moves on to
        // the next broker of the list (round robin).
        let mut advance = false;
        loop {
            match self.settings.link.requests.wait().await {
                Request::Connect => {
                    // A will or birth topic nobody could publish to is refused before any I/O.
                    if let Err(e) = self.settings.options.check_topics() {
                        self.settings
                            .link
                            .answers
                            .signal(Err(MqttError::InvalidTopic(e)));
                        continue;
                    }
                }
                Request::Disconnect => {
                    self.settings.link.answers.signal(Ok(()));
                    continue;
                }
                Request::Publish { .. }
                | Request::Submit { .. }
                | Request::NextAck
                | Request::Poll => {
                    let error = ended.take().unwrap_or(MqttError::NotConnected);
                    self.settings.link.answers.signal(Err(error));
                    continue;
                }
            }
            ended = None;
            if advance {
                advance = false;
                let next = self
                    .settings
                    .options
                    .next_broker(self.settings.link.broker.get());
                self.settings.link.broker.set(next);
            }
            let broker = self
                .settings
                .options
                .broker_at(self.settings.broker, self.settings.link.broker.get());
            // A new session for every connection: minimq would ask the broker to resume the
            // last one (Clean Start 0), and every connection here is a clean session.
            // Owned here and lent to `connection`: a session moved into an async fn is kept
            // twice in its future (the argument and the local), 700 bytes more of stack.
            let mut slot = None;
            let Some(session) = new_session(&mut slot, &self.settings.options, self.rx, self.tx)
            else {
                // `new` built the same configuration from the same options.
                self.settings.link.answers.signal(Err(MqttError::Protocol));
                continue;
            };
            let end = self.layer.serve(&self.settings, &broker, session).await;
            (advance, ended) = match end {
                End::Disconnected => (false, None),
                End::Failed(idle) => (true, idle),
            };
            self.settings.link.connected.set(false);
        }
    }
}

impl<'b, N: TcpConnect + Dns> Settings<'b, N> {
    fn timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.options.timeout_ms()))
    }

    /// Opens the TCP connection to `broker` within the timeout.
    async fn open_tcp(&self, broker: &Broker<'_>) -> Result<N::Connection<'b>, MqttError> {
        Ok(with_timeout(self.timeout(), open(self.net, broker))
            .await
            .map_err(|_| ConnectError::Timeout)??)
    }

    /// Connects over `io` (answering the handle's connect), then serves the connection until
    /// it ends; returns how it ended.
    async fn connection<IO: minimq::Io>(
        &self,
        session: &mut Session<'_>,
        io: IO,
        explain: impl Fn(MqttError) -> MqttError,
    ) -> End {
        let traffic = Traffic::new();
        let opened = with_timeout(self.timeout(), async {
            // Polled through a `dyn` reference, so it is not inlined: minimq's CONNECT
            // handshake builds about 1 KB of packet and properties on the stack, which would
            // otherwise sit in the frame that polls every later publish.
            let handshake = pin!(session.connect(traffic.count(io)));
            let handshake: Pin<&mut dyn Future<Output = _>> = handshake;
            handshake.await.map_err(connect_error)
        });
        // Matched as it is awaited: a binding would stay in the future for the connection's
        // life.
        let mut connection = match opened.await {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => {
                self.link.answers.signal(Err(explain(e)));
                return End::Failed(None);
            }
            Err(_) => {
                self.link
                    .answers
                    .signal(Err(MqttError::Connect(ConnectError::Timeout)));
                return End::Failed(None);
            }
        };
        self.link.connected.set(true);
        // What the last connection had in flight goes again through the caller.
        self.flight.borrow_mut().clear();
        let birth = self
            .publish(&mut connection, &traffic, Outgoing::Birth)
            .await;
        let subscribed = match birth {
            Ok(()) => {
                let subscribed = self.subscribe(&mut connection, &traffic).await;
                if subscribed.is_err() && connection.is_connected() {
                    // Subscriptions are made whole or the connect fails: no connection that
                    // would miss commands.
                    let _ = connection.disconnect().await;
                }
                subscribed
            }
            Err(e) => Err(e),
        };
        if !self.answer(&connection, subscribed) {
            return End::Failed(None);
        }
        loop {
            // The handle usually posts its next request as soon as it has the answer (a
            // backlog, a window): let it run first, so the select below takes that request
            // without starting a read of the connection only to abandon it (on a host a
            // failed read and a readiness registration each time).
            yield_now().await;
            let watched = watch(&mut connection, self.inbox);
            let request = match select(self.link.requests.wait(), watched).await {
                Either::First(request) => request,
                Either::Second(error) => return End::Failed(Some(traffic.explain(error))),
            };
            let mut end = End::Failed(None);
            let result = match request {
                Request::Connect => Ok(()),
                Request::Disconnect => {
                    let _ = connection.disconnect().await;
                    end = End::Disconnected;
                    Ok(())
                }
                Request::Poll => drain(&mut connection, self.inbox)
                    .await
                    .map_err(|e| traffic.explain(e)),
                Request::Publish {
                    topic_len,
                    payload_len,
                    qos,
                    retain,
                } => {
                    let copied = Outgoing::Copied {
                        topic_len,
                        payload_len,
                        qos,
                        retain,
                    };
                    self.publish(&mut connection, &traffic, copied).await
                }
                Request::Submit {
                    topic_len,
                    payload_len,
                    retain,
                } => {
                    self.submit_copied(&mut connection, &traffic, topic_len, payload_len, retain)
                        .await
                }
                Request::NextAck => self.next_ack(&mut connection, &traffic).await,
            };
            if result.as_ref().is_err_and(|e| !e.is_permanent()) {
                // The caller sends the unacknowledged ones again. (A message refused for
                // good left the others in flight, and their acknowledgements to report.)
                self.flight.borrow_mut().clear();
            }
            if !self.answer(&connection, result) {
                return end;
            }
        }
    }

    /// Answers the handle; `false` if the connection is over (after a disconnect, a failure
    /// that closed it, or a timeout, after which it is not trusted).
    fn answer<IO: minimq::Io>(
        &self,
        connection: &Connection<'_, '_, IO>,
        result: Result<(), MqttError>,
    ) -> bool {
        let alive = connection.is_connected() && result != Err(MqttError::Timeout);
        if !alive {
            self.link.connected.set(false);
        }
        self.link.answers.signal(result);
        alive
    }

    /// Makes the subscriptions, one SUBSCRIBE each, each acknowledged within the timeout.
    async fn subscribe<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, '_, IO>,
        traffic: &Traffic,
    ) -> Result<(), MqttError> {
        for &Subscription { filter, qos } in self.options.subscriptions() {
            let deadline = Instant::now() + self.timeout();
            let options = SubscriptionOptions::default().maximum_qos(minimq_qos(qos));
            let topics = [TopicFilter::new(filter).options(options)];
            let op = connection
                .subscribe(&topics, &[])
                .await
                .map_err(|e| traffic.explain(subscribe_error(e)))?;
            while connection.is_pending(&op) {
                progress(connection, deadline, self.inbox)
                    .await
                    .map_err(|e| match e {
                        // The SUBACK's reason code: no publish is waiting for a PUBACK now.
                        MqttError::PublishRejected(code) => MqttError::SubscribeRejected(code),
                        e => traffic.explain(e),
                    })?;
            }
            if connection.is_invalidated(&op) {
                return Err(MqttError::Closed);
            }
        }
        Ok(())
    }

    /// Publishes `outgoing` (nothing for a birth message the options do not have): at QoS 1 until minimq saw the PUBACK or the acknowledgement
    /// timeout passed; at QoS 0 between two looks at the connection, so a connection the
    /// broker already closed or reset is an error, not an `Ok`. One `async fn`, not three
    /// nested ones: each level kept its arguments and locals in the runner's future.
    // The borrow of the message buffer spans the publish on purpose: the handle writes the
    // buffer only after the runner answered, and with `try_borrow_mut`, which fails instead
    // of panicking.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn publish<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, '_, IO>,
        traffic: &Traffic,
        outgoing: Outgoing,
    ) -> Result<(), MqttError> {
        let buffer;
        let message = match outgoing {
            Outgoing::Birth => match self.options.birth() {
                Some(birth) => birth,
                None => return Ok(()),
            },
            Outgoing::Copied {
                topic_len,
                payload_len,
                qos,
                retain,
            } => {
                buffer = self.message.try_borrow().map_err(|_| MqttError::TooLarge)?;
                let (topic, payload) =
                    copied(&buffer, topic_len, payload_len).ok_or(MqttError::TooLarge)?;
                Message::new(topic, payload)
                    .with_qos(qos)
                    .with_retain(retain)
            }
        };
        if message.qos > self.options.max_qos() {
            return Err(MqttError::QosNotAllowed);
        }
        // What arrived first: a PINGRESP due, the end of the connection.
        drain(connection, self.inbox)
            .await
            .map_err(|e| traffic.explain(e))?;
        let ack_timeout = Duration::from_millis(u64::from(self.options.ack_timeout_ms()));
        let deadline = Instant::now() + ack_timeout;
        let op = loop {
            let mut publication =
                Publication::bytes(message.topic, message.payload).qos(minimq_qos(message.qos));
            if message.retain {
                publication = publication.retain();
            }
            match connection.publish(publication).await {
                Ok(op) => break op,
                // No room in minimq's buffers yet: let acknowledgements in, then retry.
                Err(PubError::Session(minimq::Error::NotReady))
                | Err(PubError::Session(minimq::Error::Resource(
                    minimq::ResourceError::InflightExhausted,
                ))) => progress(connection, deadline, self.inbox)
                    .await
                    .map_err(|e| traffic.explain(e))?,
                Err(PubError::Payload(())) => return Err(MqttError::TooLarge),
                Err(PubError::Session(e)) => {
                    return Err(traffic.explain(session_error(e, message.qos)));
                }
            }
        };
        match op {
            Some(op) => {
                while connection.is_pending(&op) {
                    progress(connection, deadline, self.inbox)
                        .await
                        .map_err(|e| traffic.explain(e))?;
                }
                if connection.is_invalidated(&op) {
                    return Err(traffic.explain(MqttError::Closed));
                }
            }
            // A broker that had closed its end answers the write with a reset: seen here on
            // a fast link, not promised on a slow one (see `Mqtt5`).
            None => drain(connection, self.inbox)
                .await
                .map_err(|e| traffic.explain(e))?,
        }
        Ok(())
    }
}

/// What [`Settings::publish`] publishes.
#[derive(Clone, Copy)]
enum Outgoing {
    /// The options' birth message (if they have one), right after the connect.
    Birth,
    /// The message the handle copied into the message buffer.
    Copied {
        topic_len: usize,
        payload_len: usize,
        qos: QoS,
        retain: bool,
    },
}

/// How a connection (or a connect) ended. (`pub` only to appear in [`Layer`]'s signature.)
pub enum End {
    /// The handle asked for DISCONNECT: the next connect goes to the same broker.
    Disconnected,
    /// A failed connect or a lost connection: the next connect tries the next broker. With
    /// the error that ended an idle connection, which the next publish or poll reports.
    Failed(Option<MqttError>),
}

/// minimq's configuration over `rx` and `tx`, from `options`.
#[inline(always)]
fn config<'s>(
    options: &MqttOptions<'s>,
    rx: &'s mut [u8],
    tx: &'s mut [u8],
) -> Result<ConfigBuilder<'s>, MqttConfigError> {
    let mut config = ConfigBuilder::new(Buffers::new(rx, tx))
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
    Ok(config)
}

/// A fresh minimq session over `rx` and `tx`, from `options`, built in `slot`.
#[inline(never)]
fn new_session<'a, 's>(
    slot: &'a mut Option<Session<'s>>,
    options: &MqttOptions<'s>,
    rx: &'s mut [u8],
    tx: &'s mut [u8],
) -> Option<&'a mut Session<'s>> {
    let config = config(options, rx, tx).ok()?;
    Some(slot.insert(Session::new(config)))
}

/// A failed SUBSCRIBE: a refusal as [`MqttError::SubscribeRejected`], others as usual.
fn subscribe_error<E: embedded_io_async::Error>(e: minimq::Error<E>) -> MqttError {
    match session_error(e, QoS::AtMostOnce) {
        MqttError::PublishRejected(code) => MqttError::SubscribeRejected(code),
        other => other,
    }
}

/// Copies a received message into the inbox, if there is one.
fn deliver(inbox: Option<&InboxSlot>, publish: Option<InboundPublish<'_>>) {
    if let (Some(inbox), Some(publish)) = (inbox, publish) {
        let qos = match publish.qos() {
            minimq::QoS::AtMostOnce => QoS::AtMostOnce,
            // We subscribe at QoS 1 at most; minimq completed a QoS 2 handshake itself.
            _ => QoS::AtLeastOnce,
        };
        inbox.put(publish.topic(), publish.payload(), qos, publish.retained());
    }
}

/// Lets minimq run the idle connection (keep-alive pings, what the broker sends) until it
/// ends; returns why.
async fn watch<IO: minimq::Io>(
    connection: &mut Connection<'_, '_, IO>,
    inbox: Option<&InboxSlot>,
) -> MqttError {
    loop {
        match connection.poll().await {
            Ok(publish) => deliver(inbox, publish),
            Err(e) => return session_error(e, QoS::AtMostOnce),
        }
    }
}

/// Lets minimq handle whatever is ready, without waiting for the network.
async fn drain<IO: minimq::Io>(
    connection: &mut Connection<'_, '_, IO>,
    inbox: Option<&InboxSlot>,
) -> Result<(), MqttError> {
    loop {
        match select(connection.poll(), core::future::ready(())).await {
            Either::First(Ok(publish)) => deliver(inbox, publish),
            Either::First(Err(e)) => return Err(session_error(e, QoS::AtMostOnce)),
            Either::Second(()) => return Ok(()),
        }
    }
}

/// Waits for minimq to make progress (an acknowledgement, a ping) until `deadline`.
pub(super) async fn progress<IO: minimq::Io>(
    connection: &mut Connection<'_, '_, IO>,
    deadline: Instant,
    inbox: Option<&InboxSlot>,
) -> Result<(), MqttError> {
    match with_deadline(deadline, connection.poll()).await {
        Ok(Ok(publish)) => {
            deliver(inbox, publish);
            Ok(())
        }
        Ok(Err(e)) => Err(session_error(e, QoS::AtMostOnce)),
        Err(_) => Err(MqttError::Timeout),
    }
}

impl<N, L> core::fmt::Debug for Mqtt5Runner<'_, N, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt5Runner")
            .field(
                "broker",
                &(self.settings.options)
                    .broker_at(self.settings.broker, self.settings.link.broker.get()),
            )
            .field("options", &self.settings.options)
            .field("connected", &self.settings.link.connected.get())
            .finish_non_exhaustive()
    }
}
