//! Size: Home Assistant discovery alone: `HaDiscovery` writing the config of each of the
//! sample's two quantities (device block, availability, expire_after), no transport.
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use sensorpub::{HaDevice, HaDiscovery, Quantity};
use sensorpub_size::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// The quantities of the sample.
const QUANTITIES: [Quantity; 2] = [Quantity::Temperature, Quantity::Humidity];

#[entry]
fn main() -> ! {
    let device = HaDevice::new(black_box(SENML_DEVICE), "Apricot")
        .with_model("Pysense 2.0")
        .with_sw_version("0.3.0");
    let discovery = HaDiscovery::new(device, JSON_TOPIC, "apricot/status", &QUANTITIES)
        .unwrap_or_else(|_| fail())
        .with_sample_period_ms(black_box(60_000));
    let mut buf = [0u8; 768];
    loop {
        for index in 0..discovery.len() {
            match discovery.config(black_box(index), &mut buf) {
                Ok(config) => {
                    consume(config.topic.as_bytes());
                    consume(config.payload);
                }
                Err(_) => fail(),
            }
        }
    }
}
