//! Size: constant pieces + zmij into a byte array (the formatter the sinks
//! used before their own, src/sink/shortest.rs).
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
    let mut buf = [0u8; BUF];
    loop {
        zmij_floor(&mut buf, black_box(TEMPERATURE), black_box(HUMIDITY));
    }
}
