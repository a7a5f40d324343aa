//! Size: `Publisher` + both sinks + the MQTT 5 transport (minimq), as firmware links them.
//!
//! The network is a stand-in whose reads and writes the optimiser cannot see through
//! (`black_box`), so minimq's CONNECT, CONNACK, PUBLISH and PUBACK paths are all linked; a
//! real stack (embassy-net) adds its own size on top. The embassy-time driver is a stub for
//! the same reason. Built only with `--features mqtt`, which `report.sh` turns on once the
//! crate has the transport.
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use embassy_futures::block_on;
use embassy_futures::select::{Either, select};
use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttOptions};
use sensorpub::{MockSensor, Publisher, SimulatedClock, Transport};
use sensorpub_size::stand_in::{Net, Ticks};
use sensorpub_size::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

embassy_time_driver::time_driver_impl!(static DRIVER: Ticks = Ticks);

#[entry]
fn main() -> ! {
    let net = Net;
    let options = MqttOptions::new("apricot");
    // The same sizes as before the handle/runner split: 1024 bytes for minimq (256 to
    // receive), 256 for the message.
    let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
    let broker = Broker::new(black_box("broker.local"), 1883);
    let Ok((mut mqtt, mut runner)) = Mqtt5::new(&net, broker, options, &mut buffers) else {
        fail()
    };
    let script = [Ok(sample())];
    let mut buf = [0u8; BUF];
    // The runner serves the handle for as long as the firmware publishes.
    let publishing = async {
        if mqtt.connect().await.is_err() {
            fail();
        }
        loop {
            let mut json = Publisher::new(
                MockSensor::new(&script),
                json_sink(black_box(None)),
                &mut mqtt,
                SimulatedClock::new(),
                &mut buf,
            );
            let json_sent = json.publish_once().await.is_ok();
            let mut thingspeak = Publisher::new(
                MockSensor::new(&script),
                thingspeak_sink(black_box(None)),
                &mut mqtt,
                SimulatedClock::new(),
                &mut buf,
            );
            let thingspeak_sent = thingspeak.publish_once().await.is_ok();
            black_box((json_sent, thingspeak_sent));
            let _ = black_box(mqtt.poll().await);
        }
    };
    match block_on(select(runner.run(), publishing)) {
        Either::First(never) | Either::Second(never) => never,
    }
}
