//! The X.509 reader behind TLS's name and date checks (feature `tls`), on arbitrary bytes as
//! the server's certificate and an arbitrary host: never panics (it runs before the chain is
//! trusted, on whatever the server sent); an accepted certificate's dates are real times
//! (before the year 10000); every DNS name the certificate carries is accepted as the host,
//! its common name only without alternative names; embedded-tls is told the first of them;
//! bytes after the certificate change nothing.
//!
//! The same bytes go to the chain check's reader (signature check with the certificate's own
//! key: P-256 and RSA key parsing) and its basic-constraints reading.
//!
//! Input: one byte `n`, then `n` bytes of host name (clipped), then the DER.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensorpub::fuzzing::{X509Certificate, x509_is_ca, x509_verify_self_signed};

/// 9999-12-31T23:59:59Z: the largest time X.509's encodings (four-digit years) can hold.
const LAST_SECOND: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (host, der) = rest.split_at(usize::from(n).min(rest.len()));
    let host = String::from_utf8_lossy(host);
    // The chain check's reading (signed part, signature, key: P-256 points and, with
    // `tls-rsa`, RSA moduli and exponents) and its basic-constraints reading: an answer, no
    // panic, whatever the bytes; a CA certificate carries the extension's OID (2.5.29.19).
    let _ = x509_verify_self_signed(der);
    if x509_is_ca(der) {
        assert!(
            der.windows(5).any(|w| w == [0x06, 0x03, 0x55, 0x1d, 0x13]),
            "taken as a CA without basic constraints"
        );
    }
    let Some(certificate) = X509Certificate::parse(der) else {
        return;
    };
    assert!(certificate.not_before() <= LAST_SECOND, "{certificate:?}");
    assert!(certificate.not_after() <= LAST_SECOND, "{certificate:?}");
    // Any host: an answer, no panic.
    let _ = certificate.names(&host);
    // Every plain DNS name among the subject alternative names is accepted as the host; the
    // common name only when there are none (RFC 6125 §6.4.4).
    for name in certificate.alt_dns_names().filter_map(plain) {
        assert!(
            certificate.names(name),
            "{name:?} not accepted: {certificate:?}"
        );
    }
    if let Some(name) = certificate.common_name().and_then(plain) {
        if !certificate.has_alt_names() {
            assert!(
                certificate.names(name),
                "common name {name:?}: {certificate:?}"
            );
        } else if certificate.alt_dns_names().next().is_none() {
            // Alternative names, none a DNS name: the common name does not count.
            assert!(
                !certificate.names(name),
                "common name {name:?}: {certificate:?}"
            );
        }
    }
    // embedded-tls is told the first DNS name (or the common name, with none), so that its
    // own name check passes and ours decides.
    assert_eq!(
        certificate.any_dns_name(),
        certificate
            .alt_dns_names()
            .next()
            .or(certificate.common_name()),
        "{certificate:?}"
    );
    // What follows the certificate is not read.
    let mut longer = der.to_vec();
    longer.extend_from_slice(b"\x30\x03\x02\x01\x00trailing");
    let again = X509Certificate::parse(&longer).expect("the same certificate");
    assert_eq!(
        (again.not_before(), again.not_after(), again.any_dns_name()),
        (
            certificate.not_before(),
            certificate.not_after(),
            certificate.any_dns_name()
        )
    );
});

/// `name` as text, if it is a plain DNS name: ASCII, no wildcard, no trailing dot, not an IP
/// address.
fn plain(name: &[u8]) -> Option<&str> {
    std::str::from_utf8(name).ok().filter(|name| {
        name.is_ascii()
            && !name.starts_with('*')
            && !name.ends_with('.')
            && name.parse::<std::net::IpAddr>().is_err()
    })
}
