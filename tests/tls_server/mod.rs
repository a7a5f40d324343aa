//! A TLS MQTT broker for tests: a rustls server on 127.0.0.1 in front of the in-process broker
//! (../common), with a CA and certificates made by rcgen at test time. Shared by tests/tls.rs
//! and station/tests/firmware_tls.rs.
#![allow(dead_code)] // each test file uses part of it

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, Issuer, KeyPair, SanType,
    date_time_ymd,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A CA and what it signs.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("CA key");
        Self {
            ca: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    pub fn ca_der(&self) -> Vec<u8> {
        self.ca.der().to_vec()
    }

    /// A certificate for `names` (DNS names and IP addresses), and its PKCS#8 key.
    pub fn issue(&self, names: &[&str], expired: bool) -> (Vec<u8>, Vec<u8>) {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.subject_alt_names = names
            .iter()
            .map(|name| match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().expect("DNS name")),
            })
            .collect();
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let issuer: &Issuer<'_, KeyPair> = &self.ca;
        let certificate = params.signed_by(&key, issuer).expect("certificate");
        (certificate.der().to_vec(), key.serialize_der())
    }

    /// A certificate for `names` signed by an intermediate certificate the CA signed, which
    /// says it is a CA (`intermediate_is_ca`) or not (an ordinary server certificate used to
    /// sign another); the chain as the server presents it (the server's certificate, then the
    /// intermediate's, DER back to back: see [`ServerSetup::certificate`]) and the key.
    pub fn issue_via_intermediate(
        &self,
        names: &[&str],
        intermediate_is_ca: bool,
    ) -> (Vec<u8>, Vec<u8>) {
        let mut params = CertificateParams::new(vec!["intermediate.example".to_owned()])
            .expect("intermediate params");
        if intermediate_is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let key = KeyPair::generate().expect("intermediate key");
        let root: &Issuer<'_, KeyPair> = &self.ca;
        let intermediate = params.signed_by(&key, root).expect("intermediate");
        let issuer = Issuer::new(params, key);
        let leaf_params = CertificateParams::new(
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>(),
        )
        .expect("params");
        let leaf_key = KeyPair::generate().expect("key");
        let leaf = leaf_params
            .signed_by(&leaf_key, &issuer)
            .expect("certificate");
        let mut chain = leaf.der().to_vec();
        chain.extend_from_slice(intermediate.der());
        (chain, leaf_key.serialize_der())
    }
}

/// DER certificates back to back, one by one.
fn split_certificates(mut der: &[u8]) -> Vec<CertificateDer<'static>> {
    let mut certificates = Vec::new();
    while !der.is_empty() {
        // A SEQUENCE: tag, then a short or long-form length.
        let (length, header) = match der[1] {
            short @ 0..0x80 => (usize::from(short), 2),
            long => {
                let count = usize::from(long & 0x7f);
                let length = der[2..2 + count]
                    .iter()
                    .fold(0, |length, &b| (length << 8) | usize::from(b));
                (length, 2 + count)
            }
        };
        let (certificate, rest) = der.split_at(header + length);
        certificates.push(CertificateDer::from(certificate.to_vec()));
        der = rest;
    }
    certificates
}

/// How the TLS server in front of the broker behaves.
#[derive(Clone)]
pub struct ServerSetup {
    /// The server's certificate and PKCS#8 key (from [`Pki::issue`]); the certificate may be
    /// a chain, DER certificates back to back, the server's first (from
    /// [`Pki::issue_via_intermediate`]).
    pub certificate: (Vec<u8>, Vec<u8>),
    /// Only TLS 1.2 is offered.
    pub tls12_only: bool,
    /// Client certificates must be signed by this CA.
    pub client_ca: Option<Vec<u8>>,
}

/// A rustls server on 127.0.0.1 that forwards each connection whose handshake succeeded to
/// the broker's MQTT 5 (or 3.1.1) port.
pub struct TlsFront {
    /// The TLS port on 127.0.0.1.
    pub port: u16,
    /// Connections forwarded to the broker (handshake succeeded).
    forwarded: Arc<AtomicUsize>,
}

impl TlsFront {
    pub fn start(setup: ServerSetup, broker_port: u16) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if setup.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13]
        };
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .expect("protocol versions");
        let builder = match setup.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots.add(CertificateDer::from(ca)).expect("client CA");
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let (certificate, key) = setup.certificate;
        let config = builder
            .with_single_cert(
                split_certificates(&certificate),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
            )
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let forwarded = Arc::new(AtomicUsize::new(0));
        let count = forwarded.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let acceptor = acceptor.clone();
                    let count = count.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let Ok(mut upstream) =
                            tokio::net::TcpStream::connect(("127.0.0.1", broker_port)).await
                        else {
                            return;
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                    });
                }
            });
        });
        Self { port, forwarded }
    }

    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::SeqCst)
    }
}
