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
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use cortex_m_rt::entry;
use embassy_futures::block_on;
use embassy_futures::select::{Either, select};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use sensorpub::{Broker, Mqtt5, Mqtt5Buffers, MqttOptions, TlsBuffers, TlsOptions};
use sensorpub::{MockSensor, Publisher, SimulatedClock, Transport};
use sensorpub_size::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// What the stand-in broker "sends": opaque bytes, so every parsing path stays linked.
static INCOMING: [u8; 16] = [
    0x20, 0x03, 0x00, 0x00, 0x00, 0x40, 0x02, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0,
];

struct Net;
struct Connection;

impl ErrorType for Connection {
    type Error = ErrorKind;
}

impl Read for Connection {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let incoming = black_box(&INCOMING);
        let len = black_box(buf.len().min(incoming.len()));
        buf[..len].copy_from_slice(&incoming[..len]);
        Ok(len)
    }
}

impl Write for Connection {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        consume(buf);
        Ok(black_box(buf.len()))
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl TcpConnect for Net {
    type Error = ErrorKind;
    type Connection<'a> = Connection;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Connection, ErrorKind> {
        black_box(remote);
        Ok(Connection)
    }
}

impl Dns for Net {
    type Error = ErrorKind;

    async fn get_host_by_name(&self, host: &str, _: AddrType) -> Result<IpAddr, ErrorKind> {
        black_box(host);
        Ok(IpAddr::V4(Ipv4Addr::new(127, 0, 0, black_box(1))))
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::Unsupported)
    }
}

/// embassy-time needs a driver; minimq's keep-alive and our timeouts read it.
struct Ticks;

impl embassy_time_driver::Driver for Ticks {
    fn now(&self) -> u64 {
        black_box(0)
    }

    fn schedule_wake(&self, at: u64, waker: &core::task::Waker) {
        black_box(at);
        waker.wake_by_ref();
    }
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
