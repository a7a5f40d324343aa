//! Time for the publisher: a monotonic millisecond [`Clock`], plus `embedded-hal-async`'s
//! [`DelayNs`] for waiting, so no executor is baked in.
//!
//! Implement both for your platform (embassy, RTIC, tokio) or use [`SimulatedClock`] in
//! tests, where waiting advances time instantly.

use core::cell::Cell;

use crate::decimal::div_1000;
use embedded_hal_async::delay::DelayNs;

/// Monotonic time and, when known, wall-clock time.
pub trait Clock {
    /// Milliseconds since an arbitrary fixed start; never goes backwards.
    fn now_ms(&mut self) -> u64;

    /// Seconds since the Unix epoch (UTC), if the device knows the date (SNTP, an RTC).
    /// Samples are stamped with it; ThingSpeak gets it as `created_at`.
    fn unix_time(&mut self) -> Option<u64> {
        None
    }
}

impl<C: Clock + ?Sized> Clock for &mut C {
    fn now_ms(&mut self) -> u64 {
        (**self).now_ms()
    }

    fn unix_time(&mut self) -> Option<u64> {
        (**self).unix_time()
    }
}

/// A clock that only moves when something waits on it: tests run rate limits and intervals
/// of minutes in microseconds, deterministically.
///
/// `&SimulatedClock` is a clock too, so one simulated time can be shared: pass `&clock` to
/// the [`Publisher`](crate::Publisher) and to time-based filters
/// ([`Throttle`](crate::Throttle), [`Delta::with_heartbeat`](crate::Delta::with_heartbeat)),
/// and the filters see the time the publisher waits.
///
/// ```
/// use embedded_hal_async::delay::DelayNs;
/// use sensorpub::{Clock, SimulatedClock};
///
/// let mut clock = SimulatedClock::new().with_unix_time(1_700_000_000);
/// embassy_futures::block_on(clock.delay_ms(15_000));
/// assert_eq!(clock.now_ms(), 15_000);
/// assert_eq!(clock.unix_time(), Some(1_700_000_015));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimulatedClock {
    /// Whole milliseconds, and the nanoseconds past them (below 1 000 000): no 64-bit
    /// division to read the time (a library call on a 32-bit MCU). `Cell`s so that
    /// `&SimulatedClock` can advance it (shared by a publisher and filters).
    now_ms: Cell<u64>,
    sub_ms_ns: Cell<u32>,
    unix_epoch_offset: Option<u64>,
}

impl SimulatedClock {
    /// A clock at 0 ms that does not know the date.
    pub const fn new() -> Self {
        Self {
            now_ms: Cell::new(0),
            sub_ms_ns: Cell::new(0),
            unix_epoch_offset: None,
        }
    }

    /// Makes `unix_time()` return `unix_seconds` at 0 ms, advancing with the clock.
    pub const fn with_unix_time(mut self, unix_seconds: u64) -> Self {
        self.unix_epoch_offset = Some(unix_seconds);
        self
    }

    /// Moves the clock forward by `ms`.
    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get().saturating_add(ms));
    }

    fn advance_ns(&self, ns: u32) {
        let sub = self.sub_ms_ns.get() + ns % 1_000_000;
        self.sub_ms_ns.set(sub % 1_000_000);
        self.advance_ms(u64::from(ns / 1_000_000 + sub / 1_000_000));
    }

    fn ms(&self) -> u64 {
        self.now_ms.get()
    }

    fn unix(&self) -> Option<u64> {
        self.unix_epoch_offset
            .map(|offset| offset + div_1000(self.now_ms.get()))
    }
}

impl Clock for SimulatedClock {
    fn now_ms(&mut self) -> u64 {
        self.ms()
    }

    fn unix_time(&mut self) -> Option<u64> {
        self.unix()
    }
}

impl Clock for &SimulatedClock {
    fn now_ms(&mut self) -> u64 {
        self.ms()
    }

    fn unix_time(&mut self) -> Option<u64> {
        self.unix()
    }
}

impl DelayNs for SimulatedClock {
    async fn delay_ns(&mut self, ns: u32) {
        self.advance_ns(ns);
    }

    async fn delay_ms(&mut self, ms: u32) {
        self.advance_ms(u64::from(ms));
    }
}

impl DelayNs for &SimulatedClock {
    async fn delay_ns(&mut self, ns: u32) {
        self.advance_ns(ns);
    }

    async fn delay_ms(&mut self, ms: u32) {
        self.advance_ms(u64::from(ms));
    }
}

/// The clock of embassy-time: milliseconds since start, and waiting on its timer queue
/// instead of spinning.
///
/// On a device the executor provides embassy-time's driver (esp-rtos, embassy-stm32, ...); on
/// a PC, embassy-time's `std` feature does. The device knows no date, so
/// [`unix_time`](Clock::unix_time) is `None` and samples carry no timestamp.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EmbassyClock;

impl Clock for EmbassyClock {
    fn now_ms(&mut self) -> u64 {
        embassy_time::Instant::now().as_millis()
    }
}

impl DelayNs for EmbassyClock {
    async fn delay_ns(&mut self, ns: u32) {
        embassy_time::Delay.delay_ns(ns).await;
    }

    async fn delay_us(&mut self, us: u32) {
        embassy_time::Delay.delay_us(us).await;
    }

    async fn delay_ms(&mut self, ms: u32) {
        embassy_time::Delay.delay_ms(ms).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embassy_futures::block_on;

    #[test]
    fn simulated_nanoseconds_carry_into_milliseconds() {
        let mut clock = SimulatedClock::new().with_unix_time(10);
        block_on(clock.delay_ns(999_999));
        assert_eq!(clock.now_ms(), 0);
        block_on(clock.delay_ns(1));
        assert_eq!(clock.now_ms(), 1);
        block_on(clock.delay_ns(u32::MAX)); // 4 294 ms + 967 295 ns
        assert_eq!(clock.now_ms(), 4_295);
        block_on(clock.delay_ns(32_705));
        assert_eq!(clock.now_ms(), 4_296);
        assert_eq!(clock, {
            let other = SimulatedClock::new().with_unix_time(10);
            other.advance_ms(4_296);
            other
        });
        assert_eq!(clock.unix_time(), Some(14));
        clock.advance_ms(703);
        assert_eq!(clock.unix_time(), Some(14));
        clock.advance_ms(1);
        assert_eq!(clock.unix_time(), Some(15));
    }
}
