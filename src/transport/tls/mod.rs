//! MQTT over TLS 1.3 (feature `tls`), on embedded-tls: the TCP connection opened through
//! `embedded-nal-async` is wrapped in a TLS client connection before any MQTT byte is sent.
//!
//! - [`TlsOptions`]: what to trust (a CA, or nothing: [`TlsOptions::danger_unverified`]),
//!   a wall clock for the validity dates, a client certificate, the maximum fragment length.
//! - [`TlsBuffers`]: the two record buffers, sized by the caller.
//! - [`TlsError`]: why a handshake failed, in words a person can act on.
//!
//! **What is verified** (by default; there is no way to skip it without calling
//! [`TlsOptions::danger_unverified`]): the server's chain, from the certificate it presents
//! up to the CA given (each signature), that the certificate names the broker's host (a DNS
//! name, `*.` wildcards for one label, or an IP address, in its subject alternative names),
//! and its CertificateVerify signature (the server holds the key). The signatures are checked
//! here (`chain.rs`), not by embedded-tls: ECDSA P-256 with SHA-256 always; with the
//! `tls-rsa` feature also RSA (2048 to 4096-bit keys, no heap): certificates signed with
//! sha256/384/512WithRSAEncryption, CertificateVerify rsa_pss_rsae_sha256/384/512 (PKCS#1
//! v1.5 there is refused, as TLS 1.3 requires), and chains mixing the two. Anything else
//! (P-384, Ed25519, RSA without `tls-rsa`) is [`TlsError::UnsupportedAlgorithm`]. The
//! validity dates are checked only when a clock is given ([`TlsOptions::with_clock`]): a
//! device without a wall clock (no RTC, no SNTP yet) accepts an expired or not-yet-valid
//! certificate that is otherwise trusted. Not checked: revocation, name constraints, key
//! usage, that the CA is marked as a CA.
//!
//! **Both MQTT versions, each as a handle and a runner.** embedded-tls's `TlsConnection`
//! borrows its record buffers for its whole life and cannot give them back, so every new
//! connection needs a fresh borrow of them, which only a long-running frame can take: the
//! MQTT 5 runner ([`Mqtt5::new_tls`](crate::Mqtt5::new_tls)) holds each connection in its
//! `run` frame, and so does [`Mqtt311TlsRunner`](crate::Mqtt311TlsRunner), which hands each
//! verified stream to an [`Mqtt311`](crate::Mqtt311) built for that connection alone (the
//! plain `Mqtt311` keeps its connection in the struct between calls).
//!
//! Only TLS 1.3 is spoken (embedded-tls has no TLS 1.2); a TLS 1.2-only broker is reported as
//! [`TlsError::NotTls13`]. There is no plaintext fallback.

mod chain;
mod pem;
mod resume;
mod x509;

pub use pem::{PemError, pem_to_der};
#[cfg(fuzzing)]
pub use x509::fuzzing::{
    Certificate as X509Certificate, is_ca as x509_is_ca,
    verify_self_signed as x509_verify_self_signed,
};

use chain::LeafKey;
use core::cell::Cell;
use core::fmt;
use embedded_io_async::{Read, Write};
use embedded_tls::{
    Aes128GcmSha256, Certificate, CertificateEntryRef, CertificateRef, CertificateVerifyRef,
    CryptoProvider, Sha256, SignatureScheme, TlsConfig, TlsConnection, TlsContext, TlsVerifier,
};
use resume::Resumable;
use x509::{Leaf, Signed};

/// The TLS port of MQTT (IANA "secure-mqtt").
pub const MQTT_TLS_PORT: u16 = 8883;

/// The cipher suite: TLS_AES_128_GCM_SHA256, the one every TLS 1.3 server must offer
/// (RFC 8446 §9.1).
pub(crate) type Suite = Aes128GcmSha256;

/// Seconds since 1970-01-01 UTC, or `None` while the device does not know the time yet.
pub type WallClock = fn() -> Option<u64>;

/// The largest TLS record plaintext the client asks the server for (RFC 6066 §4), so smaller
/// receive buffers suffice. Servers may ignore it (rustls does; OpenSSL-based brokers such
/// as mosquitto honour it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MaxFragment {
    /// 512 bytes.
    B512,
    /// 1024 bytes.
    B1024,
    /// 2048 bytes.
    B2048,
    /// 4096 bytes: a 4 KiB + 512 B read buffer then holds a record.
    B4096,
}

/// The TLS settings of a connection: whom to trust, and what to present.
///
/// ```
/// use sensorpub::TlsOptions;
///
/// // The CA's certificate, DER (see `pem_to_der` for PEM files).
/// static CA: &[u8] = &[0x30, 0x82 /* … */];
/// let tls = TlsOptions::verified(CA).with_clock(|| None);
/// # drop(tls);
/// ```
#[derive(Clone, Copy)]
pub struct TlsOptions<'a> {
    ca: Option<&'a [u8]>,
    clock: Option<WallClock>,
    client: Option<(&'a [u8], &'a [u8])>,
    max_fragment: Option<MaxFragment>,
}

impl<'a> TlsOptions<'a> {
    /// Verify the broker against `ca_der`, the DER certificate of the CA that signed the
    /// broker's certificate (or of an intermediate it chains to, or the broker's own
    /// self-signed one), and against the broker's host name or IP address.
    pub const fn verified(ca_der: &'a [u8]) -> Self {
        Self {
            ca: Some(ca_der),
            clock: None,
            client: None,
            max_fragment: None,
        }
    }

    /// **Insecure**: encrypt, but accept any certificate from anyone. Whoever sits between
    /// the device and the broker can read and change everything, credentials included. For a
    /// first test against a broker whose CA you do not have yet; never in a product.
    pub const fn danger_unverified() -> Self {
        Self {
            ca: None,
            clock: None,
            client: None,
            max_fragment: None,
        }
    }

    /// Check the certificates' validity dates against `clock` (Unix seconds; `None` while
    /// the time is unknown, which skips the check for that handshake).
    #[must_use]
    pub const fn with_clock(mut self, clock: WallClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Present a client certificate (mutual TLS): `certificate_der` and its ECDSA P-256
    /// private key `key_der` (SEC1 `EC PRIVATE KEY` or PKCS#8 `PRIVATE KEY`, DER).
    #[must_use]
    pub const fn with_client_certificate(
        mut self,
        certificate_der: &'a [u8],
        key_der: &'a [u8],
    ) -> Self {
        self.client = Some((certificate_der, key_der));
        self
    }

    /// Ask the server for records of at most `max` bytes of plaintext.
    #[must_use]
    pub const fn with_max_fragment(mut self, max: MaxFragment) -> Self {
        self.max_fragment = Some(max);
        self
    }

    /// Whether the broker's certificate is verified (`false` only after
    /// [`danger_unverified`](Self::danger_unverified)).
    pub const fn verifies(&self) -> bool {
        self.ca.is_some()
    }
}

// Not derived: the client's private key must not end up in a log.
impl fmt::Debug for TlsOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("verifies", &self.ca.is_some())
            .field("clock", &self.clock.is_some())
            .field("client_certificate", &self.client.is_some())
            .field("max_fragment", &self.max_fragment)
            .finish()
    }
}

/// The two TLS record buffers of one connection, caller-owned so their size is visible.
///
/// `READ` must hold the largest record the server sends: 16 640 bytes in general (2^14
/// plaintext plus overhead), or the negotiated [`MaxFragment`] plus 256 where the server
/// honours it. `WRITE` must hold the largest MQTT packet sent plus 128 bytes of record
/// overhead, and at least the ClientHello (about 300 bytes, more with a long host name).
pub struct TlsBuffers<const READ: usize, const WRITE: usize> {
    read: [u8; READ],
    write: [u8; WRITE],
}

impl<const READ: usize, const WRITE: usize> TlsBuffers<READ, WRITE> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self {
            read: [0; READ],
            write: [0; WRITE],
        }
    }

    pub(crate) fn split(&mut self) -> (&mut [u8], &mut [u8]) {
        (&mut self.read, &mut self.write)
    }
}

impl<const READ: usize, const WRITE: usize> Default for TlsBuffers<READ, WRITE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const READ: usize, const WRITE: usize> fmt::Debug for TlsBuffers<READ, WRITE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsBuffers")
            .field("read", &READ)
            .field("write", &WRITE)
            .finish()
    }
}

/// The TLS handshake with the broker failed; nothing was sent over MQTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate does not chain to the CA given: wrong CA file, or not the
    /// broker you meant.
    UntrustedCertificate,
    /// The certificate is trusted but does not name the broker's host: connect with the name
    /// (or IP) the certificate was made for.
    NameMismatch,
    /// The certificate's validity ended before the clock's time.
    CertificateExpired,
    /// The certificate's validity starts after the clock's time (or the clock is wrong).
    CertificateNotYetValid,
    /// The server does not speak TLS 1.3 (many brokers still offer only TLS 1.2).
    NotTls13,
    /// The server's certificate or signature uses an algorithm this build cannot verify:
    /// ECDSA P-256 always, RSA 2048..=4096 bits with the `tls-rsa` feature; not P-384 nor
    /// Ed25519, nor an RSA PKCS#1 v1.5 CertificateVerify (TLS 1.3 forbids it).
    UnsupportedAlgorithm,
    /// The server requires a client certificate and none was given, or refused the one given.
    ClientCertificateRefused,
    /// The CA certificate or the client key given is not valid DER.
    BadCredentials,
    /// The handshake did not finish within the connection timeout.
    HandshakeTimeout,
    /// The server ended the handshake with this TLS alert (RFC 8446 §6).
    Alert(u8),
    /// The handshake failed otherwise: the server closed the connection (a plaintext port?),
    /// sent malformed messages, or messages too large for the buffers.
    Handshake,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::UntrustedCertificate => f.write_str(
                "TLS: the broker's certificate is not signed by the CA given (wrong --ca?)",
            ),
            TlsError::NameMismatch => f.write_str(
                "TLS: the broker's certificate is not for this host name (use the name in the certificate)",
            ),
            TlsError::CertificateExpired => {
                f.write_str("TLS: the broker's certificate has expired")
            }
            TlsError::CertificateNotYetValid => {
                f.write_str("TLS: the broker's certificate is not valid yet (check the clock)")
            }
            TlsError::NotTls13 => f.write_str(
                "TLS: the broker does not speak TLS 1.3 (only 1.2 or older); enable TLS 1.3 on the broker",
            ),
            TlsError::UnsupportedAlgorithm => f.write_str(
                "TLS: the broker's certificate uses an algorithm this build cannot verify (ECDSA P-256; RSA with feature tls-rsa)",
            ),
            TlsError::ClientCertificateRefused => f.write_str(
                "TLS: the broker requires a client certificate it accepts (give --client-cert and --client-key)",
            ),
            TlsError::BadCredentials => {
                f.write_str("TLS: the CA certificate or client key is not valid DER")
            }
            TlsError::HandshakeTimeout => {
                f.write_str("TLS: the broker did not finish the handshake in time")
            }
            TlsError::Alert(code) => write!(f, "TLS: the broker ended the handshake (alert {code})"),
            TlsError::Handshake => f.write_str(
                "TLS: the handshake failed (the server closed it, or does not speak TLS on this port)",
            ),
        }
    }
}

impl core::error::Error for TlsError {}

/// embedded-tls's error, where our verifier has not said more.
fn classify(error: embedded_tls::TlsError) -> TlsError {
    use embedded_tls::TlsError as E;
    use embedded_tls::alert::AlertDescription as A;
    match error {
        E::HandshakeAborted(_, A::ProtocolVersion) => TlsError::NotTls13,
        E::HandshakeAborted(_, A::CertificateRequired | A::BadCertificate | A::UnknownCa) => {
            TlsError::ClientCertificateRefused
        }
        E::HandshakeAborted(_, alert) => TlsError::Alert(alert as u8),
        // A TLS 1.2 ServerHello: no supported_versions extension, or a legacy version.
        E::InvalidSupportedVersions | E::InvalidHandshake => TlsError::NotTls13,
        E::InvalidSignatureScheme => TlsError::UnsupportedAlgorithm,
        E::InvalidCertificate | E::InvalidSignature => TlsError::UntrustedCertificate,
        E::InvalidPrivateKey => TlsError::BadCredentials,
        _ => TlsError::Handshake,
    }
}

/// What a TLS connection tells its owner: the alert that ended it, and whether a read was
/// abandoned (see `resume.rs`). Lives beside the connection, in the runner's frame.
#[derive(Default)]
pub(crate) struct Flags {
    /// The alert that ended the connection, if one did.
    pub(crate) alert: Cell<Option<TlsError>>,
    restart: Cell<bool>,
}

/// A TLS connection that keeps the alert that ended it, and whose reads may be cancelled.
pub(crate) struct Watched<'c, S: Read + Write + 'c> {
    connection: TlsConnection<'c, Resumable<'c, S>, Suite>,
    flags: &'c Flags,
    /// A read is under way; still set when a read starts, the last one was abandoned.
    reading: bool,
}

impl<'c, S: Read + Write + 'c> Watched<'c, S> {
    fn seen<T>(
        &self,
        result: Result<T, embedded_tls::TlsError>,
    ) -> Result<T, embedded_tls::TlsError> {
        if let Err(e @ embedded_tls::TlsError::HandshakeAborted(..)) = result {
            self.flags.alert.set(Some(classify(e)));
        }
        result
    }
}

impl<'c, S: Read + Write + 'c> embedded_io_async::ErrorType for Watched<'c, S> {
    type Error = embedded_tls::TlsError;
}

impl<'c, S: Read + Write + 'c> Read for Watched<'c, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if self.reading {
            self.flags.restart.set(true);
        }
        self.reading = true;
        let result = self.connection.read(buf).await;
        self.reading = false;
        self.seen(result)
    }
}

impl<'c, S: Read + Write + 'c> Write for Watched<'c, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let result = self.connection.write(buf).await;
        self.seen(result)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        let result = self.connection.flush().await;
        self.seen(result)
    }
}

/// A rand_core 0.10 generator as the rand_core 0.6 one embedded-tls takes.
struct Randomness<'r>(&'r mut dyn rand_core::Rng);

impl rand_core_06::RngCore for Randomness<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

// Built only from a `rand_core::CryptoRng` (see `Tls::new`).
impl rand_core_06::CryptoRng for Randomness<'_> {}

/// TLS 1.3 between TCP and MQTT, with everything a connection needs besides the socket
/// (settings, record buffers, randomness): the layer of the runner
/// [`Mqtt5::new_tls`](crate::Mqtt5::new_tls) returns, `Mqtt5Runner<'b, N, TlsLayer<'b>>`.
/// Built only by `new_tls`.
pub struct Tls<'b> {
    options: TlsOptions<'b>,
    read: &'b mut [u8],
    write: &'b mut [u8],
    rng: &'b mut dyn rand_core::Rng,
}

impl<'b> Tls<'b> {
    /// The TLS side of a transport.
    pub(crate) fn new<R: rand_core::CryptoRng, const READ: usize, const WRITE: usize>(
        options: TlsOptions<'b>,
        buffers: &'b mut TlsBuffers<READ, WRITE>,
        rng: &'b mut R,
    ) -> Self {
        let (read, write) = buffers.split();
        Self {
            options,
            read,
            write,
            rng,
        }
    }

    /// Opens TLS over `socket` to `host`; on `Ok` the server is verified (unless the options
    /// say [`danger_unverified`](TlsOptions::danger_unverified)) and MQTT can start.
    ///
    /// A server that refuses the client's certificate says so only after the client finished
    /// its side of the handshake (TLS 1.3 §4.4.2.4): that alert arrives with the first read,
    /// and is kept in `flags` for the caller to report instead of an I/O error.
    pub(crate) async fn open<'c, S: Read + Write + 'c>(
        &'c mut self,
        socket: S,
        host: &str,
        flags: &'c Flags,
    ) -> Result<Watched<'c, S>, TlsError> {
        let Self {
            options,
            read,
            write,
            rng,
        } = self;
        let mut connection =
            TlsConnection::new(Resumable::new(socket, &flags.restart), read, write);
        let mut config = TlsConfig::new();
        // Offer the RSA schemes only where they are checked (PKCS#1 v1.5 is offered for
        // certificates; a CertificateVerify made with it is refused, RFC 8446 §4.4.3).
        #[cfg(feature = "tls-rsa")]
        {
            config = config.enable_rsa_signatures();
        }
        // Server Name Indication carries DNS names only (RFC 6066 §3).
        if host.parse::<core::net::IpAddr>().is_err() {
            config = config.with_server_name(host);
        }
        if let Some(max) = options.max_fragment {
            use embedded_tls::MaxFragmentLength as M;
            config = config.with_max_fragment_length(match max {
                MaxFragment::B512 => M::Bits9,
                MaxFragment::B1024 => M::Bits10,
                MaxFragment::B2048 => M::Bits11,
                MaxFragment::B4096 => M::Bits12,
            });
        }
        let mut provider = Provider {
            rng: Randomness(&mut **rng),
            verifier: options.ca.map(|ca| Verifier::new(ca, host, options.clock)),
            client: options.client,
            requested: false,
        };
        let opened = connection
            .open(TlsContext::new(&config, &mut provider))
            .await;
        // Asked for a certificate and gave none: if the connection ends before MQTT's
        // CONNACK, that is why, even when the alert is lost to a reset.
        if provider.requested && provider.client.is_none() {
            flags.alert.set(Some(TlsError::ClientCertificateRefused));
        }
        match opened {
            Ok(()) => Ok(Watched {
                connection,
                flags,
                reading: false,
            }),
            Err(e) => Err(provider
                .verifier
                .and_then(|v| v.failure)
                .unwrap_or_else(|| classify(e))),
        }
    }
}

impl fmt::Debug for Tls<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("options", &self.options)
            .field("read", &self.read.len())
            .field("write", &self.write.len())
            .finish_non_exhaustive()
    }
}

/// embedded-tls's view of our options.
struct Provider<'a, 'r> {
    rng: Randomness<'r>,
    verifier: Option<Verifier<'a>>,
    client: Option<(&'a [u8], &'a [u8])>,
    /// The server asked for a client certificate (CertificateRequest).
    requested: bool,
}

impl CryptoProvider for Provider<'_, '_> {
    type CipherSuite = Suite;
    type Signature = p256::ecdsa::DerSignature;

    fn rng(&mut self) -> impl embedded_tls::CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, embedded_tls::TlsError> {
        // No verifier: embedded-tls skips verification (`danger_unverified` only).
        self.verifier
            .as_mut()
            .ok_or(embedded_tls::TlsError::Unimplemented)
    }

    fn signer(
        &mut self,
    ) -> Result<
        (
            impl signature_trait::SignerMut<Self::Signature>,
            SignatureScheme,
        ),
        embedded_tls::TlsError,
    > {
        use p256::pkcs8::DecodePrivateKey;
        let (_, key) = self
            .client
            .ok_or(embedded_tls::TlsError::InvalidPrivateKey)?;
        let secret = p256::SecretKey::from_sec1_der(key)
            .or_else(|_| p256::SecretKey::from_pkcs8_der(key))
            .map_err(|_| embedded_tls::TlsError::InvalidPrivateKey)?;
        Ok((
            p256::ecdsa::SigningKey::from(&secret),
            SignatureScheme::EcdsaSecp256r1Sha256,
        ))
    }

    fn client_cert(&mut self) -> Option<Certificate<impl AsRef<[u8]>>> {
        // embedded-tls asks only when the server sent a CertificateRequest.
        self.requested = true;
        self.client
            .map(|(certificate, _)| Certificate::X509(certificate))
    }
}

/// The `signature` crate's traits, as embedded-tls's `CryptoProvider::signer` names them.
use p256::ecdsa::signature as signature_trait;

/// The server's chain (each signature, up to the CA), its name, its dates from a run-time
/// clock, and its CertificateVerify (`chain.rs`), with a record of which check failed.
struct Verifier<'a> {
    ca: &'a [u8],
    host: &'a str,
    clock: Option<WallClock>,
    /// The leaf's key and the transcript up to its Certificate message, between the
    /// Certificate and CertificateVerify messages.
    leaf: Option<(LeafKey, Sha256)>,
    /// Why verification failed, in our terms.
    failure: Option<TlsError>,
}

impl<'a> Verifier<'a> {
    fn new(ca: &'a [u8], host: &'a str, clock: Option<WallClock>) -> Self {
        Self {
            ca,
            host,
            clock,
            leaf: None,
            failure: None,
        }
    }

    fn fail(&mut self, why: TlsError) -> embedded_tls::TlsError {
        self.failure = Some(why);
        embedded_tls::TlsError::InvalidCertificate
    }

    /// Each certificate of the chain, from the one next to the CA down to the server's,
    /// signed by the one above it; the server's key.
    fn chain(&self, certificate: &CertificateRef<'_>) -> Result<LeafKey, TlsError> {
        let mut issuer = Signed::parse(self.ca)
            .ok_or(TlsError::UntrustedCertificate)?
            .key;
        for (index, entry) in certificate.entries.iter().enumerate().rev() {
            let CertificateEntryRef::X509(der) = entry else {
                return Err(TlsError::UntrustedCertificate);
            };
            let signed = Signed::parse(der).ok_or(TlsError::UntrustedCertificate)?;
            chain::verify_signed(&issuer, &signed)?;
            // Every certificate but the server's signs the next one down: it must be a CA's,
            // or a certificate the CA issued for any name could vouch for the broker's.
            if index > 0 && !x509::is_ca(der) {
                return Err(TlsError::UntrustedCertificate);
            }
            issuer = signed.key;
        }
        if certificate.entries.is_empty() {
            return Err(TlsError::UntrustedCertificate);
        }
        LeafKey::new(&issuer)
    }
}

impl TlsVerifier<Suite> for Verifier<'_> {
    fn set_hostname_verification(&mut self, _hostname: &str) -> Result<(), embedded_tls::TlsError> {
        // The host is ours already; the name check is `Leaf::names`.
        Ok(())
    }

    fn verify_certificate(
        &mut self,
        transcript: &Sha256,
        certificate: CertificateRef<'_>,
    ) -> Result<(), embedded_tls::TlsError> {
        let leaf = match certificate.entries.first() {
            Some(CertificateEntryRef::X509(der)) => Leaf::parse(der),
            _ => None,
        };
        let Some(leaf) = leaf else {
            return Err(self.fail(TlsError::UntrustedCertificate));
        };
        let key = match self.chain(&certificate) {
            Ok(key) => key,
            Err(why) => return Err(self.fail(why)),
        };
        if let Some(now) = self.clock.and_then(|clock| clock()) {
            if now < leaf.not_before {
                return Err(self.fail(TlsError::CertificateNotYetValid));
            }
            if now > leaf.not_after {
                return Err(self.fail(TlsError::CertificateExpired));
            }
        }
        if !leaf.names(self.host) {
            return Err(self.fail(TlsError::NameMismatch));
        }
        self.leaf = Some((key, transcript.clone()));
        Ok(())
    }

    fn verify_signature(
        &mut self,
        verify: CertificateVerifyRef<'_>,
    ) -> Result<(), embedded_tls::TlsError> {
        let Some((key, transcript)) = self.leaf.take() else {
            return Err(self.fail(TlsError::UntrustedCertificate));
        };
        // RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the transcript hash.
        let mut message = [0x20u8; 64 + 34 + 32];
        message[64..98].copy_from_slice(b"TLS 1.3, server CertificateVerify\0");
        message[98..].copy_from_slice(&signature_trait::digest::Digest::finalize(transcript));
        key.verify(verify.signature_scheme, &message, verify.signature)
            .map_err(|why| self.fail(why))
    }
}
