//! Size baseline: the harness every other binary has (vector table, reset, sample, output)
//! and no encoder.
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
    let mut buf = [0u8; BUF];
    loop {
        buf[0] = black_box(sample.len() as u8);
        consume(&buf);
    }
}
