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
