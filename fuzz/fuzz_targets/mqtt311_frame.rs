//! MQTT 3.1.1 framing of received bytes (the fixed header's Remaining Length, §2.2.3) on
//! arbitrary bytes: never panics, agrees with the specification's decoding, and gives the
//! same answer however the bytes arrived (every prefix shorter than the frame is
//! "incomplete", the frame itself is complete, more bytes after it change nothing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensorpub::MqttError;
use sensorpub::fuzzing::frame_len;

/// The specification's algorithm (§2.2.3): `None` until the length bytes are all there,
/// `Some(Err(()))` when a fifth length byte would be needed.
fn reference(bytes: &[u8]) -> Option<Result<usize, ()>> {
    let mut multiplier = 1usize;
    let mut value = 0usize;
    for index in 1..=4 {
        let byte = *bytes.get(index)?;
        value += usize::from(byte & 127) * multiplier;
        multiplier *= 128;
        if byte & 128 == 0 {
            return Some(Ok(1 + index + value));
        }
    }
    Some(Err(()))
}

fuzz_target!(|bytes: &[u8]| {
    let got = frame_len(bytes);
    match reference(bytes) {
        None => assert_eq!(got, Ok(None)),
        Some(Err(())) => assert_eq!(got, Err(MqttError::Protocol)),
        Some(Ok(total)) => {
            assert!(total <= 5 + 268_435_455);
            let complete = bytes.len() >= total;
            assert_eq!(got, Ok(complete.then_some(total)));
            if complete {
                assert_eq!(frame_len(&bytes[..total]), Ok(Some(total)));
            }
            // Arriving a byte at a time: incomplete until the whole frame is there.
            for end in 0..bytes.len().min(total) {
                assert_eq!(frame_len(&bytes[..end]), Ok(None), "prefix of {end} bytes");
            }
        }
    }
});
