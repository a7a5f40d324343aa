//! The link between a handle and its runner, for the transports whose connection lives in a
//! runner ([`Mqtt5`](crate::Mqtt5), [`Mqtt311Tls`](crate::Mqtt311Tls)): the handle posts
//! one [`Transport`](crate::Transport) call at a time through a pair of embassy-sync
//! `Signal`s and waits for the answer; a publish's topic and payload wait in a message buffer.

use crate::message::{Message, QoS};
use crate::topic::validate_topic_name;
use crate::transport::MqttError;
use core::cell::{Cell, RefCell};
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::signal::Signal;

/// What the handle asks of the runner. A publish's topic and payload wait in the message
/// buffer.
#[derive(Debug, Clone, Copy)]
pub(super) enum Request {
    Connect,
    Publish {
        topic_len: usize,
        payload_len: usize,
        qos: QoS,
        retain: bool,
    },
    /// A QoS 1 message written without waiting for its PUBACK
    /// ([`Transport::submit`](crate::Transport::submit)); the runner answers its id in
    /// [`Link::ack`].
    Submit {
        topic_len: usize,
        payload_len: usize,
        retain: bool,
    },
    /// The next acknowledged submitted message ([`Transport::next_ack`](crate::Transport::next_ack)):
    /// the runner answers its id in [`Link::ack`].
    NextAck,
    Poll,
    Disconnect,
}

/// The requests and answers between a handle and its runner, whether the runner holds a
/// live connection, and to which broker of the list.
pub(super) struct Link {
    pub(super) requests: Signal<NoopRawMutex, Request>,
    pub(super) answers: Signal<NoopRawMutex, Result<(), MqttError>>,
    pub(super) connected: Cell<bool>,
    /// Index of the broker of the connection, or of the last attempt (primary: 0).
    pub(super) broker: Cell<usize>,
    /// The id a [`Request::Submit`] or [`Request::NextAck`] answered `Ok` with.
    pub(super) ack: Cell<u16>,
}

impl Link {
    pub(super) const fn new() -> Self {
        Self {
            requests: Signal::new(),
            answers: Signal::new(),
            connected: Cell::new(false),
            broker: Cell::new(0),
            ack: Cell::new(0),
        }
    }
}

/// The message buffer, whatever its length. Never contended: the handle writes it only when
/// the runner has answered, the runner reads it only while it serves that publish. (An
/// embassy-sync `Mutex` here cost 400 bytes of flash and 62 instructions a publish on a
/// Cortex-M4 for waiting that never happens.)
pub(super) type MessageBuffer = RefCell<[u8]>;

/// The handle's side of a [`Link`]: one request at a time.
pub(super) struct Caller<'b> {
    pub(super) link: &'b Link,
    message: &'b MessageBuffer,
    /// A request was posted whose answer nobody took: the caller's future was dropped.
    unanswered: bool,
}

impl<'b> Caller<'b> {
    pub(super) const fn new(link: &'b Link, message: &'b MessageBuffer) -> Self {
        Self {
            link,
            message,
            unanswered: false,
        }
    }

    /// Posts `request` and waits for the runner's answer.
    pub(super) async fn call(&mut self, request: Request) -> Result<(), MqttError> {
        // Lets a request whose caller gave up finish first, so requests never overlap and an
        // old answer is never taken for a new one. Written out here, in `publish` and `submit`, not an
        // `async fn` of its own: each level kept its arguments in the caller's future.
        if self.unanswered {
            let _ = self.link.answers.wait().await;
            self.unanswered = false;
        }
        self.post(request);
        let answer = self.link.answers.wait().await;
        self.unanswered = false;
        answer
    }

    /// Posts `request`; its answer is owed from now on.
    fn post(&mut self, request: Request) {
        self.unanswered = true;
        self.link.requests.signal(request);
    }

    /// Checks the topic ([`MqttError::InvalidTopic`], nothing sent), copies topic and payload
    /// into the message buffer ([`MqttError::TooLarge`] if they do not fit) and posts the
    /// publish.
    pub(super) async fn publish(&mut self, message: &Message<'_>) -> Result<(), MqttError> {
        validate_topic_name(message.topic)?;
        if self.unanswered {
            let _ = self.link.answers.wait().await;
            self.unanswered = false;
        }
        self.copy(message)?;
        self.post(Request::Publish {
            topic_len: message.topic.len(),
            payload_len: message.payload.len(),
            qos: message.qos,
            retain: message.retain,
        });
        let answer = self.link.answers.wait().await;
        self.unanswered = false;
        answer
    }

    /// As [`publish`](Self::publish) for a QoS 1 message the runner writes without waiting
    /// for its PUBACK; returns the id the runner answered. A QoS 0 message has nothing to
    /// wait for: it is published at once and returns 0, as the trait's default `submit`.
    pub(super) async fn submit(&mut self, message: &Message<'_>) -> Result<u16, MqttError> {
        if message.qos == QoS::AtMostOnce {
            self.publish(message).await?;
            return Ok(0);
        }
        validate_topic_name(message.topic)?;
        // The last request's answer first, as in `call`: the copy overwrites its message.
        if self.unanswered {
            let _ = self.link.answers.wait().await;
            self.unanswered = false;
        }
        self.copy(message)?;
        self.call(Request::Submit {
            topic_len: message.topic.len(),
            payload_len: message.payload.len(),
            retain: message.retain,
        })
        .await?;
        Ok(self.link.ack.get())
    }

    /// Asks for the next acknowledged submitted message; returns its id.
    pub(super) async fn next_ack(&mut self) -> Result<u16, MqttError> {
        self.call(Request::NextAck).await?;
        Ok(self.link.ack.get())
    }

    /// Copies topic and payload into the message buffer ([`MqttError::TooLarge`] if they do
    /// not fit); call it once the runner answered the last request.
    fn copy(&self, message: &Message<'_>) -> Result<(), MqttError> {
        // Free: the runner holds it only while it serves a publish, and it answered.
        let mut buffer = self
            .message
            .try_borrow_mut()
            .map_err(|_| MqttError::NotConnected)?;
        let (topic, payload) = (message.topic.as_bytes(), message.payload);
        let slot = buffer
            .get_mut(..topic.len() + payload.len())
            .ok_or(MqttError::TooLarge)?;
        let (topic_slot, payload_slot) = slot.split_at_mut(topic.len());
        topic_slot.copy_from_slice(topic);
        payload_slot.copy_from_slice(payload);
        Ok(())
    }
}

/// The topic and payload the handle copied into `buffer` for a publish of these lengths.
pub(super) fn copied(buffer: &[u8], topic_len: usize, payload_len: usize) -> Option<(&str, &[u8])> {
    let bytes = buffer.get(..topic_len.checked_add(payload_len)?)?;
    let (topic, payload) = bytes.split_at(topic_len);
    // The handle copied a &str there.
    Some((core::str::from_utf8(topic).ok()?, payload))
}
