//! Size: `Publisher` + both sinks + the MQTT 5 transport (minimq) over TLS 1.3 (embedded-tls,
//! CA verification and a client certificate linked), as firmware links them.
//!
//! The network is a stand-in whose reads and writes the optimiser cannot see through
//! (`black_box`), so minimq's CONNECT, CONNACK, PUBLISH and PUBACK paths are all linked; a
//! real stack (embassy-net) adds its own size on top. The embassy-time driver is a stub for
//! the same reason. The RNG is a stand-in too (a chip's hardware RNG in firmware). Built only
//! with `--features tls`.
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;
use embassy_futures::block_on;
use embassy_futures::select::{Either, select};
use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttOptions, TlsBuffers, TlsOptions};
use sensorpub::{MockSensor, Publisher, SimulatedClock, Transport};
use sensorpub_size::stand_in::{Net, Ticks};
use sensorpub_size::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

embassy_time_driver::time_driver_impl!(static DRIVER: Ticks = Ticks);

/// A stand-in for the chip's hardware RNG: opaque to the optimiser, not random.
struct Rng;

impl rand_core::TryRng for Rng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(black_box(4))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(black_box(4))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(black_box(4));
        Ok(())
    }
}

impl rand_core::TryCryptoRng for Rng {}

/// The CA, the client certificate and its key: opaque bytes here.
static CA: [u8; 8] = [0x30, 0x82, 0, 0, 0, 0, 0, 0];

#[entry]
fn main() -> ! {
    let net = Net;
    let options = MqttOptions::new("apricot");
    // The same sizes as before the handle/runner split: 1024 bytes for minimq (256 to
    // receive), 256 for the message.
    let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
    // Records up to 4 KiB (max_fragment_length) plus overhead; 1 KiB out.
    let mut tls_buffers = TlsBuffers::<4_352, 1_024>::new();
    let mut rng = Rng;
    let ca = black_box(&CA[..]);
    let tls = TlsOptions::verified(ca)
        .with_client_certificate(black_box(&CA[..]), black_box(&CA[..]))
        .with_max_fragment(sensorpub::MaxFragment::B4096);
    let broker = Broker::new(black_box("broker.local"), 8883);
    let Ok((mut mqtt, mut runner)) = Mqtt5::new_tls(
        &net,
        broker,
        options,
        &mut buffers,
        tls,
        &mut tls_buffers,
        &mut rng,
    ) else {
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
