//! The QoS 1 window of [`Mqtt5`](super::Mqtt5): messages written without waiting for their
//! PUBACK ([`Transport::submit`]) and reported as their PUBACKs arrive
//! ([`Transport::next_ack`]).
//!
//! minimq keeps every QoS 1 PUBLISH in its transmit arena until the PUBACK with its packet id
//! arrives. It holds at most [`MINIMQ_IN_FLIGHT`] and no more than the broker's Receive
//! Maximum (its send quota); beyond either, or with no room left in the arena, it refuses
//! the next publish (`NotReady`, `InflightExhausted`, `BufferTooSmall`) and the runner waits
//! for an acknowledgement. minimq does not show packet ids: the runner keeps minimq's `Op`
//! of each submitted message under an id of its own, and reports that id once minimq holds
//! the op no more (its PUBACK arrived).
//!
//! Reconnects: the runner builds a new minimq `Session` for every connection (Clean Start),
//! so minimq never resends what a lost connection had in flight, neither out of order nor
//! twice; the caller does (the resilient publisher's queue), in order. What was in flight is
//! forgotten at every connect and after every error the handle is answered with.
//!
//! [`Transport::submit`]: crate::Transport::submit
//! [`Transport::next_ack`]: crate::Transport::next_ack

use super::error::session_error;
use super::runner::{Settings, progress};
use super::traffic::Traffic;
use crate::message::QoS;
use crate::transport::MqttError;
use crate::transport::link::copied;
use embassy_time::{Duration, Instant};
use embedded_nal_async::{Dns, TcpConnect};
use minimq::{Connection, Op, PubError, Publication};

/// How many QoS 1 messages minimq 0.13 keeps in flight (its `MAX_RETAINED`): the largest
/// window of [`Mqtt5`](super::Mqtt5).
pub(super) const MINIMQ_IN_FLIGHT: usize = 8;

/// The submitted messages not reported yet, in the order written: the runner's id for each
/// and minimq's handle of it. In [`Mqtt5Buffers`](super::Mqtt5Buffers), not in the runner's
/// future.
pub(crate) struct Flight {
    sent: heapless::Vec<(u16, Op), MINIMQ_IN_FLIGHT>,
    /// The last id given (ids are never 0: the default `submit` returns 0).
    last: u16,
}

impl Flight {
    pub(super) const fn new() -> Self {
        Self {
            sent: heapless::Vec::new(),
            last: 0,
        }
    }

    /// Forgets every submitted message (a new connection, or an error: the caller sends the
    /// unacknowledged ones again).
    pub(super) fn clear(&mut self) {
        self.sent.clear();
    }

    /// How many submitted messages minimq still holds unacknowledged.
    fn unacknowledged<IO: minimq::Io>(&self, connection: &Connection<'_, '_, IO>) -> usize {
        let held = self.sent.iter().filter(|(_, op)| connection.is_pending(op));
        held.count()
    }

    /// Keeps `op` under a new id and returns the id. An acknowledged message the caller
    /// never asked about makes room if there is none (as few are in flight as the window).
    fn push<IO: minimq::Io>(
        &mut self,
        connection: &Connection<'_, '_, IO>,
        op: Op,
    ) -> Result<u16, MqttError> {
        if self.sent.is_full() {
            let done = (self.sent.iter()).position(|(_, op)| !connection.is_pending(op));
            self.sent.remove(done.ok_or(MqttError::Protocol)?);
        }
        self.last = self.last.checked_add(1).unwrap_or(1);
        self.sent
            .push((self.last, op))
            .map_err(|_| MqttError::Protocol)?;
        Ok(self.last)
    }

    /// The id of the oldest submitted message minimq no longer holds (its PUBACK came),
    /// forgotten now; `Err` if nothing is in flight.
    fn take_acknowledged<IO: minimq::Io>(
        &mut self,
        connection: &Connection<'_, '_, IO>,
    ) -> Result<Option<u16>, MqttError> {
        if self.sent.is_empty() {
            return Err(MqttError::Protocol);
        }
        let done = (self.sent.iter()).position(|(_, op)| !connection.is_pending(op));
        Ok(done.map(|at| self.sent.remove(at).0))
    }
}

impl<N: TcpConnect + Dns> Settings<'_, N> {
    /// Writes the QoS 1 message the handle copied into the message buffer without waiting for
    /// its PUBACK, and answers its id in the link. With the window full
    /// ([`MqttOptions::with_window`](crate::MqttOptions::with_window), at most
    /// [`MINIMQ_IN_FLIGHT`]) or minimq out of room, first waits (until the acknowledgement
    /// timeout) for an acknowledgement.
    // The borrow spans the write on purpose, as in `publish`.
    #[allow(clippy::await_holding_refcell_ref)]
    pub(super) async fn submit_copied<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, '_, IO>,
        traffic: &Traffic,
        topic_len: usize,
        payload_len: usize,
        retain: bool,
    ) -> Result<(), MqttError> {
        let buffer = self.message.try_borrow().map_err(|_| MqttError::TooLarge)?;
        let (topic, payload) =
            copied(&buffer, topic_len, payload_len).ok_or(MqttError::TooLarge)?;
        if QoS::AtLeastOnce > self.options.max_qos() {
            return Err(MqttError::QosNotAllowed);
        }
        let id = self
            .submit(connection, topic, payload, retain)
            .await
            .map_err(|e| traffic.explain(e))?;
        self.link.ack.set(id);
        Ok(())
    }

    async fn submit<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, '_, IO>,
        topic: &str,
        payload: &[u8],
        retain: bool,
    ) -> Result<u16, MqttError> {
        let deadline = Instant::now() + self.ack_timeout();
        let window = self.options.window().min(MINIMQ_IN_FLIGHT);
        // One place waits (for an acknowledgement), so the wait is inlined once.
        let op = loop {
            if self.flight.borrow().unacknowledged(connection) < window {
                let mut publication =
                    Publication::bytes(topic, payload).qos(minimq::QoS::AtLeastOnce);
                if retain {
                    publication = publication.retain();
                }
                match connection.publish(publication).await {
                    Ok(Some(op)) => break op,
                    // minimq answers every QoS 1 publish with its operation.
                    Ok(None) => return Err(MqttError::Protocol),
                    // The broker's Receive Maximum, minimq's in-flight limit, or the
                    // transmit arena full of messages in flight: wait for an acknowledgement.
                    Err(PubError::Session(
                        minimq::Error::NotReady
                        | minimq::Error::Resource(minimq::ResourceError::InflightExhausted),
                    )) => {}
                    Err(PubError::Session(minimq::Error::Resource(
                        minimq::ResourceError::BufferTooSmall,
                    ))) if !connection.session().is_publish_quiescent() => {}
                    Err(PubError::Payload(())) => return Err(MqttError::TooLarge),
                    Err(PubError::Session(e)) => return Err(session_error(e, QoS::AtLeastOnce)),
                }
            }
            // The window is full, or minimq has no room: wait for an acknowledgement.
            progress(connection, deadline, self.inbox).await?;
        };
        self.flight.borrow_mut().push(connection, op)
    }

    /// Answers in the link the id of the next submitted message whose PUBACK arrived, waiting
    /// for one until the acknowledgement timeout; [`MqttError::Protocol`] if none is in
    /// flight.
    pub(super) async fn next_ack<IO: minimq::Io>(
        &self,
        connection: &mut Connection<'_, '_, IO>,
        traffic: &Traffic,
    ) -> Result<(), MqttError> {
        let deadline = Instant::now() + self.ack_timeout();
        loop {
            let acknowledged = self.flight.borrow_mut().take_acknowledged(connection)?;
            if let Some(id) = acknowledged {
                self.link.ack.set(id);
                return Ok(());
            }
            progress(connection, deadline, self.inbox)
                .await
                .map_err(|e| traffic.explain(e))?;
        }
    }

    fn ack_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.options.ack_timeout_ms()))
    }
}
