//! [`Outlet`]: where [`Publisher`](super::Publisher)'s one publish path hands each encoded
//! message, and how it waits. The plain publisher's outlet is the transport itself
//! ([`Direct`]); [`ResilientPublisher`](super::ResilientPublisher)'s queues the message and
//! keeps the connection up while it waits.

use crate::clock::Clock;
use crate::message::Message;
use crate::transport::Transport;
use embedded_hal_async::delay::DelayNs;

/// The end of the publish path. The publisher lends its transport and clock for each call,
/// so an outlet holds only its own state.
pub(crate) trait Outlet<T, C> {
    /// What the outlet can fail with.
    type Error;

    /// Takes one encoded message. `hold_ms`: how long the sink wants the next message kept
    /// back after this one (its rate limit, as it answered right after encoding this one).
    async fn send(
        &mut self,
        transport: &mut T,
        clock: &mut C,
        message: &Message<'_>,
        hold_ms: u64,
    ) -> Result<(), Self::Error>;

    /// Waits until `until_ms` on the monotonic clock, doing the outlet's upkeep meanwhile.
    async fn wait_until(
        &mut self,
        transport: &mut T,
        clock: &mut C,
        until_ms: u64,
    ) -> Result<(), Self::Error>;

    /// Every message of a sample was handed over.
    async fn sample_done(&mut self, transport: &mut T, clock: &mut C) -> Result<(), Self::Error> {
        let _ = (transport, clock);
        Ok(())
    }

    /// Returns once everything handed over has been delivered.
    async fn flush(&mut self, transport: &mut T, clock: &mut C) -> Result<(), Self::Error> {
        let _ = (transport, clock);
        Ok(())
    }
}

/// Straight to the transport: a failed message is the caller's.
pub(crate) struct Direct;

impl<T: Transport, C: Clock + DelayNs> Outlet<T, C> for Direct {
    type Error = T::Error;

    fn send(
        &mut self,
        transport: &mut T,
        _clock: &mut C,
        message: &Message<'_>,
        _hold_ms: u64,
    ) -> impl core::future::Future<Output = Result<(), T::Error>> {
        // The next message waits for the sink itself; nothing to remember here. The
        // transport's own future, not one wrapping it: one state machine less a message.
        transport.publish(message)
    }

    async fn wait_until(
        &mut self,
        _transport: &mut T,
        clock: &mut C,
        until_ms: u64,
    ) -> Result<(), T::Error> {
        let now_ms = clock.now_ms();
        delay_ms(clock, until_ms.saturating_sub(now_ms)).await;
        Ok(())
    }
}

/// Waits `ms` milliseconds, longer than `DelayNs` takes in one call included.
pub(crate) async fn delay_ms<C: DelayNs>(clock: &mut C, mut ms: u64) {
    while ms > 0 {
        let step = u32::try_from(ms).unwrap_or(u32::MAX);
        clock.delay_ms(step).await;
        ms -= u64::from(step);
    }
}
