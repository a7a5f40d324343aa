//! A clock and a random source for publishers under test on the host.

#![allow(dead_code)] // each test file uses what it needs

use core::convert::Infallible;
use embedded_hal_async::delay::DelayNs;
use sensorpub::Clock;
use std::time::{Duration, Instant};

/// Real time for the publisher: a real broker needs real waits (small ones).
pub struct HostClock(pub Instant);

impl Clock for HostClock {
    fn now_ms(&mut self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl DelayNs for HostClock {
    async fn delay_ns(&mut self, ns: u32) {
        async_io::Timer::after(Duration::from_nanos(u64::from(ns))).await;
    }
}

/// Randomness that is always 0: backoff without jitter, so the waits are known.
pub struct Fixed;

impl rand_core::TryRng for Fixed {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        dest.fill(0);
        Ok(())
    }
}
