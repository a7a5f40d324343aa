//! MQTT over TLS 1.3 to the broker, compiled when `CA_FILE` was set at build time (`build.rs`
//! embeds that CA as DER and sets `cfg(tls)`).
//!
//! The broker's certificate must chain to that CA (ECDSA P-256: what sensorpub verifies without
//! an allocator) and name `BROKER`'s host. Validity dates are not checked: the firmware has no
//! wall clock. The handshakes' randomness is esp-hal's `Trng`: the radio (running since boot)
//! feeds RF noise into the RNG, which is what esp-hal requires before it hands out a `Trng`.
//! ThingSpeak, if configured, stays MQTT 3.1.1 over plain TCP.

use crate::Net;
use core::convert::Infallible;
use core::fmt;
use embedded_hal_async::i2c::I2c;
use esp_hal::rng::{Rng, Trng};
use sensorpub::{EmbassyClock, TlsBuffers, TlsOptions};
use sensorpub_station::{self as station, Buffers, Event, NodeConfig, NodeError, NodeTls};
use static_cell::ConstStaticCell;

/// The CA that signed the broker's certificate, DER (from `CA_FILE`, converted by `build.rs`).
static CA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ca.der"));

/// TLS record buffers. Reading: a whole record of up to 2^14 bytes plus overhead, since
/// servers may ignore the maximum fragment length extension. Writing: the largest MQTT packet
/// (a JSON sample, under 512 bytes) plus record overhead, and the ClientHello.
const TLS_READ: usize = 16_640;
const TLS_WRITE: usize = 1024;

/// The record buffers, in `.bss`: 17 KiB that must not pass through a task's stack.
static TLS_BUFFERS: ConstStaticCell<TlsBuffers<TLS_READ, TLS_WRITE>> =
    ConstStaticCell::new(TlsBuffers::new());

/// Why [`run`] returned.
pub enum Error {
    /// esp-hal has no true random source: the radio is not running.
    NoTrng,
    /// The node's configuration cannot work.
    Node(NodeError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoTrng => f.write_str("TLS needs the radio running for true randomness"),
            Error::Node(e) => write!(f, "{e}"),
        }
    }
}

/// [`station::run`], the broker connection over TLS with the embedded CA
/// ([`station::run_tls`]); returns only for a configuration that cannot work. Call it after
/// the Wi-Fi controller started (the `Trng` needs the radio).
pub async fn run<I: I2c>(
    net: &Net,
    bus: impl FnMut() -> I,
    clock: EmbassyClock,
    rng: Rng,
    config: &NodeConfig<'_>,
    buffers: &mut Buffers,
    report: impl FnMut(Event<'_>),
) -> Result<Infallible, Error> {
    let trng = Trng::try_new().map_err(|_| Error::NoTrng)?;
    log::info!(
        "TLS: the broker must be signed by the CA of CA_FILE ({} bytes)",
        CA.len()
    );
    let tls = NodeTls {
        options: TlsOptions::verified(CA),
        rng: trng,
        buffers: TLS_BUFFERS.take(),
    };
    station::run_tls(net, bus, clock, rng, config, tls, buffers, report)
        .await
        .map_err(Error::Node)
}
