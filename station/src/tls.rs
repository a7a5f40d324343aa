//! The node over TLS (feature `tls`): [`run_tls`] is [`run`](crate::run) with the MQTT 5
//! connection to the broker wrapped in TLS 1.3, the broker verified against a CA before any
//! MQTT byte is sent.

use crate::{Buffers, Event, NodeConfig, NodeError, mqtt_options, serve};
use core::convert::Infallible;
use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;
use embedded_nal_async::{Dns, TcpConnect};
use rand_core::{CryptoRng, Rng};
use sensorpub::{Clock, Mqtt5, TlsBuffers, TlsOptions};

/// TLS for the node's connection to the broker: what to trust, the handshakes' randomness
/// and the record buffers.
pub struct NodeTls<'a, G, const READ: usize, const WRITE: usize> {
    /// Whom to trust ([`TlsOptions::verified`] with the CA's DER certificate).
    pub options: TlsOptions<'a>,
    /// The handshakes' randomness: a cryptographic generator (on an ESP32, esp-hal's `Trng`,
    /// which draws on RF noise while the radio runs).
    pub rng: G,
    /// The two record buffers (see [`TlsBuffers`] for their sizes); put them in a `static`.
    pub buffers: &'a mut TlsBuffers<READ, WRITE>,
}

impl<G, const READ: usize, const WRITE: usize> core::fmt::Debug for NodeTls<'_, G, READ, WRITE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NodeTls")
            .field("options", &self.options)
            .field("buffers", &self.buffers)
            .finish_non_exhaustive()
    }
}

/// As [`run`](crate::run), with the JSON feed's MQTT 5 connection over TLS 1.3 as `tls`
/// says: every (re)connection opens TCP, then TLS, and sends CONNECT only once the broker's
/// certificate chains to the CA and names `config.broker`'s host. A handshake that fails
/// is a failed connection: the samples wait in the outage queue and the connection is retried
/// on the backoff schedule, as when the broker is away.
///
/// The ThingSpeak destination (MQTT 3.1.1) stays plaintext: sensorpub has no MQTT 3.1.1 over
/// TLS yet.
///
/// # Errors
/// [`NodeError`] as for [`run`](crate::run), before any I/O.
#[allow(clippy::too_many_arguments)] // as `run`, plus the TLS settings
pub async fn run_tls<N, B, I, C, R, G, F, const READ: usize, const WRITE: usize>(
    net: &N,
    bus: B,
    clock: C,
    rng: R,
    config: &NodeConfig<'_>,
    tls: NodeTls<'_, G, READ, WRITE>,
    buffers: &mut Buffers,
    report: F,
) -> Result<Infallible, NodeError>
where
    N: TcpConnect + Dns,
    B: FnMut() -> I,
    I: I2c,
    C: Clock + DelayNs + Clone,
    R: Rng + Clone,
    G: CryptoRng,
    F: FnMut(Event<'_>),
{
    let NodeTls {
        options,
        rng: mut tls_rng,
        buffers: tls_buffers,
    } = tls;
    let Buffers { mqtt5, node } = buffers;
    let (mqtt5, mut runner) = Mqtt5::new_tls(
        net,
        config.broker,
        mqtt_options(config),
        mqtt5,
        options,
        tls_buffers,
        &mut tls_rng,
    )
    .map_err(NodeError::Broker)?;
    let runner = async move { runner.run().await };
    serve(net, bus, clock, rng, config, node, mqtt5, runner, report).await
}
