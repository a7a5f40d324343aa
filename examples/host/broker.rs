//! The MQTT broker the example starts when no `--broker` is given: rumqttd, in this process,
//! with an MQTT 3.1.1 and an MQTT 5 listener on free 127.0.0.1 ports. It runs until the
//! program exits.

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long to wait for the listeners to come up.
const STARTUP: Duration = Duration::from_secs(10);

/// Ports of the embedded broker.
pub struct EmbeddedBroker {
    /// MQTT 3.1.1 listener.
    pub v311_port: u16,
    /// MQTT 5 listener.
    pub v5_port: u16,
}

/// Starts rumqttd on two free loopback ports; returns once both accept connections.
pub fn start() -> Result<EmbeddedBroker, String> {
    let v311_port = free_port()?;
    let v5_port = free_port()?;
    let config = Config {
        router: RouterConfig {
            max_connections: 16,
            max_outgoing_packet_count: 1_000,
            max_segment_size: 1 << 20,
            max_segment_count: 10,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([(
            "v311".to_owned(),
            listener("v311", v311_port),
        )])),
        v5: Some(HashMap::from([("v5".to_owned(), listener("v5", v5_port))])),
        ..Config::default()
    };
    let mut broker = rumqttd::Broker::new(config);
    std::thread::spawn(move || {
        // Returns only if every listener failed; the wait below reports that.
        let _ = broker.start();
    });
    for port in [v311_port, v5_port] {
        wait_until_listening(port)?;
    }
    Ok(EmbeddedBroker { v311_port, v5_port })
}

fn listener(name: &str, port: u16) -> ServerSettings {
    ServerSettings {
        name: name.to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 10_000,
            max_payload_size: 1 << 16,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

fn wait_until_listening(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("the embedded broker did not start on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
