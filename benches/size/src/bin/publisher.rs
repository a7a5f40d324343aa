//! Size: `Publisher` + both sinks, with `MockSensor` and `MemoryTransport` (no network).
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use sensorpub_size::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

use embassy_futures::block_on;
use sensorpub::{MemoryTransport, MockSensor, Publisher, SimulatedClock};

#[entry]
fn main() -> ! {
    let script = [Ok(sample())];
    let (mut json_buf, mut ts_buf) = ([0u8; BUF], [0u8; BUF]);
    let mut json = Publisher::new(
        MockSensor::new(&script).repeating(),
        json_sink(black_box(None)),
        MemoryTransport::<1, BUF>::new(),
        SimulatedClock::new(),
        &mut json_buf,
    );
    let mut thingspeak = Publisher::new(
        MockSensor::new(&script).repeating(),
        thingspeak_sink(black_box(None)),
        MemoryTransport::<1, BUF>::new(),
        SimulatedClock::new(),
        &mut ts_buf,
    );
    loop {
        json.transport_mut().clear();
        thingspeak.transport_mut().clear();
        if block_on(json.publish_once()).is_err() || block_on(thingspeak.publish_once()).is_err() {
            fail();
        }
        consume(&json.transport().messages()[0].payload);
        consume(&thingspeak.transport().messages()[0].payload);
    }
}
