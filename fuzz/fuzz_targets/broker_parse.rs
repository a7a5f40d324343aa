//! `Broker::parse` (the host example's `--broker`, a user's configuration) on arbitrary
//! text: never panics, and an accepted address prints (`Display`) as text that parses back
//! to the same broker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensorpub::Broker;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(broker) = Broker::parse(text) else {
        return;
    };
    assert!(!broker.host().is_empty());
    assert_ne!(broker.port(), 0);
    let printed = broker.to_string();
    assert_eq!(
        Broker::parse(&printed).ok(),
        Some(broker),
        "{text:?} parsed as {broker:?}, printed as {printed:?}"
    );
});
