//! [`Mqtt5`]: the MQTT 5 transport, on minimq, as a handle and a runner.
//!
//! minimq 0.13's live `Connection` borrows its `Session`, and a struct cannot hold both, so
//! the connection lives where minimq wants it: in the frame of one long-running `async fn`,
//! [`Mqtt5Runner::run`]. [`Mqtt5::new`] returns the handle (which implements [`Transport`])
//! and that runner, as embassy-net's `Stack` and `Runner`: the firmware spawns the runner as
//! a task or joins/selects it with the code that publishes, and the handle asks it to
//! connect, publish, poll and disconnect. While connected and idle, the runner reads the
//! connection, so keep-alive pings go out and a broker that closed the connection is
//! noticed without waiting for the next publish.
//!
//! One concern a file, after minimq's own `session/` layout:
//! - `handle.rs`: [`Mqtt5`], the constructor and the [`Transport`] impl the publishers use;
//! - `runner.rs`: [`Mqtt5Runner`], the connection's life (connect, serve requests, notice
//!   the end);
//! - `traffic.rs`: the I/O wrapper that tells an unanswered write (a keep-alive timeout) from
//!   a broker that closed the connection;
//! - `error.rs`: minimq's errors as [`MqttError`](crate::transport::MqttError) and
//!   [`MqttConfigError`](crate::transport::MqttConfigError).
//!
//! The handle and the runner share [`Mqtt5Buffers`]: minimq's receive and transmit buffers,
//! the message buffer and two embassy-sync `Signal`s, one for requests, one for answers.
//! Both run on one executor (`NoopRawMutex`): nothing here is `Send`, as with embassy-net.
//!
//! [`Transport`]: crate::transport::Transport

mod error;
mod handle;
mod runner;
mod traffic;
mod window;

pub use handle::Mqtt5;
pub use runner::{Mqtt5Runner, Plaintext};

use crate::transport::link::{Link, MessageBuffer, Request};
use core::cell::RefCell;
use window::Flight;

/// Every buffer of one MQTT 5 connection, caller-owned so its size is visible (put it in a
/// `static` or a `StaticCell` in firmware):
/// - `RX`: one incoming packet (256 is plenty for a publisher: CONNACK with properties,
///   PUBACK);
/// - `TX`: minimq's transmit arena: CONNECT, then each PUBLISH (topic + payload + ~16 bytes)
///   and the QoS 1 messages not acknowledged yet (with a
///   [window](crate::MqttOptions::with_window) of W, up to W of them: a message that finds
///   no room waits for an acknowledgement);
/// - `MESSAGE`: the longest topic plus payload, copied from the handle to the runner;
///
/// and the list of the QoS 1 messages in flight (with it the buffers are 108 bytes larger
/// on a 32-bit MCU).
///
/// ```
/// use sensorpub::Mqtt5Buffers;
///
/// let buffers = Mqtt5Buffers::<256, 768, 256>::new();
/// # drop(buffers);
/// ```
pub struct Mqtt5Buffers<const RX: usize, const TX: usize, const MESSAGE: usize> {
    rx: [u8; RX],
    tx: [u8; TX],
    message: RefCell<[u8; MESSAGE]>,
    link: Link,
    /// The QoS 1 messages in flight ([`Transport::submit`](crate::Transport::submit)).
    flight: RefCell<Flight>,
}

impl<const RX: usize, const TX: usize, const MESSAGE: usize> Mqtt5Buffers<RX, TX, MESSAGE> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            rx: [0; RX],
            tx: [0; TX],
            message: RefCell::new([0; MESSAGE]),
            link: Link::new(),
            flight: RefCell::new(Flight::new()),
        }
    }
}

impl<const RX: usize, const TX: usize, const MESSAGE: usize> Default
    for Mqtt5Buffers<RX, TX, MESSAGE>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const RX: usize, const TX: usize, const MESSAGE: usize> core::fmt::Debug
    for Mqtt5Buffers<RX, TX, MESSAGE>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mqtt5Buffers")
            .field("rx", &RX)
            .field("tx", &TX)
            .field("message", &MESSAGE)
            .finish()
    }
}
