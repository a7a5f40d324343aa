//! The QoS 1 window's reads (MQTT 3.1.1): while messages are in flight, `submit` writes
//! without looking at the socket first. Their PUBACKs are read anyway (when the window is
//! full, and by `next_ack`), and a look that finds nothing costs a host a failed read and a
//! readiness registration per message (BENCHMARKS.md, "Loopback throughput").
//!
//! Counted over a real connection to the in-process broker: the network stack is
//! std-embedded-nal-async's, wrapped to count the reads given up before they completed (a
//! look at the socket that found nothing). Not a timing: the count does not depend on speed.

mod common;

use common::{TestBroker, Version};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use sensorpub::{Broker, Message, Mqtt311, MqttOptions, QoS, Transport};
use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std_embedded_nal_async::Stack;

/// std-embedded-nal-async's connection type (not exported by name).
type TcpConnection = <Stack as TcpConnect>::Connection<'static>;

/// std-embedded-nal-async's stack, counting the reads dropped before they completed.
struct CountingStack {
    inner: Stack,
    abandoned: Rc<Cell<u32>>,
}

struct CountingConnection {
    inner: TcpConnection,
    abandoned: Rc<Cell<u32>>,
}

/// Counts one abandoned read when dropped armed.
struct Armed<'c>(&'c Cell<u32>);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

impl embedded_io_async::ErrorType for CountingConnection {
    type Error = std::io::Error;
}

impl embedded_io_async::Read for CountingConnection {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let armed = Armed(&self.abandoned);
        let result = self.inner.read(buf).await;
        core::mem::forget(armed);
        result
    }
}

impl embedded_io_async::Write for CountingConnection {
    async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().await
    }
}

impl TcpConnect for CountingStack {
    type Error = std::io::Error;
    type Connection<'a> = CountingConnection;

    async fn connect(&self, remote: SocketAddr) -> std::io::Result<CountingConnection> {
        Ok(CountingConnection {
            inner: self.inner.connect(remote).await?,
            abandoned: self.abandoned.clone(),
        })
    }
}

impl Dns for CountingStack {
    type Error = std::io::Error;

    async fn get_host_by_name(&self, host: &str, addr_type: AddrType) -> std::io::Result<IpAddr> {
        self.inner.get_host_by_name(host, addr_type).await
    }

    async fn get_host_by_address(&self, addr: IpAddr, result: &mut [u8]) -> std::io::Result<usize> {
        self.inner.get_host_by_address(addr, result).await
    }
}

#[test]
fn submit_with_messages_in_flight_does_not_look_at_the_socket() {
    const COUNT: u32 = 200;
    const WINDOW: usize = 4;
    let broker = TestBroker::start();
    let abandoned = Rc::new(Cell::new(0));
    let stack = CountingStack {
        inner: Stack::default(),
        abandoned: abandoned.clone(),
    };
    let (mut tx, mut rx) = ([0u8; 256], [0u8; 64]);
    let options = MqttOptions::new("window-reads")
        .with_timeout_ms(5_000)
        .with_window(WINDOW);
    let mut mqtt = Mqtt311::new(
        &stack,
        Broker::new("127.0.0.1", broker.port(Version::V311)),
        options,
        &mut tx,
        &mut rx,
    );
    let message = Message::new("sensorpub/window/reads", b"21.53").with_qos(QoS::AtLeastOnce);
    let (sent, acked, before) = async_io::block_on(async {
        mqtt.connect().await.expect("connect");
        let before = abandoned.get();
        let (mut sent, mut acked, mut in_flight) = (0u32, 0u32, 0usize);
        while acked < COUNT {
            if sent < COUNT && in_flight < WINDOW {
                mqtt.submit(&message).await.expect("submit");
                sent += 1;
                in_flight += 1;
            } else {
                mqtt.next_ack().await.expect("acknowledgement");
                acked += 1;
                in_flight -= 1;
            }
        }
        mqtt.disconnect().await;
        (sent, acked, before)
    });
    assert_eq!((sent, acked), (COUNT, COUNT));
    // The first submit finds nothing in flight and looks (once: what it finds is handled
    // and the look ends at the first read that would wait). Every later one has messages in
    // flight. Looking before each of the 200 gave up at least 200 reads.
    let looks = abandoned.get() - before;
    assert!(
        looks <= 1,
        "{looks} reads given up during {COUNT} windowed submits"
    );
}
