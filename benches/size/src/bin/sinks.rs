//! Size: both sinks, without the publisher.
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use sensorpub_size::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[entry]
fn main() -> ! {
    let sample = sample();
    let json = json_sink(black_box(None));
    let thingspeak = thingspeak_sink(black_box(None));
    let mut buf = [0u8; BUF];
    loop {
        encode(&json, &sample, &mut buf);
        encode(&thingspeak, &sample, &mut buf);
    }
}
