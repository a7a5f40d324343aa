//! Size: both payloads with `core::fmt` `write!`: what the two sinks replace.
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
    let mut out = heapless::String::<BUF>::new();
    loop {
        fmt_json(
            &mut out,
            black_box(TEMPERATURE),
            black_box(HUMIDITY),
            black_box(None),
        );
        fmt_thingspeak(
            &mut out,
            black_box(TEMPERATURE),
            black_box(HUMIDITY),
            black_box(None),
        );
    }
}
