//! MQTT over TLS 1.3 against a real TLS server on 127.0.0.1: rustls in front of the
//! in-process broker (tests/common), with a CA and certificates made by rcgen at test time.
//!
//! A good CA delivers every message; a wrong CA, a wrong host name, an expired certificate
//! (with a clock), a TLS 1.2-only server and a missing client certificate each end in their
//! own [`TlsError`], and nothing reaches the broker: the TLS server opens its connection to
//! the broker only after its handshake succeeded, and the subscriber sees nothing.

mod common;
mod tls_server;

use common::{PATIENCE, TestBroker, Version};
use embassy_futures::select::{Either, select};
use sensorpub::{
    Broker, Inbox, Message, Mqtt5, Mqtt5Buffers, Mqtt311, Mqtt311Tls, Mqtt311TlsBuffers, MqttError,
    MqttOptions, QoS, Subscription, TlsBuffers, TlsError, TlsOptions, Transport,
};
use std::time::Duration;
use std_embedded_nal_async::Stack;
use tls_server::{Pki, ServerSetup, TlsFront};

const TOPIC: &str = "sensorpub/tls/value";

/// A TCP relay to `upstream` that hands the client what the server sends 3 bytes at a time,
/// 1 ms apart: every TLS record reaches the client split across segments, as on a slow link.
fn dribbling_relay(upstream: u16) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let (mut client_rx, mut client_tx) = client.into_split();
                    let (mut server_rx, mut server_tx) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut client_rx, &mut server_tx).await;
                    });
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = server_rx.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        for piece in buf[..n].chunks(3) {
                            if client_tx.write_all(piece).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                    up.abort();
                });
            }
        });
    });
    port
}

/// Runs `body` beside a transport's `runner` (which never returns) and gives body's result.
async fn beside<T>(runner: impl Future, body: impl Future<Output = T>) -> T {
    match select(runner, body).await {
        Either::First(_) => unreachable!("a runner runs for ever"),
        Either::Second(result) => result,
    }
}

fn now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Connects over MQTT 5 + TLS to `host`:`port` with `tls`, publishes `count` messages at
/// `qos`, and returns the first error.
fn publish_mqtt5(
    host: &str,
    port: u16,
    tls: TlsOptions<'_>,
    qos: QoS,
    count: usize,
) -> Result<(), MqttError> {
    let stack = Stack::default();
    let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let (mut mqtt, mut runner) = Mqtt5::new_tls(
        &stack,
        Broker::new(host, port),
        MqttOptions::new("sensorpub-tls"),
        &mut buffers,
        tls,
        &mut tls_buffers,
        &mut rng,
    )
    .expect("valid options");
    async_io::block_on(async {
        let body = async {
            mqtt.connect().await?;
            for i in 0..count {
                let payload = format!("{i}");
                let message = Message::new(TOPIC, payload.as_bytes()).with_qos(qos);
                mqtt.publish(&message).await?;
            }
            mqtt.disconnect().await;
            Ok(())
        };
        beside(runner.run(), body).await
    })
}

fn delivered_over_mqtt5(qos: QoS) {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(Version::V5),
    );
    let ca = pki.ca_der();
    let tls = TlsOptions::verified(&ca).with_clock(now);
    publish_mqtt5("localhost", front.port, tls, qos, 5).expect("delivered over TLS");
    let received = subscriber.take(5);
    let payloads: Vec<_> = received.iter().map(|m| m.payload.clone()).collect();
    let expected: Vec<Vec<u8>> = (0..5).map(|i| format!("{i}").into_bytes()).collect();
    assert_eq!(payloads, expected);
    let wire_qos = if qos == QoS::AtLeastOnce { 1 } else { 0 };
    assert!(received.iter().all(|m| m.qos == wire_qos), "{received:?}");
}

#[test]
fn good_ca_delivers_over_mqtt5_at_qos0() {
    delivered_over_mqtt5(QoS::AtMostOnce);
}

#[test]
fn good_ca_delivers_over_mqtt5_at_qos1() {
    delivered_over_mqtt5(QoS::AtLeastOnce);
}

/// The QoS 1 window over the TLS runners: 20 messages with up to 4 in flight
/// (`Transport::submit`, `next_ack`) arrive in order, and every id is acknowledged once.
#[test]
fn mqtt5_over_tls_keeps_a_qos1_window() {
    window_over_tls(Version::V5);
}

/// As [`mqtt5_over_tls_keeps_a_qos1_window`], through `Mqtt311Tls`'s runner.
#[test]
fn mqtt311_over_tls_keeps_a_qos1_window() {
    window_over_tls(Version::V311);
}

fn window_over_tls(version: Version) {
    const COUNT: usize = 20;
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(version),
    );
    let ca = pki.ca_der();
    let stack = Stack::default();
    let (host, options) = (
        Broker::new("localhost", front.port),
        MqttOptions::new("sensorpub-tls-window").with_window(4),
    );
    let tls = TlsOptions::verified(&ca).with_clock(now);
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let (submitted, acknowledged) = match version {
        Version::V5 => {
            let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
            let (mut mqtt, mut runner) = Mqtt5::new_tls(
                &stack,
                host,
                options,
                &mut buffers,
                tls,
                &mut tls_buffers,
                &mut rng,
            )
            .expect("valid options");
            async_io::block_on(async {
                let body = async {
                    let result = submit_in_window(&mut mqtt, COUNT).await;
                    mqtt.disconnect().await;
                    result
                };
                beside(runner.run(), body).await.expect("window over TLS")
            })
        }
        Version::V311 => {
            let mut buffers = Mqtt311TlsBuffers::<512, 64, 256>::new();
            let (mut mqtt, mut runner) = Mqtt311Tls::new(
                &stack,
                host,
                options,
                &mut buffers,
                tls,
                &mut tls_buffers,
                &mut rng,
            );
            async_io::block_on(async {
                let body = async {
                    let result = submit_in_window(&mut mqtt, COUNT).await;
                    mqtt.disconnect().await;
                    result
                };
                beside(runner.run(), body).await.expect("window over TLS")
            })
        }
    };
    // rumqttd acknowledges in order; each id once.
    assert_eq!(acknowledged, submitted);
    let payloads: Vec<_> = subscriber
        .take(COUNT)
        .into_iter()
        .map(|m| m.payload)
        .collect();
    let expected: Vec<Vec<u8>> = (0..COUNT).map(|i| format!("{i}").into_bytes()).collect();
    assert_eq!(payloads, expected);
}

/// Connects, submits `count` QoS 1 messages (payloads `0`, `1`, …) keeping the transport's
/// window full and waits for every acknowledgement; returns the ids submitted
/// and the ids acknowledged, in order.
async fn submit_in_window<T: Transport<Error = MqttError>>(
    mqtt: &mut T,
    count: usize,
) -> Result<(Vec<u16>, Vec<u16>), MqttError> {
    assert_eq!(mqtt.window(), 4);
    mqtt.connect().await?;
    let (mut submitted, mut acknowledged) = (Vec::new(), Vec::new());
    for i in 0..count {
        if submitted.len() - acknowledged.len() == mqtt.window() {
            acknowledged.push(mqtt.next_ack().await?);
        }
        let payload = format!("{i}");
        let message = Message::new(TOPIC, payload.as_bytes()).with_qos(QoS::AtLeastOnce);
        submitted.push(mqtt.submit(&message).await?);
    }
    while acknowledged.len() < submitted.len() {
        acknowledged.push(mqtt.next_ack().await?);
    }
    Ok((submitted, acknowledged))
}

/// Every TLS record (handshake, CONNACK, PUBACKs) arrives in 3-byte pieces: the handshake and
/// each acknowledgement still complete. (The reads the runner abandons mid-record are covered
/// by the unit tests in src/transport/tls/resume.rs: here the broker sends nothing unasked.)
#[test]
fn records_split_across_segments_are_delivered() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(Version::V5),
    );
    let relay = dribbling_relay(front.port);
    let ca = pki.ca_der();
    publish_mqtt5(
        "localhost",
        relay,
        TlsOptions::verified(&ca),
        QoS::AtLeastOnce,
        20,
    )
    .expect("delivered over a slow link");
    assert_eq!(subscriber.payloads(20).len(), 20);
}

#[test]
fn certificate_for_an_ip_address_verifies_by_ip() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        ServerSetup {
            // A DNS name too: embedded-tls's chain check insists on a name (see TlsOptions).
            certificate: pki.issue(&["127.0.0.1", "broker.example.org"], false),
            tls12_only: false,
            client_ca: None,
        },
        broker.port(Version::V5),
    );
    let ca = pki.ca_der();
    publish_mqtt5(
        "127.0.0.1",
        front.port,
        TlsOptions::verified(&ca),
        QoS::AtLeastOnce,
        1,
    )
    .expect("delivered over TLS by IP");
    assert_eq!(subscriber.payloads(1), vec![b"0".to_vec()]);
}

/// A TLS 1.3 server presenting `certificate` (and its key), no client certificates asked.
fn server_setup(certificate: (Vec<u8>, Vec<u8>)) -> ServerSetup {
    ServerSetup {
        certificate,
        tls12_only: false,
        client_ca: None,
    }
}

/// Connects with `tls` to a server set up with `setup` as `host`, over MQTT 5 and then MQTT
/// 3.1.1, expects `expected` from each, and checks that nothing reached the broker.
fn refused(setup: ServerSetup, host: &str, tls: TlsOptions<'_>, expected: TlsError) {
    for version in [Version::V5, Version::V311] {
        let broker = TestBroker::start();
        let mut subscriber = broker.subscribe("sensorpub/tls/#");
        let front = TlsFront::start(setup.clone(), broker.port(version));
        let result = match version {
            Version::V5 => publish_mqtt5(host, front.port, tls, QoS::AtLeastOnce, 1),
            Version::V311 => publish_mqtt311(host, front.port, tls, QoS::AtLeastOnce, 1),
        };
        assert_eq!(result, Err(MqttError::Tls(expected)), "{version:?}");
        assert_eq!(subscriber.next_within(Duration::from_millis(300)), None);
        assert_eq!(
            front.forwarded(),
            0,
            "{version:?}: a connection reached the broker"
        );
    }
}

#[test]
fn wrong_ca_is_an_untrusted_certificate() {
    let (pki, other) = (Pki::new(), Pki::new());
    let ca = other.ca_der();
    refused(
        server_setup(pki.issue(&["localhost"], false)),
        "localhost",
        TlsOptions::verified(&ca),
        TlsError::UntrustedCertificate,
    );
}

#[test]
fn a_chain_through_an_intermediate_ca_delivers() {
    let pki = Pki::new();
    delivered_with(
        pki.issue_via_intermediate(&["localhost"], true),
        &pki.ca_der(),
    );
}

/// A certificate the CA issued to someone else (not a CA) signs one for the broker's name:
/// the signatures all check out, but only a CA may sign a certificate.
#[test]
fn a_certificate_signed_by_a_non_ca_certificate_is_untrusted() {
    let pki = Pki::new();
    let ca = pki.ca_der();
    refused(
        server_setup(pki.issue_via_intermediate(&["localhost"], false)),
        "localhost",
        TlsOptions::verified(&ca),
        TlsError::UntrustedCertificate,
    );
}

#[test]
fn wrong_host_name_is_a_name_mismatch() {
    let pki = Pki::new();
    let ca = pki.ca_der();
    refused(
        server_setup(pki.issue(&["broker.example.org"], false)),
        "localhost",
        TlsOptions::verified(&ca),
        TlsError::NameMismatch,
    );
}

#[test]
fn ip_address_not_in_the_certificate_is_a_name_mismatch() {
    let pki = Pki::new();
    let ca = pki.ca_der();
    refused(
        server_setup(pki.issue(&["localhost"], false)),
        "127.0.0.1",
        TlsOptions::verified(&ca),
        TlsError::NameMismatch,
    );
}

#[test]
fn expired_certificate_with_a_clock_is_refused() {
    let pki = Pki::new();
    let ca = pki.ca_der();
    refused(
        server_setup(pki.issue(&["localhost"], true)),
        "localhost",
        TlsOptions::verified(&ca).with_clock(now),
        TlsError::CertificateExpired,
    );
}

#[test]
fn expired_certificate_without_a_clock_is_accepted_as_documented() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], true)),
        broker.port(Version::V5),
    );
    let ca = pki.ca_der();
    publish_mqtt5(
        "localhost",
        front.port,
        TlsOptions::verified(&ca),
        QoS::AtLeastOnce,
        1,
    )
    .expect("no clock: dates are not checked");
    assert_eq!(subscriber.payloads(1), vec![b"0".to_vec()]);
}

#[test]
fn tls12_only_server_is_not_tls13() {
    let pki = Pki::new();
    let ca = pki.ca_der();
    refused(
        ServerSetup {
            certificate: pki.issue(&["localhost"], false),
            tls12_only: true,
            client_ca: None,
        },
        "localhost",
        TlsOptions::verified(&ca),
        TlsError::NotTls13,
    );
}

#[test]
fn client_certificate_required_works_with_one() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let (pki, clients) = (Pki::new(), Pki::new());
    let front = TlsFront::start(
        ServerSetup {
            certificate: pki.issue(&["localhost"], false),
            tls12_only: false,
            client_ca: Some(clients.ca_der()),
        },
        broker.port(Version::V5),
    );
    let ca = pki.ca_der();
    let (certificate, key) = clients.issue(&["sensorpub-tls"], false);
    let tls = TlsOptions::verified(&ca).with_client_certificate(&certificate, &key);
    publish_mqtt5("localhost", front.port, tls, QoS::AtLeastOnce, 2)
        .expect("delivered with a client certificate");
    assert_eq!(subscriber.payloads(2), vec![b"0".to_vec(), b"1".to_vec()]);
}

#[test]
fn client_certificate_required_refuses_without_one() {
    let (pki, clients) = (Pki::new(), Pki::new());
    let ca = pki.ca_der();
    refused(
        ServerSetup {
            certificate: pki.issue(&["localhost"], false),
            tls12_only: false,
            client_ca: Some(clients.ca_der()),
        },
        "localhost",
        TlsOptions::verified(&ca),
        TlsError::ClientCertificateRefused,
    );
}

#[test]
fn danger_unverified_connects_to_any_certificate() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["broker.example.org"], true)),
        broker.port(Version::V5),
    );
    publish_mqtt5(
        "localhost",
        front.port,
        TlsOptions::danger_unverified().with_clock(now),
        QoS::AtMostOnce,
        1,
    )
    .expect("unverified TLS connects");
    assert_eq!(subscriber.payloads(1), vec![b"0".to_vec()]);
    let _ = PATIENCE;
}

/// Connects over MQTT 3.1.1 + TLS to `host`:`port` with `tls`, publishes `count` messages at
/// `qos`, and returns the first error.
fn publish_mqtt311(
    host: &str,
    port: u16,
    tls: TlsOptions<'_>,
    qos: QoS,
    count: usize,
) -> Result<(), MqttError> {
    let stack = Stack::default();
    let mut buffers = Mqtt311TlsBuffers::<512, 64, 256>::new();
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let (mut mqtt, mut runner) = Mqtt311Tls::new(
        &stack,
        Broker::new(host, port),
        MqttOptions::new("sensorpub-tls-311"),
        &mut buffers,
        tls,
        &mut tls_buffers,
        &mut rng,
    );
    async_io::block_on(async {
        let body = async {
            mqtt.connect().await?;
            assert!(mqtt.is_connected());
            for i in 0..count {
                let payload = format!("{i}");
                let message = Message::new(TOPIC, payload.as_bytes()).with_qos(qos);
                mqtt.publish(&message).await?;
                mqtt.poll().await?;
            }
            mqtt.disconnect().await;
            assert!(!mqtt.is_connected());
            Ok(())
        };
        beside(runner.run(), body).await
    })
}

fn delivered_over_mqtt311(qos: QoS) {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(Version::V311),
    );
    let ca = pki.ca_der();
    let tls = TlsOptions::verified(&ca).with_clock(now);
    publish_mqtt311("localhost", front.port, tls, qos, 5).expect("delivered over TLS");
    let received = subscriber.take(5);
    let payloads: Vec<_> = received.iter().map(|m| m.payload.clone()).collect();
    let expected: Vec<Vec<u8>> = (0..5).map(|i| format!("{i}").into_bytes()).collect();
    assert_eq!(payloads, expected);
    let wire_qos = if qos == QoS::AtLeastOnce { 1 } else { 0 };
    assert!(received.iter().all(|m| m.qos == wire_qos), "{received:?}");
    assert_eq!(front.forwarded(), 1);
}

#[test]
fn good_ca_delivers_over_mqtt311_at_qos0() {
    delivered_over_mqtt311(QoS::AtMostOnce);
}

#[test]
fn good_ca_delivers_over_mqtt311_at_qos1() {
    delivered_over_mqtt311(QoS::AtLeastOnce);
}

/// Records split into 3-byte pieces over MQTT 3.1.1: its reads that find nothing yet (the
/// check before each publish) are abandoned mid-record, and the stream still resumes.
#[test]
fn mqtt311_records_split_across_segments_are_delivered() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(Version::V311),
    );
    let relay = dribbling_relay(front.port);
    let ca = pki.ca_der();
    publish_mqtt311(
        "localhost",
        relay,
        TlsOptions::verified(&ca),
        QoS::AtLeastOnce,
        20,
    )
    .expect("delivered over a slow link");
    assert_eq!(subscriber.payloads(20).len(), 20);
}

#[test]
fn wrong_ca_over_mqtt311_is_refused_and_nothing_published() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let (pki, other) = (Pki::new(), Pki::new());
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(Version::V311),
    );
    let ca = other.ca_der();
    let result = publish_mqtt311(
        "localhost",
        front.port,
        TlsOptions::verified(&ca),
        QoS::AtLeastOnce,
        1,
    );
    assert_eq!(result, Err(MqttError::Tls(TlsError::UntrustedCertificate)));
    assert_eq!(subscriber.next_within(Duration::from_millis(300)), None);
    assert_eq!(front.forwarded(), 0, "a connection reached the broker");
}

/// After the broker's side closes, the next connect opens TCP and TLS again (a fresh borrow
/// of the record buffers) and publishing goes on.
#[test]
fn mqtt311_reconnects_over_a_new_tls_connection() {
    let mut broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(Version::V311),
    );
    let ca = pki.ca_der();
    let stack = Stack::default();
    let mut buffers = Mqtt311TlsBuffers::<512, 64, 256>::new();
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let (mut mqtt, mut runner) = Mqtt311Tls::new(
        &stack,
        Broker::new("localhost", front.port),
        MqttOptions::new("sensorpub-tls-311"),
        &mut buffers,
        TlsOptions::verified(&ca),
        &mut tls_buffers,
        &mut rng,
    );
    let message =
        |text: &'static str| Message::new(TOPIC, text.as_bytes()).with_qos(QoS::AtLeastOnce);
    async_io::block_on(async {
        let body = async {
            mqtt.connect().await.expect("first connection");
            mqtt.publish(&message("before"))
                .await
                .expect("first publish");
            assert_eq!(subscriber.payloads(1), vec![b"before".to_vec()]);
            // The broker drops every client; the TLS front closes its side too.
            broker.stop();
            broker.restart();
            let mut failed = false;
            for _ in 0..50 {
                if mqtt.poll().await.is_err() {
                    failed = true;
                    break;
                }
                async_io::Timer::after(Duration::from_millis(20)).await;
            }
            assert!(failed, "the closed connection was never noticed");
            assert!(!mqtt.is_connected());
            mqtt.connect().await.expect("second connection");
            mqtt.publish(&message("after"))
                .await
                .expect("publish after reconnect");
        };
        beside(runner.run(), body).await;
    });
    assert_eq!(subscriber.payloads(1), vec![b"after".to_vec()]);
    assert_eq!(front.forwarded(), 2);
}

/// MQTT 3.1.1 over TLS subscribes too: a second (plaintext) client's message reaches the
/// runner's inbox with its topic and payload.
#[test]
fn mqtt311_over_tls_receives_on_its_subscriptions() {
    let broker = TestBroker::start();
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["localhost"], false)),
        broker.port(Version::V311),
    );
    let ca = pki.ca_der();
    let stack = Stack::default();
    let mut buffers = Mqtt311TlsBuffers::<512, 128, 256>::new();
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let inbox = Inbox::<64>::new();
    let subscriptions = [Subscription::new("sensorpub/tls/cmd/+", QoS::AtLeastOnce)];
    let options = MqttOptions::new("sensorpub-tls-311-in").with_subscriptions(&subscriptions);
    let (mut mqtt, runner) = Mqtt311Tls::new(
        &stack,
        Broker::new("localhost", front.port),
        options,
        &mut buffers,
        TlsOptions::verified(&ca),
        &mut tls_buffers,
        &mut rng,
    );
    let mut runner = runner.with_inbox(&inbox);
    let plain = broker.port(Version::V311);
    async_io::block_on(async {
        let body = async {
            mqtt.connect()
                .await
                .expect("connect and subscribe over TLS");
            let (mut tx, mut rx) = ([0u8; 128], [0u8; 16]);
            let mut sender = Mqtt311::new(
                &stack,
                Broker::new("127.0.0.1", plain),
                MqttOptions::new("sensorpub-tls-sender"),
                &mut tx,
                &mut rx,
            );
            sender.connect().await.expect("sender connects");
            let command =
                Message::new("sensorpub/tls/cmd/interval", b"30").with_qos(QoS::AtLeastOnce);
            sender.publish(&command).await.expect("sender publishes");
            sender.disconnect().await;
            for _ in 0..500 {
                if !inbox.is_empty() {
                    break;
                }
                mqtt.poll().await.expect("poll");
                async_io::Timer::after(Duration::from_millis(10)).await;
            }
            mqtt.disconnect().await;
        };
        beside(runner.run(), body).await;
    });
    let received = inbox.take(|m| (m.topic.to_owned(), m.payload.to_vec(), m.qos));
    assert_eq!(
        received,
        Some((
            "sensorpub/tls/cmd/interval".into(),
            b"30".to_vec(),
            QoS::AtLeastOnce
        ))
    );
}

/// Failover over TLS: the primary (`localhost`, nothing listening) is refused, the next
/// connect goes to the fallback `127.0.0.1`, whose certificate names `127.0.0.1` and not
/// `localhost`: it verifies only if the name checked is the fallback's, not the primary's.
#[test]
fn failover_over_tls_verifies_the_fallback_by_its_own_name() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["127.0.0.1", "broker.example.org"], false)),
        broker.port(Version::V5),
    );
    let ca = pki.ca_der();
    let fallbacks = [Broker::new("127.0.0.1", front.port)];
    let stack = Stack::default();
    let mut buffers = Mqtt5Buffers::<256, 768, 256>::new();
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let (mut mqtt, mut runner) = Mqtt5::new_tls(
        &stack,
        Broker::new("localhost", common::free_port()),
        MqttOptions::new("sensorpub-tls-failover").with_fallbacks(&fallbacks),
        &mut buffers,
        TlsOptions::verified(&ca).with_clock(now),
        &mut tls_buffers,
        &mut rng,
    )
    .expect("valid options");
    let body = async {
        let refused = mqtt.connect().await;
        assert!(matches!(refused, Err(MqttError::Connect(_))), "{refused:?}");
        mqtt.connect().await.expect("the fallback, verified");
        assert_eq!(mqtt.broker(), fallbacks[0]);
        let message = Message::new(TOPIC, b"failover").with_qos(QoS::AtLeastOnce);
        mqtt.publish(&message).await.expect("acknowledged");
        mqtt.disconnect().await;
    };
    async_io::block_on(beside(runner.run(), body));
    assert_eq!(subscriber.payloads(1), vec![b"failover".to_vec()]);
    assert_eq!(front.forwarded(), 1);
}

/// MQTT 3.1.1 failover over TLS: the primary (`localhost`, nothing listening) is refused, the
/// next connect goes to the fallback `127.0.0.1` and verifies it by its own name.
#[test]
fn mqtt311_failover_over_tls_verifies_the_fallback_by_its_own_name() {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let pki = Pki::new();
    let front = TlsFront::start(
        server_setup(pki.issue(&["127.0.0.1", "broker.example.org"], false)),
        broker.port(Version::V311),
    );
    let ca = pki.ca_der();
    let fallbacks = [Broker::new("127.0.0.1", front.port)];
    let stack = Stack::default();
    let mut buffers = Mqtt311TlsBuffers::<512, 64, 256>::new();
    let mut tls_buffers = TlsBuffers::<16_640, 1024>::new();
    let mut rng = rand::rng();
    let (mut mqtt, mut runner) = Mqtt311Tls::new(
        &stack,
        Broker::new("localhost", common::free_port()),
        MqttOptions::new("sensorpub-tls-311-failover").with_fallbacks(&fallbacks),
        &mut buffers,
        TlsOptions::verified(&ca).with_clock(now),
        &mut tls_buffers,
        &mut rng,
    );
    let body = async {
        let refused = mqtt.connect().await;
        assert!(matches!(refused, Err(MqttError::Connect(_))), "{refused:?}");
        assert_eq!(mqtt.broker_index(), 0);
        mqtt.connect().await.expect("the fallback, verified");
        assert_eq!((mqtt.broker(), mqtt.broker_index()), (fallbacks[0], 1));
        let message = Message::new(TOPIC, b"failover").with_qos(QoS::AtLeastOnce);
        mqtt.publish(&message).await.expect("acknowledged");
        mqtt.disconnect().await;
    };
    async_io::block_on(beside(runner.run(), body));
    assert_eq!(subscriber.payloads(1), vec![b"failover".to_vec()]);
    assert_eq!(front.forwarded(), 1);
}

// RSA (feature `tls-rsa`): certificates from tests/fixtures/rsa (made once with openssl; see
// the README there). rustls signs CertificateVerify with rsa_pss_rsae_sha256 for an RSA key.

const RSA_CA: &[u8] = include_bytes!("fixtures/rsa/ca.der");
const OTHER_RSA_CA: &[u8] = include_bytes!("fixtures/rsa/other_ca.der");

fn rsa_server(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rsa");
    let read = |file: String| std::fs::read(format!("{dir}/{file}")).expect("fixture");
    (read(format!("{name}.der")), read(format!("{name}.key.der")))
}

/// Publishes 3 messages at QoS 1 through a server presenting `certificate`, trusting `ca`.
fn delivered_with(certificate: (Vec<u8>, Vec<u8>), ca: &[u8]) {
    let broker = TestBroker::start();
    let mut subscriber = broker.subscribe("sensorpub/tls/#");
    let front = TlsFront::start(server_setup(certificate), broker.port(Version::V5));
    let tls = TlsOptions::verified(ca).with_clock(now);
    publish_mqtt5("localhost", front.port, tls, QoS::AtLeastOnce, 3).expect("delivered");
    let received = subscriber.take(3);
    let payloads: Vec<_> = received.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(payloads, vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
    assert!(received.iter().all(|m| m.qos == 1), "{received:?}");
}

#[test]
fn rsa_ca_and_rsa_server_key_deliver_at_qos1() {
    delivered_with(rsa_server("server"), RSA_CA);
}

#[test]
fn rsa_4096_server_key_signed_with_sha384_delivers() {
    delivered_with(rsa_server("server4096"), RSA_CA);
}

#[test]
fn rsa_ca_signing_an_ecdsa_server_key_delivers() {
    delivered_with(rsa_server("ecdsa_server"), RSA_CA);
}

#[test]
fn wrong_rsa_ca_is_an_untrusted_certificate() {
    refused(
        server_setup(rsa_server("server")),
        "localhost",
        TlsOptions::verified(OTHER_RSA_CA),
        TlsError::UntrustedCertificate,
    );
}

#[test]
fn corrupted_rsa_certificate_signature_is_refused() {
    let (mut certificate, key) = rsa_server("server");
    // The signature is the certificate's last bytes.
    let last = certificate.len() - 1;
    certificate[last] ^= 0x01;
    refused(
        server_setup((certificate, key)),
        "localhost",
        TlsOptions::verified(RSA_CA),
        TlsError::UntrustedCertificate,
    );
}
