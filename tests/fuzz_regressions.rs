//! Inputs the fuzz targets in fuzz/ found failing, kept as tests (README "Fuzzing"): each
//! failed before its fix.

use sensorpub::Broker;

/// fuzz target `broker_parse`: `::]` (more than one `:`, so taken as a bare IPv6 address) was
/// accepted with host `::]`, which prints as `[::]]:1883`, an address `Broker::parse`
/// refuses. A stray bracket is now refused like any malformed host.
#[test]
fn a_stray_bracket_is_not_a_host() {
    for text in [
        "::]",
        "[::]]:1883",
        "a]:b:c",
        "[[::1]:1883",
        "x[:1:2",
        "[a[b]:1",
    ] {
        assert!(Broker::parse(text).is_err(), "{text:?} accepted");
    }
    // Brackets that close an IPv6 address still parse, and print back to the same broker.
    for (text, host, port) in [
        ("[::1]:1884", "::1", 1884),
        ("[::]", "::", 1883),
        ("::1", "::1", 1883),
    ] {
        let broker = Broker::parse(text).expect("a valid address");
        assert_eq!((broker.host(), broker.port()), (host, port));
        assert_eq!(Broker::parse(&broker.to_string()), Ok(broker));
    }
}

/// fuzz target `pem`: text that is not base64 was reported as `BufferTooSmall` when the
/// buffer filled before the bad character was reached, and as `Base64` with a larger
/// buffer, so enlarging the buffer "fixed" one error only to show another. The text is now
/// checked whole first: not base64 is `Base64` whatever the buffer.
#[test]
fn pem_that_is_not_base64_says_so_whatever_the_buffer() {
    use sensorpub::{PemError, pem_to_der};
    // Shaped like the fuzzer's input: a block whose body is only padding.
    let found = b"-----BEGIN =\n-----ENDXBEGIN =\n-----END X-----";
    let bad = b"-----BEGIN CERTIFICATE-----\nAQIDBAUG*\n-----END CERTIFICATE-----\n";
    for pem in [&found[..], &bad[..]] {
        for size in [0, 2, 64] {
            let mut out = vec![0u8; size];
            assert_eq!(
                pem_to_der(pem, &mut out),
                Err(PemError::Base64),
                "{size} bytes"
            );
        }
    }
    // Valid base64 that does not fit is still BufferTooSmall, and fits a larger buffer.
    let good = b"-----BEGIN CERTIFICATE-----\nAQIDBAUG\n-----END CERTIFICATE-----\n";
    assert_eq!(
        pem_to_der(good, &mut [0u8; 5]),
        Err(PemError::BufferTooSmall)
    );
    assert_eq!(
        pem_to_der(good, &mut [0u8; 6]),
        Ok(&[1u8, 2, 3, 4, 5, 6][..])
    );
}
