//! sensorpub's [`Clock`] on embassy-time, whose driver esp-rtos provides: milliseconds since
//! boot, and waiting that yields to the other tasks instead of spinning.

use embassy_time::{Delay, Instant};
use embedded_hal_async::delay::DelayNs;
use sensorpub::Clock;

/// Time since boot from embassy-time. The device knows no date (no SNTP), so samples carry no
/// timestamp.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyClock;

impl Clock for EmbassyClock {
    fn now_ms(&mut self) -> u64 {
        Instant::now().as_millis()
    }
}

impl DelayNs for EmbassyClock {
    async fn delay_ns(&mut self, ns: u32) {
        Delay.delay_ns(ns).await;
    }

    async fn delay_us(&mut self, us: u32) {
        Delay.delay_us(us).await;
    }

    async fn delay_ms(&mut self, ms: u32) {
        Delay.delay_ms(ms).await;
    }
}
