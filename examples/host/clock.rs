//! Time for the publisher on a PC: `std`'s clocks and async-io's timers.

use embedded_hal_async::delay::DelayNs;
use sensorpub::Clock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Monotonic time since the program started, the date from the system clock.
pub struct HostClock {
    start: Instant,
}

impl HostClock {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for HostClock {
    fn now_ms(&mut self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn unix_time(&mut self) -> Option<u64> {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

impl DelayNs for HostClock {
    async fn delay_ns(&mut self, ns: u32) {
        async_io::Timer::after(Duration::from_nanos(u64::from(ns))).await;
    }
}
